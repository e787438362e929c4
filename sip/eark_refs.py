"""The generic reference checks of an E-ARK (or TT05) package, run once over every METS file.

Every ``mdRef``, ``FLocat`` and ``mptr`` collected by the rule modules is resolved against the
package listing (never joined to the file system: :meth:`PackageTree.resolve`), then checked for
existence, declared SIZE and CHECKSUM. Files are hashed through the :class:`PackageTree`, one read
per file: SHA-256 for the whole package at once when any reference declares it (ingest needs it
anyway), other algorithms only for the files that declare them. Finally every listed file that no
METS file references is an orphan.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator

from preservation.diskmap import DiskMap
from preservation.findings import Report, Severity
from preservation.findings_spool import RecordSpool
from preservation.paths import printable
from preservation.spooled import KEEP as SPOOL_KEEP
from preservation.spooled import SpoolError
from sip.bagit_tree import ChangedError
from sip.eark_model import REFERENCE_RULES, EarkFile, MetsDoc, Reference
from sip.package import ALGORITHMS, PackageTree
from sip.sorted_lookup import SortedLookup

log = logging.getLogger(__name__)

#: files up to this size are re-read to see whether only their line endings changed
LINE_ENDING_LIMIT = 16 * 1024 * 1024
_BARE_LF = re.compile(rb"(?<!\r)\n")
#: referenced paths kept in memory (the rest in a DiskMap's database); a test may lower it
KEEP = SPOOL_KEEP


def _algorithm(name: str | None) -> str | None:
    if name is None:
        return None
    return ALGORITHMS.get(name.strip().upper())


def is_content(rel: str) -> bool:
    """Whether a package path is content: ``representations/<rep>/data/...``."""
    parts = rel.split("/")
    return len(parts) >= 4 and parts[0] == "representations" and parts[2] == "data"


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # the METS schema reports a SIZE that is not an integer


class ReferenceCheck:
    """Resolve, hash and compare the references of all METS files of one package."""

    def __init__(self, tree: PackageTree, report: Report, *,
                 tolerate_line_endings: bool = False) -> None:
        self.tree = tree
        self.report = report
        self.tolerate_line_endings = tolerate_line_endings
        #: every listed file some reference names (a set: the values are None), by path
        self.referenced: DiskMap[None] = DiskMap(keep=KEEP, order="key", what="referenced file",
                                                 buffer=1024)
        self._missing: set[str] = set()  # resolved paths already reported as not found
        self._folded: dict[str, list[str]] | None = None

    def _case_match(self, path: str) -> str | None:
        if self._folded is None:
            self._folded = defaultdict(list)
            for rel in self.tree.files:
                self._folded[rel.casefold()].append(rel)
        matches = self._folded.get(path.casefold(), [])
        return matches[0] if len(matches) == 1 else None

    def target(self, doc: MetsDoc, href: str) -> str | None:
        """The package path ``href`` (from ``doc``) names — the listed file (matched as
        :meth:`resolve` does), else the resolved path of a missing file; None when unsafe.
        Reports nothing."""
        resolved = self.tree.resolve(doc.base, href)
        if resolved.path is None:
            return None
        return (self.tree.find_nfc(resolved.path) or self._case_match(resolved.path)
                or resolved.path)

    def targets(self, doc: MetsDoc) -> set[str]:
        """Every package path the references of ``doc`` name (see :meth:`target`)."""
        found = (self.target(doc, ref.href) for ref in doc.references)
        return {path for path in found if path is not None}

    def resolve(self, ref: Reference) -> str | None:
        """The listed file ``ref`` points to, or None after a finding.

        A missing file is reported once, at its first reference (a representation METS named by
        both a ``FLocat`` and an ``mptr`` is one missing file)."""
        href_req = REFERENCE_RULES[ref.section][0]
        doc = ref.doc
        resolved = self.tree.resolve(doc.base, ref.href)
        if resolved.path is None:
            if "not-local" in resolved.problems:
                doc.add(f"{href_req}-HREF-NOT-LOCAL", ref.element, href=printable(ref.href))
            else:
                doc.add(f"{href_req}-HREF-UNSAFE", ref.element, href=printable(ref.href),
                        problems=", ".join(resolved.problems))
            return None
        rel = self.tree.find_nfc(resolved.path)
        if rel is None:
            rel = self._case_match(resolved.path)
            if rel is None:
                if resolved.path not in self._missing:
                    self._missing.add(resolved.path)
                    doc.add(f"{href_req}-HREF-NOT-FOUND", ref.element, href=printable(ref.href))
                return None
            doc.add("EARK-HREF-CASE-MISMATCH", ref.element, href=printable(ref.href),
                    actual=printable(rel))
        self.referenced[rel] = None
        return rel

    def run(self, docs: Iterable[MetsDoc], *, collect: bool = True) -> list[EarkFile]:
        """Check every reference of ``docs``; the referenced files (none unless ``collect``).

        The references found are kept on disk, with each one's METS file, between the pass that
        resolves them and the one that compares them with the files' bytes."""
        docs = list(docs)
        entries = RecordSpool("resolved reference", SpoolError)
        wanted: dict[str, set[str]] = defaultdict(set)
        try:
            for number, doc in enumerate(docs):
                for index, ref in enumerate(doc.references):
                    rel = self.resolve(ref)
                    if rel is None:
                        continue
                    entries.append((number, index, rel))
                    algorithm = _algorithm(ref.owner.get("CHECKSUMTYPE"))
                    if algorithm is not None and ref.owner.get("CHECKSUM") is not None:
                        if algorithm == "sha256":
                            wanted.setdefault(algorithm, set())
                        else:
                            wanted[algorithm].add(rel)
            self._hash(wanted)
            files: list[EarkFile] = []
            for ref, rel in self._entries(docs, entries):
                found = self._compare(ref, rel, collect)
                if found is not None:
                    files.append(found)
        finally:
            entries.close()
        return files

    @staticmethod
    def _entries(docs: list[MetsDoc], entries: RecordSpool
                 ) -> Iterator[tuple[Reference, str]]:
        """The resolved references again, in order, each with its listed file."""
        pending = entries.read()
        upcoming = next(pending, None)
        for number, doc in enumerate(docs):
            if upcoming is None:
                return
            for index, ref in enumerate(doc.references):
                while upcoming is not None and (upcoming[0], upcoming[1]) == (number, index):
                    yield ref, upcoming[2]
                    upcoming = next(pending, None)

    def _hash(self, wanted: dict[str, set[str]]) -> None:
        if "sha256" in wanted:
            self.tree.hash_all(("sha256",))
            del wanted["sha256"]
        for algorithm, rels in sorted(wanted.items()):
            log.debug("hashing %d files with %s", len(rels), algorithm)
            self.tree.hash_all_of(sorted(rels), (algorithm,))

    def _compare(self, ref: Reference, rel: str, collect: bool = True) -> EarkFile | None:
        _href, size_req, checksum_req = REFERENCE_RULES[ref.section]
        owner, doc = ref.owner, ref.doc
        checksum = owner.get("CHECKSUM")
        checksum_type = owner.get("CHECKSUMTYPE")
        algorithm = _algorithm(checksum_type)
        digest: str | None = None
        if checksum is not None and checksum_type is not None and algorithm is not None:
            actual_size, digest = self.tree.size_and_digest(rel, algorithm)  # one lookup
        else:
            actual_size = self.tree.size(rel)
        declared_size = _int(owner.get("SIZE"))
        size_bad = declared_size is not None and declared_size != actual_size
        if checksum is not None and checksum_type is not None:
            if algorithm is None:
                doc.add("EARK-CHECKSUM-NOT-CHECKED", owner, file=printable(rel),
                        algorithm=checksum_type)
            else:
                if digest is None:
                    doc.add("EARK-FILE-UNREADABLE", owner, file=printable(rel))
        checksum_bad = digest is not None and digest != (checksum or "").strip().lower()
        change = None
        if (size_bad or checksum_bad) and digest is not None and algorithm and checksum:
            change = self._line_endings(rel, algorithm, checksum, declared_size)
        if change is not None:
            doc.add("EARK-LINE-ENDINGS-CHANGED", owner, file=printable(rel),
                    algorithm=checksum_type, change=change,
                    severity=Severity.WARNING if self.tolerate_line_endings else None)
        else:
            if size_bad:
                doc.add(f"{size_req}-SIZE-MISMATCH", owner, file=printable(rel),
                        expected=declared_size, actual=actual_size)
            if checksum_bad:
                doc.add(f"{checksum_req}-CHECKSUM-MISMATCH", owner, file=printable(rel),
                        algorithm=checksum_type, expected=checksum, actual=digest)
        if ref.section == "mptr" or not collect:
            return None
        return EarkFile(path=rel, mets=doc.rel, section=ref.section, size=actual_size,
                        declared_size=declared_size, checksum=checksum,
                        checksum_type=checksum_type, mimetype=owner.get("MIMETYPE"),
                        content=is_content(rel))

    def _line_endings(self, rel: str, algorithm: str, checksum: str,
                      declared_size: int | None) -> str | None:
        """"LF → CRLF" or "CRLF → LF" if converting the line endings of ``rel`` gives exactly the
        declared checksum (and size): a text file converted in transit, content intact."""
        try:
            data = self.tree.read_bytes(rel, LINE_ENDING_LIMIT)
        except (OSError, ValueError, ChangedError):
            return None
        expected = checksum.strip().lower()
        for change, candidate in (("CRLF → LF", data.replace(b"\r\n", b"\n")),
                                  ("LF → CRLF", _BARE_LF.sub(b"\r\n", data))):
            if candidate == data or (declared_size is not None
                                     and len(candidate) != declared_size):
                continue
            if hashlib.new(algorithm, candidate).hexdigest() == expected:
                return change
        return None

    def close(self) -> None:
        """Delete the temporary file of the referenced paths."""
        self.referenced.close()

    def orphans(self, exempt: set[str], unchecked_folders: Iterable[str]) -> None:
        """EARK-FILE-ORPHAN for every listed file no METS file references."""
        prefixes = tuple(f"{folder}/" for folder in unchecked_folders)
        referenced = SortedLookup(self.referenced)  # the listing is sorted: one walk of both
        for rel in self.tree.files:
            if rel in referenced or rel in exempt or (prefixes and rel.startswith(prefixes)):
                continue
            self.report.add("EARK-FILE-ORPHAN", rel, file=printable(rel))
