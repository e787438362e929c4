"""Names in a bag: hostile paths, colliding names, links, special files and OS litter.

:class:`NameChecks` turns what :mod:`preservation.paths` finds into BagIt findings, once per
name and problem, whether the name came from the disk listing or from a tag file.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from preservation.findings import Report
from preservation.paths import UNSAFE, collisions, path_problems, printable
from sip.bagit_flat import flat_collisions
from sip.bagit_tree import Tree, in_sorted

PATH_CODES = {
    "empty": "BAGIT-PATH-EMPTY-SEGMENT",
    "absolute": "BAGIT-PATH-ABSOLUTE",
    "drive-letter": "BAGIT-PATH-DRIVE-LETTER",
    "unc": "BAGIT-PATH-UNC",
    "backslash": "BAGIT-PATH-BACKSLASH",
    "dot-dot": "BAGIT-PATH-DOT-DOT",
    "dot-segment": "BAGIT-PATH-DOT-SEGMENT",
    "tilde": "BAGIT-PATH-TILDE",
    "empty-segment": "BAGIT-PATH-EMPTY-SEGMENT",
    "nul": "BAGIT-PATH-NUL",
    "control-character": "BAGIT-PATH-CONTROL-CHARACTER",
    "invalid-surrogate": "BAGIT-PATH-INVALID-ENCODING",
    "bidi-control": "BAGIT-PATH-BIDI-CONTROL",
    "windows-reserved": "BAGIT-PATH-WINDOWS-RESERVED",
    "windows-character": "BAGIT-PATH-WINDOWS-CHARACTER",
}
#: Path problems after which a path named by a tag file is not looked up in the listing.
NOT_LOOKED_UP = UNSAFE - {"nul", "control-character", "invalid-surrogate"}
#: Files and folders that operating systems and office software leave behind.
_SYSTEM_NAMES = {n.casefold(): n for n in (
    ".DS_Store", "Thumbs.db", "ehthumbs.db", "desktop.ini", ".Spotlight-V100", ".Trashes",
    ".fseventsd", ".TemporaryItems", "__MACOSX")}
_SYSTEM_PREFIXES = ("._", "~$")  # AppleDouble files; Microsoft Office lock files


def lookup_allowed(path: str) -> bool:
    """Whether a path named by a tag file may be looked up in the listing at all."""
    return not any(p in NOT_LOOKED_UP for p in path_problems(path))


class NameChecks:
    """Report each name problem once, with the location it was first seen at."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self._seen: set[tuple[str, str]] = set()

    def listing(self, tree: Tree) -> None:
        """Links, special files, unreadable folders, hostile names, empty folders, OS litter,
        and names on disk that collide."""
        report = self.report
        for rel in tree.symlinks:
            report.add("BAGIT-SYMLINK", printable(rel), file=printable(rel))
        for rel, kind in tree.specials:
            report.add("BAGIT-SPECIAL-FILE", printable(rel), file=printable(rel), kind=kind)
        for rel, error in tree.unreadable:
            report.add("BAGIT-FILE-UNREADABLE", printable(rel), file=printable(rel), error=error)
        for rel in tree.names():
            # A name on disk cannot climb or expand; only what it is as text matters.
            parent, _, name = rel.rpartition("/")
            problems = [p for p in path_problems(name) if p != "tilde"]
            if parent and "drive-letter" in problems:  # "C:x" below the top is just a colon
                problems = [p if p != "drive-letter" else "windows-character" for p in problems]
            for problem in problems:
                self._problem(problem, rel, location=printable(rel), line=None)
        for rel in tree.empty_dirs:
            if rel.startswith("data/"):
                report.add("BAGIT-PAYLOAD-EMPTY-DIR", printable(rel), file=printable(rel))
        for rel in itertools.chain(tree.files, tree.dirs):
            if rel.startswith("data/"):
                name = rel.rpartition("/")[2]
                known = _SYSTEM_NAMES.get(name.casefold())
                if known is None and name.startswith(_SYSTEM_PREFIXES):
                    known = name[:2] + "…"
                if known is not None:
                    report.add("BAGIT-PAYLOAD-SYSTEM-FILE", printable(rel), file=printable(rel),
                               name=known)
        folders = tree.dirs  # sorted
        for a, b, kind in flat_collisions(tree.names, tree.count()):
            self._collision(a, b, kind, location=printable(a), line=None,
                            folders=in_sorted(folders, a) and in_sorted(folders, b))

    def named(self, path: str, *, location: str, line: int) -> bool:
        """Report the problems of a path a tag file names; False if it must not be looked up.

        Paths are only ever looked up in the listing, so a hostile one cannot reach anything;
        the ones that point elsewhere (absolute, ``..``, ``~``, Windows forms) or are not in
        plain form are not looked up at all, so they are reported once rather than again as
        missing. A name that is merely hostile text (control characters, bad bytes) is looked up.
        """
        problems = path_problems(path)
        for problem in problems:
            self._problem(problem, path, location=location, line=line)
        return not any(p in NOT_LOOKED_UP for p in problems)

    def manifest_collisions(self, name: str, entries: Iterable[tuple[str, int]]) -> None:
        """Paths one manifest lists that collide (``entries``: path and line)."""
        line_of: dict[str, int] = {}
        for path, line in entries:
            if lookup_allowed(path):
                line_of.setdefault(path, line)
        for a, b, kind in collisions(line_of):
            self._collision(a, b, kind, location=name, line=line_of[b])

    def _problem(self, problem: str, path: str, *, location: str, line: int | None) -> None:
        if (problem, path) in self._seen:
            return
        self._seen.add((problem, path))
        self.report.add(PATH_CODES[problem], location, line=line, file=printable(path))

    def _collision(self, a: str, b: str, kind: str, *, location: str, line: int | None,
                   folders: bool = False) -> None:
        """Two names that would become one: an error for files (one would replace the other),
        a warning for folders (they would merge; colliding files inside are reported on their
        own) and for case (legal here; a problem only for copies on Windows or macOS)."""
        key = (f"collision-{kind}", f"{a}\0{b}")
        if key in self._seen:
            return
        self._seen.add(key)
        if kind != "nfc":
            code = "BAGIT-PATH-CASE-COLLISION"
        elif folders:
            code = "BAGIT-PATH-NORMALISATION-FOLDERS"
        else:
            code = "BAGIT-PATH-NORMALISATION-COLLISION"
        self.report.add(code, location, line=line, file=printable(a), other=printable(b))

