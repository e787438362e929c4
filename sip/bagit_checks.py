"""The checks of one BagIt validation run (used by :func:`sip.bagit.validate_bag`).

:class:`BagValidation` takes the listing of a bag (:mod:`sip.bagit_tree`), reads its tag files
(:mod:`sip.bagit_text`), matches every path they name against the listing, hashes what must be
hashed in one pass, and records every finding in the report. Paths named by tag files are only
looked up in the listing: none is ever joined to the root or opened.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from preservation.diskmap import DiskMap
from preservation.findings import Report, Severity
from preservation.paths import printable
from sip.bagit_flat import Repeats, close, first_of, keep, mapping, merged_masks, spool
from sip.bagit_hash import Hashed
from sip.bagit_names import NameChecks
from sip.bagit_payload import Check as _Check
from sip.bagit_payload import Exact as _Exact
from sip.bagit_payload import Payload as _Payload
from sip.bagit_payload import hash_listed, may_collide, spool_checks
from sip.bagit_payload import nfc as _nfc
from sip.bagit_text import (
    Declaration,
    FetchLine,
    InfoElement,
    ManifestLine,
    iter_fetch,
    iter_manifest,
    parse_declaration,
    parse_info,
    payload_oxum,
    read_lines,
)
from sip.bagit_tree import WRITE_BATCH, ChangedError, Listed, Tree, describe_error
from sip.bagit_tree import open_listed as _open_listed

_HEX_LENGTH = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}
#: Manifest algorithms this validator verifies (those of RFC 8493 §2.4 that hashlib offers).
SUPPORTED_ALGORITHMS: tuple[str, ...] = tuple(
    a for a in _HEX_LENGTH if a in hashlib.algorithms_available)
_WEAK = frozenset({"md5", "sha1"})

#: The most read from a tag file of each kind (bytes); bigger ones are reported, not read.
MAX_DECLARATION_BYTES = 64 * 1024
MAX_INFO_BYTES = 8 * 1024 * 1024
MAX_MANIFEST_BYTES = 1024 * 1024 * 1024

_T = TypeVar("_T")
_MANIFEST_NAME = re.compile(r"^(tag)?manifest-(.+)\.txt$", re.DOTALL)


@dataclass(frozen=True)
class Outcome:
    """What a run found besides its findings."""

    declaration: Declaration
    info: list[InfoElement]
    #: payload files read without trouble, sorted by path; one pass only: each is let go as it
    #: is handed out
    payload: Iterator[Hashed]
    manifest_algorithms: tuple[str, ...]  # verified payload manifest algorithms


class BagValidation:
    """One validation run: the listing, the report, and what the tag files said."""

    def __init__(self, root: Path, tree: Tree, report: Report, compute: tuple[str, ...],
                 progress: Callable[[int], None] | None) -> None:
        self.root = root
        self.tree = tree
        self.report = report
        self.compute = compute
        self.progress = progress
        self.payload = _Payload(tree.files)
        self.not_regular = tree.not_regular()
        self.names = NameChecks(report)
        #: see _name_index: None until a manifest names a file not listed as written
        self._by_nfc: DiskMap[str] | None = None
        self._by_case: DiskMap[str] | None = None
        self.declaration = Declaration(None, None, None, "utf-8")

    # --- the steps, in order --------------------------------------------------------------------

    def run(self) -> Outcome:
        report, tree = self.report, self.tree
        self.names.listing(tree)
        declaration_file = tree.files.get("bagit.txt")
        if declaration_file is None:  # a link, a folder …: reported by the listing
            report.add("BAGIT-NOT-A-BAG", "bagit.txt", file=printable(self.root.name))
            return Outcome(self.declaration, [], iter(()), ())
        data = self.read_bytes(declaration_file, MAX_DECLARATION_BYTES)
        if data is not None:
            self.declaration = parse_declaration(data, report)
        if "data" not in tree.dirs:
            report.add("BAGIT-PAYLOAD-DIR-MISSING", "data")

        info = self.read_info()
        payload_manifests, tag_manifests = self.find_manifests()
        payload_lines = {name: self.read_manifest(name, alg)
                         for name, alg in payload_manifests.items()}
        tag_lines = {name: self.read_manifest(name, alg) for name, alg in tag_manifests.items()}
        fetch = self.read_fetch()

        fetch_targets = mapping(((f.path, None) for f in fetch), what="fetched file")
        listed, payload_checks = self.match_payload(payload_lines, fetch_targets)
        close(fetch_targets, self._by_nfc, self._by_case)
        del fetch_targets
        self._by_nfc = self._by_case = None
        self.check_unlisted(listed, list(payload_lines))
        close(*listed)
        del listed
        self.check_fetch(fetch, payload_lines)
        del fetch
        tag_checks = self.match_tags(tag_lines)
        del tag_lines
        for name in payload_lines:
            self.names.manifest_collisions(name, may_collide(payload_lines[name]))
        # every manifest line is matched: what hashing needs is in the checks now
        del payload_lines

        algorithms = sorted({alg for alg in payload_manifests.values()
                             if alg in SUPPORTED_ALGORITHMS} | set(self.compute))
        hashed = self.hash(frozenset(algorithms), tag_checks)
        self.compare(payload_checks, tag_checks, hashed)
        del payload_checks, tag_checks
        self.check_oxum(info)

        verified = tuple(sorted({a for a in payload_manifests.values()
                                 if a in SUPPORTED_ALGORITHMS}))
        return Outcome(self.declaration, info, self._hashed_payload(hashed), verified)

    def _hashed_payload(self, hashed: DiskMap[Hashed]) -> Iterator[Hashed]:
        """The payload files hashed without trouble, sorted by path (every payload file is in
        ``hashed``, which is iterated in path order); ``hashed`` is closed at the end."""
        try:
            for rel, h in hashed.items():
                if rel.startswith("data/") and h.digests:
                    yield h
        finally:
            hashed.close()

    # --- reading tag files ----------------------------------------------------------------------

    def read_bytes(self, listed: Listed, limit: int) -> bytes | None:
        if listed.size > limit:
            self.report.add("BAGIT-TAGFILE-TOO-LARGE", printable(listed.rel),
                            file=printable(listed.rel), limit=limit)
            return None
        try:
            with _open_listed(self.root, listed) as stream:
                return stream.read(limit + 1)
        except ChangedError:
            self.report.add("BAGIT-FILE-CHANGED", printable(listed.rel),
                            file=printable(listed.rel))
        except OSError as error:
            self.report.add("BAGIT-FILE-UNREADABLE", printable(listed.rel),
                            file=printable(listed.rel), error=describe_error(error))
        return None

    def parse_file(self, rel: str, limit: int, parse: Callable[[Iterable[tuple[int, str]]], _T],
                   default: _T) -> _T:
        """Open a listed tag file and parse its lines; ``default`` if it cannot be read."""
        listed = self.tree.files.get(rel)
        if listed is None:
            return default
        if listed.size > limit:
            self.report.add("BAGIT-TAGFILE-TOO-LARGE", printable(rel), file=printable(rel),
                            limit=limit)
            return default
        try:
            with _open_listed(self.root, listed) as stream:
                lines = read_lines(stream, codec=self.declaration.codec, name=printable(rel),
                                   report=self.report)
                return parse(lines)
        except ChangedError:
            self.report.add("BAGIT-FILE-CHANGED", printable(rel), file=printable(rel))
        except OSError as error:
            self.report.add("BAGIT-FILE-UNREADABLE", printable(rel), file=printable(rel),
                            error=describe_error(error))
        return default

    def read_info(self) -> list[InfoElement]:
        old = self.declaration.version_info is not None and self.declaration.version_info < (0, 96)
        name = "package-info.txt" if old else "bag-info.txt"
        return self.parse_file(
            name, MAX_INFO_BYTES,
            lambda lines: parse_info(iter(lines), name=name, declaration=self.declaration,
                                     report=self.report),
            [])

    def find_manifests(self) -> tuple[dict[str, str], dict[str, str]]:
        """Manifest file name → algorithm, for payload and tag manifests at the top level."""
        payload: dict[str, str] = {}
        tag: dict[str, str] = {}
        for rel in self.tree.files:
            match = _MANIFEST_NAME.match(rel)
            if match is None or "/" in rel:
                continue
            algorithm = match[2]
            (tag if match[1] else payload)[rel] = algorithm
            if algorithm not in SUPPORTED_ALGORITHMS:
                self.report.add("BAGIT-MANIFEST-ALGORITHM-UNSUPPORTED", printable(rel),
                                file=printable(rel), algorithm=printable(algorithm))
        supported = [a for a in payload.values() if a in SUPPORTED_ALGORITHMS]
        if not supported:
            self.report.add("BAGIT-MANIFEST-MISSING", ".",
                            algorithms=", ".join(SUPPORTED_ALGORITHMS))
        elif all(a in _WEAK for a in supported):
            weak = sorted(n for n, a in payload.items() if a in _WEAK)
            self.report.add("BAGIT-MANIFEST-ALGORITHM-WEAK", weak[0],
                            algorithms=", ".join(sorted(set(supported))))
        return payload, tag

    def read_manifest(self, name: str, algorithm: str) -> Sequence[ManifestLine]:
        """Every line of a manifest, read once (past ``KEEP`` lines in a temporary file)."""
        empty: Sequence[ManifestLine] = ()
        return self.parse_file(
            name, MAX_MANIFEST_BYTES,
            lambda lines: spool(iter_manifest(iter(lines), name=name,
                                              hex_length=_HEX_LENGTH.get(algorithm),
                                              algorithm=algorithm,
                                              declaration=self.declaration,
                                              report=self.report),
                                ManifestLine, "manifest line"),
            empty)

    def read_fetch(self) -> Sequence[FetchLine]:
        empty: Sequence[FetchLine] = ()
        return self.parse_file(
            "fetch.txt", MAX_MANIFEST_BYTES,
            lambda lines: spool(iter_fetch(iter(lines), declaration=self.declaration,
                                           report=self.report),
                                FetchLine, "fetch line"),
            empty)

    # --- matching what the tag files say against what is on disk --------------------------------

    def duplicates(self, name: str, lines: Sequence[ManifestLine]) -> None:
        """Paths listed twice; only the lines whose path may repeat are looked at exactly."""
        repeats = Repeats((entry.path for entry in lines), len(lines))
        if not repeats:
            return
        first: DiskMap[tuple[int, str]] = DiskMap(keep=keep(), what="manifest path")
        for entry in lines:
            if entry.path not in repeats:
                continue
            earlier = first.get(entry.path)
            if earlier is None:
                first[entry.path] = (entry.line, entry.checksum)
                continue
            same = earlier[1] == entry.checksum
            severity = (Severity.WARNING if same and not self.declaration.at_least(1, 0)
                        else Severity.ERROR)
            self.report.add("BAGIT-MANIFEST-DUPLICATE", name, line=entry.line, severity=severity,
                            manifest=name, file=printable(entry.path),
                            first_line=earlier[0])
        first.close()

    def match_payload(self, manifests: dict[str, Sequence[ManifestLine]],
                      fetch_targets: Container[str]
                      ) -> tuple[list[DiskMap[None]], Sequence[_Check]]:
        """Resolve every payload manifest line to a file on disk, reporting what does not.

        Returns, for each of ``manifests`` in order, the files it lists (a map iterated in
        path order), and the checksums to compare once the files are read (past ``KEEP`` in a
        temporary file).
        """
        listed: list[DiskMap[None]] = []

        def checks() -> Iterator[_Check]:
            for name, lines in manifests.items():
                algorithm = _algorithm(name)
                self.duplicates(name, lines)
                exact = _Exact(lines)
                targets: DiskMap[None] = DiskMap(keep=keep(), order="key", what="listed path")
                listed.append(targets)
                batch: list[tuple[str, None]] = []
                for entry in lines:
                    if not self.names.named(entry.path, location=name, line=entry.line):
                        continue
                    if not entry.path.startswith("data/"):
                        self.report.add("BAGIT-MANIFEST-PATH-OUTSIDE-PAYLOAD", name,
                                        line=entry.line, manifest=name,
                                        file=printable(entry.path))
                        continue
                    target = self.resolve(name, entry, exact, fetch_targets)
                    if target is None:
                        continue
                    batch.append((target, None))
                    if len(batch) >= WRITE_BATCH:
                        targets.update(batch)
                        batch.clear()
                    if entry.checksum and algorithm in SUPPORTED_ALGORITHMS:
                        yield _Check(target, algorithm, bytes.fromhex(entry.checksum), name,
                                     entry.line)
                targets.update(batch)
                exact.close()

        return listed, spool_checks(checks())

    def _name_index(self) -> tuple[DiskMap[str], DiskMap[str]]:
        """The first payload file (in sorted order) of each NFC form and of each case-folded
        NFC form; made when a manifest first names a file not listed as it is written."""
        if self._by_nfc is None or self._by_case is None:
            count = len(self.payload)
            self._by_nfc = first_of(lambda: ((_nfc(rel), rel) for rel in self.payload), count)
            self._by_case = first_of(
                lambda: ((_nfc(_nfc(rel).casefold()), rel) for rel in self.payload), count)
        return self._by_nfc, self._by_case

    def resolve(self, name: str, entry: ManifestLine, exact: Container[str],
                fetch_targets: Container[str]) -> str | None:
        """The payload file a manifest line names, or None (reported unless reported already).

        ``exact``: the paths the manifest lists."""
        path = entry.path
        if path in self.payload:
            return path
        if path in self.not_regular:
            return None  # a link, special file or folder: reported by the listing
        by_nfc, by_case = self._name_index()
        for index, key, code in ((by_nfc, _nfc(path), "BAGIT-MANIFEST-PATH-NORMALISATION"),
                                 (by_case, _nfc(_nfc(path).casefold()),
                                  "BAGIT-MANIFEST-PATH-CASE")):
            found = index.get(key)
            if found is not None:
                self.report.add(code, name, line=entry.line, manifest=name,
                                file=printable(path), found=printable(found))
                # Check its checksum too, unless the manifest also lists the real name.
                return None if found in exact else found
        if path in fetch_targets:
            return None  # reported as BAGIT-FETCH-INCOMPLETE
        self.report.add("BAGIT-MANIFEST-FILE-MISSING", name, line=entry.line, manifest=name,
                        file=printable(path))
        return None

    def check_unlisted(self, listed: list[DiskMap[None]], manifests: list[str]) -> None:
        """``listed``: what :meth:`match_payload` gave for ``manifests`` (in the same order)."""
        severity = Severity.ERROR if self.declaration.at_least(1, 0) else Severity.WARNING
        for rel, names in merged_masks(self.payload, listed):
            if not names:
                if manifests:
                    self.report.add("BAGIT-PAYLOAD-UNLISTED", printable(rel),
                                    file=printable(rel))
                continue
            for index, name in enumerate(manifests):
                if not names >> index & 1:
                    self.report.add("BAGIT-MANIFEST-INCOMPLETE", printable(rel),
                                    severity=severity, file=printable(rel), manifest=name)

    def check_fetch(self, fetch: Sequence[FetchLine],
                    manifests: dict[str, Sequence[ManifestLine]]) -> None:
        if not fetch:
            return
        exact = {name: mapping(((entry.path, None) for entry in lines), what="manifest path")
                 for name, lines in manifests.items()}
        missing = 0
        for entry in fetch:
            safe = self.names.named(entry.path, location="fetch.txt", line=entry.line)
            inside = entry.path.startswith("data/")
            if not inside:
                self.report.add("BAGIT-FETCH-PATH-OUTSIDE-PAYLOAD", "fetch.txt", line=entry.line,
                                file=printable(entry.path))
            present = self.payload.get(entry.path)
            if present is None:
                missing += 1
                self.report.add("BAGIT-FETCH-INCOMPLETE", "fetch.txt", line=entry.line,
                                file=printable(entry.path), url=printable(entry.url))
            elif entry.length is not None and entry.length != present.size:
                self.report.add("BAGIT-FETCH-LENGTH-MISMATCH", "fetch.txt", line=entry.line,
                                file=printable(entry.path), expected=entry.length,
                                actual=present.size)
            if safe and inside:
                for name, paths in exact.items():
                    if entry.path not in paths:
                        self.report.add("BAGIT-FETCH-NOT-IN-MANIFEST", "fetch.txt",
                                        line=entry.line, file=printable(entry.path),
                                        manifest=name)
        close(*exact.values())
        if not missing:
            self.report.add("BAGIT-FETCH-SATISFIED", "fetch.txt", count=len(fetch))

    def match_tags(self, manifests: dict[str, Sequence[ManifestLine]]) -> Sequence[_Check]:
        return spool_checks(self._tag_checks(manifests))

    def _tag_checks(self, manifests: dict[str, Sequence[ManifestLine]]) -> Iterator[_Check]:
        for name, lines in manifests.items():
            algorithm = _algorithm(name)
            self.duplicates(name, lines)
            for entry in lines:
                if entry.path == name:
                    self.report.add("BAGIT-TAGMANIFEST-LISTS-ITSELF", name, line=entry.line,
                                    manifest=name)
                    continue
                if not self.names.named(entry.path, location=name, line=entry.line):
                    continue
                if entry.path.startswith("data/"):
                    self.report.add("BAGIT-TAGMANIFEST-LISTS-PAYLOAD", name, line=entry.line,
                                    manifest=name, file=printable(entry.path))
                    continue
                if entry.path in self.tree.files:
                    if entry.checksum and algorithm in SUPPORTED_ALGORITHMS:
                        yield _Check(entry.path, algorithm, bytes.fromhex(entry.checksum), name,
                                     entry.line)
                elif entry.path not in self.not_regular:
                    self.report.add("BAGIT-TAGMANIFEST-FILE-MISSING", name, line=entry.line,
                                    manifest=name, file=printable(entry.path))

    # --- reading the files ----------------------------------------------------------------------

    def hash(self, payload_algorithms: frozenset[str], tag_checks: Sequence[_Check]
             ) -> DiskMap[Hashed]:
        """Read every payload file and every tag file to check once, all digests at a time.

        Every payload file shares the one set of ``payload_algorithms``; only the tag files
        (never below ``data/``) have sets of their own. The outcomes, by path (iterated in path
        order), past ``KEEP`` in a temporary file.
        """
        hashed = hash_listed(self.root, self.tree, self.payload, payload_algorithms,
                             tag_checks, self.progress)
        for rel, h in hashed.items():
            if h.changed:
                self.report.add("BAGIT-FILE-CHANGED", printable(rel), file=printable(rel))
            elif h.error is not None:
                self.report.add("BAGIT-FILE-UNREADABLE", printable(rel), file=printable(rel),
                                error=h.error)
        return hashed

    def compare(self, payload_checks: Sequence[_Check], tag_checks: Sequence[_Check],
                hashed: DiskMap[Hashed]) -> None:
        for checks, code in ((payload_checks, "BAGIT-MANIFEST-MISMATCH"),
                             (tag_checks, "BAGIT-TAGMANIFEST-MISMATCH")):
            for check in checks:
                actual = hashed[check.path].digests.get(check.algorithm)
                if actual is not None and actual != (expected := check.expected.hex()):
                    self.report.add(code, printable(check.path), file=printable(check.path),
                                    manifest=check.manifest, algorithm=check.algorithm,
                                    expected=expected, actual=actual)

    def check_oxum(self, info: list[InfoElement]) -> None:
        oxum = payload_oxum(info)
        if oxum is None:
            return
        octets, files, line = oxum
        actual_octets = sum(f.size for f in self.payload.values())
        if (octets, files) != (actual_octets, len(self.payload)):
            name = "bag-info.txt" if self.declaration.at_least(0, 96) else "package-info.txt"
            self.report.add("BAGIT-INFO-OXUM-MISMATCH", name, line=line,
                            expected_octets=octets, expected_files=files,
                            actual_octets=actual_octets, actual_files=len(self.payload))


def _algorithm(manifest_name: str) -> str:
    match = _MANIFEST_NAME.match(manifest_name)
    assert match is not None
    return match[2]
