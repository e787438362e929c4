"""Judging a submitted ZIP entry by entry, before a single byte is extracted.

:func:`inspect` reads the central directory (:mod:`sip.zipread`) and every local header, and adds
a finding for each problem: hostile, undecodable, too long or too deep names; links and special
files; duplicates, file/folder conflicts, NFC and case collisions; encryption and unknown
compression methods; declared sizes and compression ratios over :class:`ZipLimits`; local headers
that disagree with the central directory; entries whose data overlap. It returns the plan of what
:mod:`sip.archive` may extract. Declared sizes are only claims: the extraction counts the bytes that
really come out.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field

from preservation.findings import Report
from preservation.paths import UNSAFE, path_problems, printable
from sip.safety import PATH_CODES, report_collisions
from sip.zipread import (
    FLAG_DATA_DESCRIPTOR,
    METHOD_NAMES,
    STORED,
    SUPPORTED_METHODS,
    Directory,
    Entry,
    ZipFormatError,
    read_local,
)

MACOS_FOLDER = "__MACOSX"
_MAX_SEGMENT_BYTES = 255  # NAME_MAX of the usual Linux file systems


@dataclass(frozen=True)
class ZipLimits:
    """What a submitted ZIP may hold. Ratios are only judged above ``ratio_min_bytes``
    (uncompressed), since tiny files of zeros legitimately compress a thousandfold."""

    max_entries: int = 200_000
    max_total_bytes: int = 64 * 2**30
    max_entry_bytes: int = 16 * 2**30
    max_ratio: float = 200.0
    max_name_bytes: int = 1024
    max_depth: int = 64
    ratio_min_bytes: int = 2**20


@dataclass(frozen=True, slots=True)
class Item:
    """An entry to extract: its checked path, and where its data is."""

    entry: Entry
    path: str
    is_dir: bool
    data_offset: int


@dataclass
class Plan:
    items: list[Item] = field(default_factory=list)
    tops: set[str] = field(default_factory=set)  # first segments of what is extracted
    folders: set[str] = field(default_factory=set)  # every folder extracted, explicit or implied


def _kind(entry: Entry) -> str:
    """file, dir, symlink, or the name of a special kind."""
    kind = stat.S_IFMT(entry.mode)
    if kind == stat.S_IFLNK:
        return "symlink"
    if kind == stat.S_IFDIR or entry.name.endswith("/"):
        return "dir"
    if kind in (0, stat.S_IFREG):
        return "file"
    return {stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket", stat.S_IFCHR: "character device",
            stat.S_IFBLK: "block device"}.get(kind, f"mode {kind:o}")


def inspect(fd: int, directory: Directory, report: Report, limits: ZipLimits) -> Plan | None:
    """Judge every entry (findings in ``report``); the extraction plan, or None if hopeless."""
    if directory.too_many:
        count = max(directory.declared_count, len(directory.entries))
        report.add("ZIP-TOO-MANY-ENTRIES", None, count=count, limit=limits.max_entries)
        return None
    if directory.prepended:
        report.add("ZIP-PREPENDED-DATA", None, size=directory.prepended)
    entries = directory.entries
    plan = Plan()
    spans: list[tuple[int, int, Entry]] = []
    total = 0
    files: dict[str, Entry] = {}
    folders: dict[str, Entry | None] = {}
    macos = content = 0
    for entry in entries:
        location = printable(entry.name)
        kind = _kind(entry)
        content += not entry.name.startswith(MACOS_FOLDER + "/")
        path = entry.name[:-1] if kind == "dir" and entry.name.endswith("/") else entry.name
        safe = _check_name(entry, path, location, report, limits)
        if kind == "symlink":
            report.add("ZIP-SYMLINK", location, file=location)
        elif kind not in ("file", "dir"):
            report.add("ZIP-SPECIAL-ENTRY", location, file=location, kind=kind)
        if entry.encrypted:
            report.add("ZIP-ENCRYPTED", location, file=location)
        elif entry.method not in SUPPORTED_METHODS:
            report.add("ZIP-COMPRESSION-UNSUPPORTED", location, file=location,
                       method=f"{METHOD_NAMES.get(entry.method, 'unknown')} ({entry.method})")
        if kind == "file":
            total += entry.file_size
            _check_size(entry, location, report, limits)
        data_offset = _check_local(fd, entry, location, report, directory.archive_size)
        if data_offset is not None:
            spans.append((entry.header_offset, data_offset + entry.compressed_size, entry))
            if data_offset + entry.compressed_size > directory.cd_offset:
                report.add("ZIP-ENTRY-CORRUPT", location, file=location,
                           error="its data runs into the central directory")
        if not safe or kind not in ("file", "dir"):
            continue
        segments = path.split("/")
        for depth in range(1, len(segments)):
            folders.setdefault("/".join(segments[:depth]), None)
        if kind == "dir":
            folders[path] = entry
        elif path in files:
            report.add("ZIP-DUPLICATE-ENTRY", location, file=location)
        else:
            files[path] = entry
        if segments[0] == MACOS_FOLDER:
            macos += 1
            continue
        if data_offset is not None:
            plan.items.append(Item(entry, path, kind == "dir", data_offset))
            plan.tops.add(segments[0])
    for path in sorted(files.keys() & folders.keys()):
        report.add("ZIP-ENTRY-CONFLICT", printable(path), file=printable(path))
    report_collisions(report, [*files, *folders], set(folders))
    _check_totals(total, directory, report, limits)
    _check_overlaps(spans, report)
    if macos:
        report.add("ZIP-MACOS-METADATA-SKIPPED", MACOS_FOLDER + "/", count=macos)
    if not content:
        report.add("ZIP-EMPTY", None)
    plan.folders = {p for p in folders if not p.startswith(MACOS_FOLDER)}
    return plan


def _check_name(entry: Entry, path: str, location: str, report: Report,
                limits: ZipLimits) -> bool:
    """Findings about the entry's name; False if it must not be used as a path at all."""
    safe = True
    problems = path_problems(path)
    if "invalid-utf8" in entry.problems:
        report.add("ZIP-NAME-INVALID-UTF8", location, file=location)
        problems = [p for p in problems if p != "invalid-surrogate"]
        safe = False
    if "unicode-field-differs" in entry.problems:
        report.add("ZIP-NAME-AMBIGUOUS", location, file=location,
                   other=printable(entry.other_name))
        safe = False
    if "corrupt-extra" in entry.problems:
        report.add("ZIP-ENTRY-CORRUPT", location, file=location,
                   error="its extra fields are malformed")
        safe = False
    for problem in problems:
        report.add(PATH_CODES[problem], location, file=location)
        safe = safe and problem not in UNSAFE
    if len(entry.raw_name) > limits.max_name_bytes:
        report.add("ZIP-NAME-TOO-LONG", location, file=location, length=len(entry.raw_name),
                   limit=limits.max_name_bytes)
        safe = False
    elif any(len(s.encode("utf-8", "surrogateescape")) > _MAX_SEGMENT_BYTES
             for s in path.split("/")):
        report.add("ZIP-NAME-TOO-LONG", location, file=location,
                   length=max(len(s.encode("utf-8", "surrogateescape"))
                              for s in path.split("/")),
                   limit=_MAX_SEGMENT_BYTES)
        safe = False
    depth = path.count("/") + 1
    if depth > limits.max_depth:
        report.add("ZIP-PATH-TOO-DEEP", location, file=location, depth=depth,
                   limit=limits.max_depth)
        safe = False
    return safe


def _check_size(entry: Entry, location: str, report: Report, limits: ZipLimits) -> None:
    if entry.file_size > limits.max_entry_bytes:
        report.add("ZIP-ENTRY-TOO-LARGE", location, file=location, size=entry.file_size,
                   limit=limits.max_entry_bytes)
    if (entry.file_size >= limits.ratio_min_bytes
            and entry.file_size > limits.max_ratio * max(entry.compressed_size, 1)):
        report.add("ZIP-RATIO-TOO-HIGH", location, file=location,
                   ratio=_ratio(entry.file_size, entry.compressed_size),
                   limit=f"{limits.max_ratio:g}")
    if entry.method == STORED and entry.compressed_size != entry.file_size \
            and not entry.encrypted:
        report.add("ZIP-SIZE-MISMATCH", location, file=location, declared=entry.file_size,
                   actual=entry.compressed_size)


def _check_local(fd: int, entry: Entry, location: str, report: Report,
                 archive_size: int) -> int | None:
    """Compare the local header with the central directory; the data offset, or None."""
    if "outside-archive" in entry.problems:
        # Never read: the offset may be one no file can have (a ZIP64 field holds up to 2**64).
        report.add("ZIP-ENTRY-CORRUPT", location, file=location,
                   error=f"its central directory record places it outside the archive "
                         f"(local header at byte {entry.header_offset}, "
                         f"{entry.compressed_size} bytes of data, "
                         f"in a file of {archive_size} bytes)")
        return None
    try:
        local = read_local(fd, entry)
    except ZipFormatError as error:
        report.add("ZIP-ENTRY-CORRUPT", location, file=location, error=str(error))
        return None
    mismatched = []
    if local.raw_name != entry.raw_name:
        mismatched.append("name")
    if local.method != entry.method:
        mismatched.append("compression method")
    if (local.flags ^ entry.flags) & 0x0001:
        mismatched.append("encryption")
    if not local.flags & FLAG_DATA_DESCRIPTOR:
        if local.crc != entry.crc:
            mismatched.append("CRC-32")
        for label, value, expected in (("compressed size", local.compressed_size,
                                        entry.compressed_size),
                                       ("size", local.file_size, entry.file_size)):
            if value != 0xFFFFFFFF and value != expected:
                mismatched.append(label)
    if mismatched:
        report.add("ZIP-LOCAL-HEADER-MISMATCH", location, file=location,
                   fields=", ".join(mismatched))
    return local.data_offset


def _check_totals(total: int, directory: Directory, report: Report, limits: ZipLimits) -> None:
    if total > limits.max_total_bytes:
        report.add("ZIP-TOTAL-TOO-LARGE", None, size=total, limit=limits.max_total_bytes)
    if total >= limits.ratio_min_bytes and total > limits.max_ratio * directory.archive_size:
        report.add("ZIP-TOTAL-RATIO-TOO-HIGH", None,
                   ratio=_ratio(total, directory.archive_size), limit=f"{limits.max_ratio:g}")


def _check_overlaps(spans: list[tuple[int, int, Entry]], report: Report) -> None:
    """Entries whose bytes overlap: the trick behind non-recursive zip bombs (and a way to make
    two entries share, or hide, content)."""
    spans.sort(key=lambda s: (s[0], s[2].index))
    previous: tuple[int, int, Entry] | None = None
    for span in spans:
        if previous is not None and span[0] < previous[1]:
            report.add("ZIP-ENTRIES-OVERLAP", printable(span[2].name),
                       file=printable(span[2].name), other=printable(previous[2].name))
        if previous is None or span[1] > previous[1]:
            previous = span


def _ratio(size: int, compressed: int) -> str:
    return f"{size / max(compressed, 1):.0f}"
