"""What a validated submission hands to ingest: its kind, its report and every file to keep.

:func:`sip.validate.open_sip` returns a :class:`Submission` for any accepted package kind (BagIt,
E-ARK, TT05, or a bag wrapping one of those), so the AIP builder does not care which kind it was.
Every byte of every file is listed with the SHA-256 computed while validating, so ingest streams
each file to storage without reading it again to hash it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preservation.findings import Report
from preservation.formats import FormatId
from preservation.spooled import KEEP as SPOOL_KEEP
from preservation.spooled import spooled

if TYPE_CHECKING:
    from sip.tt05 import Tt05Record


class SipKind(enum.StrEnum):
    UNKNOWN = "unknown"
    BAGIT = "bagit"
    EARK = "eark"  # E-ARK CSIP / SIP
    TT05_HOSO = "tt05-hoso"
    TT05_TAILIEU = "tt05-tailieu"


class FileRole(enum.StrEnum):
    CONTENT = "content"  # a record's bytes: representations/*/data/**, or a plain bag's payload
    METADATA = "metadata"  # everything else the producer sent (METS, EAD, schemas, docs, tags)


@dataclass(frozen=True, slots=True)
class SubmittedFile:
    """One file of the submission, as the producer named it, with its verified SHA-256."""

    path: str  # "/"-separated, relative to the submission root, exactly as on disk
    fs_path: Path
    size: int
    sha256: str
    role: FileRole
    #: the name shown to people: the path below the representation's (or plain bag's) data/
    original_name: str
    representation: str | None = None  # E-ARK/TT05 representation folder of a content file
    digitised: bool = False  # TT05 confidenceLevel 02: PDF/A and a text layer are expected


#: Files of a submission kept in memory; the rest are in a temporary file (see
#: :func:`preservation.spooled.spooled`).
KEEP = SPOOL_KEEP  # preservation.spooled.KEEP; a test may lower it here


def submitted_fields(f: SubmittedFile) -> tuple[Any, ...]:
    """``f`` as a tuple of plain values (``fs_path`` as text, ``role`` as its value)."""
    return (f.path, str(f.fs_path), f.size, f.sha256, f.role.value, f.original_name,
            f.representation, f.digitised)


def submitted_from_fields(values: tuple[Any, ...]) -> SubmittedFile:
    """The :class:`SubmittedFile` of :func:`submitted_fields`."""
    path, fs_path, size, sha256, role, original_name, representation, digitised = values
    return SubmittedFile(path, Path(fs_path), size, sha256, FileRole(role), original_name,
                         representation, digitised)


def spooled_files(files: Iterable[SubmittedFile]) -> Sequence[SubmittedFile]:
    """``files`` in order as a read-only sequence: the first :data:`KEEP` in memory, the rest
    in a temporary file, read back one at a time on each pass."""
    return spooled(files, submitted_fields, submitted_from_fields, keep=KEEP,
                   what="submitted file")


@dataclass
class Submission:
    """A validated (or rejected) submission. ``valid`` only when its report has no error."""

    source: Path  # what the producer gave: a folder or a ZIP file
    report: Report
    name: str = ""  # the package's own name (folder, or a ZIP's single top folder)
    root: Path | None = None  # where its files are now (the folder, or a private extraction)
    kind: SipKind = SipKind.UNKNOWN
    wrapped_in_bag: bool = False  # a BagIt bag whose payload is an E-ARK/TT05 package
    title: str | None = None
    identifiers: dict[str, str] = field(default_factory=dict)  # objid, fileCode, fonds, …
    info: tuple[tuple[str, str], ...] = ()  # bag-info.txt entries, or the package record
    #: every file to keep (see :func:`spooled_files`); assigning it anew forgets content()
    files: Sequence[SubmittedFile] = ()
    formats: Mapping[str, FormatId] = field(default_factory=dict)  # by SubmittedFile.path
    fido_version: str = ""
    signature_version: str = ""
    #: a TT05 package's record (dossier fields and documents), for the TT05 AIP writer
    tt05: Tt05Record | None = None
    #: where the E-ARK/TT05 package sits in the submission ("data" for a bag wrapping one);
    #: the paths of ``tt05`` are relative to it, those of ``files`` to the submission root
    package_prefix: str = ""
    #: what content() answered for the files of now (not compared, not shown)
    _content: Sequence[SubmittedFile] | None = field(default=None, init=False, repr=False,
                                                    compare=False)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "files":  # new files: content() is worked out again when next asked for
            object.__setattr__(self, "_content", None)
        object.__setattr__(self, name, value)

    @property
    def valid(self) -> bool:
        return self.report.valid

    @property
    def kind_label(self) -> str:
        """``tt05-hoso``, ``bagit+eark``, … as shown to people and stored in the catalog."""
        if self.wrapped_in_bag and self.kind is not SipKind.BAGIT:
            return f"bagit+{self.kind.value}"
        return self.kind.value

    def content(self) -> Sequence[SubmittedFile]:
        """The content files of ``files``, in order; worked out once (a read-only sequence,
        past the first :data:`KEEP` in a temporary file) and the same object on every call
        until ``files`` is assigned anew."""
        content = self._content
        if content is None:
            files = self.files
            if all(f.role is FileRole.CONTENT for f in files):  # a plain bag: not spooled again
                content = files
            else:
                content = spooled_files(f for f in files if f.role is FileRole.CONTENT)
            object.__setattr__(self, "_content", content)
        return content
