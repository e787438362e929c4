"""Safety of a package that is not a BagIt bag: links, special files, hostile and colliding names.

BagIt bags have their own checks (:mod:`sip.bagit_names`, codes ``BAGIT-…``). Every other package
— a TT05 or E-ARK folder, or a ZIP once :mod:`sip.archive` has extracted it — is checked here with
the ``PKG-…`` codes, which :mod:`sip.archive` also uses for the names of ZIP entries, so one hostile
name is the same finding whether it arrived in a folder or in a ZIP.

Severities follow DESIGN.md ("Safety habits"): names that could climb out of the package, alias
another file or break tools are errors; two *files* whose names become one after Unicode NFC
normalisation or case folding are errors (one would silently replace the other when the package is
copied to macOS or Windows); two *folders* that collide are a warning (they would merge; colliding
files inside them are reported on their own); Windows-only problems and bidi controls are warnings.
"""

from __future__ import annotations

from collections.abc import Iterable

from preservation.findings import Report
from preservation.paths import PORTABILITY, UNSAFE, collisions, path_problems, printable
from sip.package import PackageTree

#: path_problems() code → finding code.
PATH_CODES = {
    "empty": "PKG-PATH-EMPTY-SEGMENT",
    "absolute": "PKG-PATH-ABSOLUTE",
    "drive-letter": "PKG-PATH-DRIVE-LETTER",
    "unc": "PKG-PATH-UNC",
    "backslash": "PKG-PATH-BACKSLASH",
    "dot-dot": "PKG-PATH-DOT-DOT",
    "dot-segment": "PKG-PATH-DOT-SEGMENT",
    "tilde": "PKG-PATH-TILDE",
    "empty-segment": "PKG-PATH-EMPTY-SEGMENT",
    "nul": "PKG-PATH-NUL",
    "control-character": "PKG-PATH-CONTROL-CHARACTER",
    "invalid-surrogate": "PKG-PATH-INVALID-ENCODING",
    "bidi-control": "PKG-PATH-BIDI-CONTROL",
    "windows-reserved": "PKG-PATH-WINDOWS-RESERVED",
    "windows-character": "PKG-PATH-WINDOWS-CHARACTER",
}
assert set(PATH_CODES) == UNSAFE | PORTABILITY


def name_problems(rel: str) -> list[str]:
    """Problems of a name that exists on disk (``rel``: its path below the package root).

    Only the last segment is judged (its parents are judged on their own), and only as text: a
    name on disk cannot climb or expand, so ``~`` is fine, and ``C:x`` is a name with a colon
    (a Windows portability warning), not a drive (unlike a path *named* by a BagIt manifest,
    which sip.bagit_names judges as a path).
    """
    name = rel.rpartition("/")[2]
    problems = [p for p in path_problems(name) if p != "tilde"]
    if "drive-letter" in problems:
        problems = [p if p != "drive-letter" else "windows-character" for p in problems]
        problems = list(dict.fromkeys(problems))
    return problems


def collision_code(kind: str, *, folders: bool) -> str:
    """The finding code for two names that collide (``kind`` as paths.collisions gives it)."""
    if folders:
        return "PKG-NAME-FOLDERS-COLLIDE"
    return "PKG-NAME-NFC-COLLISION" if kind == "nfc" else "PKG-NAME-CASE-COLLISION"


def report_collisions(report: Report, paths: Iterable[str], folders: set[str]) -> None:
    """Every pair of ``paths`` that collides (a pair of two ``folders`` is a warning)."""
    for a, b, kind in collisions(paths):
        report.add(collision_code(kind, folders=a in folders and b in folders), printable(a),
                   file=printable(a), other=printable(b))


def check_tree_safety(tree: PackageTree, report: Report) -> None:
    """Add a PKG-* finding for every link, special file, unreadable entry, unsafe name and
    colliding pair of names in ``tree`` (a package that is not a BagIt bag)."""
    listing = tree.tree
    for rel in listing.symlinks:
        report.add("PKG-SYMLINK", printable(rel), file=printable(rel))
    for rel, kind in listing.specials:
        report.add("PKG-SPECIAL-FILE", printable(rel), file=printable(rel), kind=kind)
    for rel, error in listing.unreadable:
        report.add("PKG-UNREADABLE", printable(rel), file=printable(rel), error=error)
    names = list(listing.names())
    for rel in names:
        for problem in name_problems(rel):
            report.add(PATH_CODES[problem], printable(rel), file=printable(rel))
    report_collisions(report, names, set(listing.dirs))
