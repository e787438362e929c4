"""Hostile ZIP files for the archive opener's tests, built in ``tmp_path``.

Each fixture is a function that writes one ZIP (or a non-ZIP) into a folder and returns its path.
Most are written with :mod:`zipfile`; what zipfile refuses to write (NUL or invalid UTF-8 in a
name, encryption flags, other compression methods, lying sizes, shared data) is made by writing a
harmless archive with a placeholder and then patching its bytes. ``HOSTILE`` names each fixture
with the limits it is opened with and the error codes it must raise (ocfl-py's ``extra_fixtures``
style).
"""

from __future__ import annotations

import stat
import struct
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sip.archive import ZipLimits

_EOCD = struct.Struct("<4sHHHHIIH")
_CENTRAL = struct.Struct("<4sBBHHHHHIIIHHHHHII")
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
MIB = 1024 * 1024


# --- building blocks ------------------------------------------------------------------------------

def write_zip(path: Path, files: dict[str, bytes], *,
              compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A plain ZIP of ``files`` (name → content; a name ending in "/" is a folder)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name" is what some fixtures want
        with zipfile.ZipFile(path, "w", compression) as archive:
            for name, data in files.items():
                archive.writestr(zipfile.ZipInfo(name, (2024, 1, 2, 3, 4, 5)), data,
                                 compress_type=compression)
    return path


def write_zeros(path: Path, name: str, size: int, *,
                compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A ZIP with one entry of ``size`` zero bytes, written in 1 MiB pieces (never in memory)."""
    block = bytes(MIB)
    info = zipfile.ZipInfo(name, (2024, 1, 2, 3, 4, 5))
    info.compress_type = compression
    with zipfile.ZipFile(path, "w", compression) as archive, \
            archive.open(info, "w", force_zip64=size > 2**31) as stream:
        left = size
        while left:
            stream.write(block[:min(left, MIB)])
            left -= min(left, MIB)
    return path


@dataclass
class Record:
    """Where one entry's headers are in the archive's bytes."""

    central: int
    local: int
    name_length: int


def records(data: bytes | bytearray) -> list[Record]:
    """The central and local header offsets of every entry (plain, non-ZIP64 archives)."""
    end = bytes(data).rfind(b"PK\x05\x06")
    _, _, _, _, count, _, cd_offset, _ = _EOCD.unpack_from(data, end)
    out = []
    position = cd_offset
    for _ in range(count):
        fields = _CENTRAL.unpack_from(data, position)
        name_length, extra_length, comment_length = fields[11], fields[12], fields[13]
        out.append(Record(position, fields[17], name_length))
        position += _CENTRAL.size + name_length + extra_length + comment_length
    return out


def patch(path: Path, change: Callable[[bytearray, list[Record]], None]) -> Path:
    data = bytearray(path.read_bytes())
    change(data, records(data))
    path.write_bytes(bytes(data))
    return path


def set_name(data: bytearray, record: Record, raw: bytes, *, local: bool = True,
             central: bool = True) -> None:
    """Overwrite an entry's name bytes (same length) in its headers."""
    assert len(raw) == record.name_length
    if central:
        start = record.central + _CENTRAL.size
        data[start:start + len(raw)] = raw
    if local:
        start = record.local + _LOCAL.size
        data[start:start + len(raw)] = raw


def set_u16(data: bytearray, record: Record, central_at: int, local_at: int, value: int) -> None:
    struct.pack_into("<H", data, record.central + central_at, value)
    struct.pack_into("<H", data, record.local + local_at, value)


def set_u32(data: bytearray, record: Record, central_at: int, local_at: int, value: int) -> None:
    struct.pack_into("<I", data, record.central + central_at, value)
    struct.pack_into("<I", data, record.local + local_at, value)


# Field offsets (central, local) in the headers.
FLAGS = (8, 6)
METHOD = (10, 8)
CRC = (16, 14)
FILE_SIZE = (24, 22)


def entry_with_mode(path: Path, name: str, mode: int, data: bytes) -> Path:
    info = zipfile.ZipInfo(name, (2024, 1, 2, 3, 4, 5))
    info.create_system = 3
    info.external_attr = mode << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pkg/ok.txt", b"fine\n")
        archive.writestr(info, data)
    return path


_Z64 = 0xFFFFFFFF
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")
_LOCATOR = struct.Struct("<4sIQI")


@dataclass
class Zip64Archive:
    """A ZIP64 archive built by hand, and where its 64-bit values are (for patching)."""

    data: bytes
    values: list[int]  # offsets of every 8-byte ZIP64 value: entry fields, then end-record fields


def zip64_archive(files: dict[str, bytes], *, overrides: dict[str, int] | None = None
                  ) -> Zip64Archive:
    """Stored entries whose central records give size, compressed size and header offset only
    in a ZIP64 extra field (the 32-bit fields hold 0xFFFFFFFF), then the ZIP64 end records.

    ``overrides`` replaces the ZIP64 values of the *first* entry: keys ``size``, ``compressed``
    and ``offset`` (what a hostile producer can write: anything below 2**64)."""
    body = bytearray()
    centrals: list[tuple[bytes, int, int, int, int]] = []
    for name, content in files.items():
        raw = name.encode()
        crc = zlib.crc32(content)
        centrals.append((raw, crc, len(content), len(content), len(body)))
        body += _LOCAL.pack(b"PK\x03\x04", 45, 0x0800, 0, 0, 0, crc, len(content), len(content),
                            len(raw), 0) + raw + content
    cd_offset = len(body)
    values = []
    for index, (raw, crc, size, compressed, offset) in enumerate(centrals):
        if index == 0 and overrides:
            size = overrides.get("size", size)
            compressed = overrides.get("compressed", compressed)
            offset = overrides.get("offset", offset)
        extra = struct.pack("<HHQQQ", 0x0001, 24, size, compressed, offset)
        start = len(body) + _CENTRAL.size + len(raw) + 4
        values += [start, start + 8, start + 16]
        body += _CENTRAL.pack(b"PK\x01\x02", 45, 3, 45, 0x0800, 0, 0, 0, crc, _Z64, _Z64,
                              len(raw), len(extra), 0, 0, 0, (stat.S_IFREG | 0o644) << 16,
                              _Z64) + raw + extra
    cd_size = len(body) - cd_offset
    record_pos = len(body)
    body += _EOCD64.pack(b"PK\x06\x06", _EOCD64.size - 12, 45, 45, 0, 0, len(files), len(files),
                         cd_size, cd_offset)
    values += [record_pos + 24, record_pos + 32, record_pos + 40, record_pos + 48]
    body += _LOCATOR.pack(b"PK\x06\x07", 0, record_pos, 1)
    body += _EOCD.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, _Z64, _Z64, 0)
    return Zip64Archive(bytes(body), values)


def write_zip64(path: Path, **overrides: int) -> Path:
    path.write_bytes(zip64_archive({"pkg/a.txt": b"hello\n", "pkg/b.txt": b"world\n"},
                                   overrides=overrides).data)
    return path


# --- the fixtures ---------------------------------------------------------------------------------

def zip_slip(folder: Path) -> Path:
    return write_zip(folder / "slip.zip", {"pkg/ok.txt": b"ok", "../escaped.txt": b"owned"})


def zip_slip_inner(folder: Path) -> Path:
    return write_zip(folder / "slip2.zip", {"pkg/a/../../../escaped.txt": b"owned"})


def absolute(folder: Path) -> Path:
    return write_zip(folder / "absolute.zip", {"pkg/ok.txt": b"ok", "/etc/x": b"owned"})


def drive_backslash(folder: Path) -> Path:
    return write_zip(folder / "drive1.zip", {"C:\\x": b"owned"})


def drive_slash(folder: Path) -> Path:
    return write_zip(folder / "drive2.zip", {"C:/x": b"owned"})


def backslash(folder: Path) -> Path:
    return write_zip(folder / "backslash.zip", {"pkg\\..\\..\\x.txt": b"owned"})


def nul_name(folder: Path) -> Path:
    path = write_zip(folder / "nul.zip", {"pkg/aXb.txt": b"x"})
    return patch(path, lambda data, recs: set_name(data, recs[0], b"pkg/a\x00b.txt"))


def invalid_utf8_unflagged(folder: Path) -> Path:
    path = write_zip(folder / "bytes.zip", {"pkg/bad-XX.txt": b"x"})
    return patch(path, lambda data, recs: set_name(data, recs[0], b"pkg/bad-\xff\xfe.txt"))


def invalid_utf8_flagged(folder: Path) -> Path:
    path = write_zip(folder / "bytes-flagged.zip", {"pkg/bad-é.txt": b"x"})  # sets bit 11
    return patch(path, lambda data, recs: set_name(data, recs[0], b"pkg/bad-\xc3\x28.txt"))


def symlink_entry(folder: Path) -> Path:
    return entry_with_mode(folder / "symlink.zip", "pkg/passwd", stat.S_IFLNK | 0o777,
                           b"../../../../etc/passwd")


def device_entry(folder: Path) -> Path:
    return entry_with_mode(folder / "device.zip", "pkg/disk", stat.S_IFBLK | 0o600, b"")


def fifo_entry(folder: Path) -> Path:
    return entry_with_mode(folder / "fifo.zip", "pkg/pipe", stat.S_IFIFO | 0o600, b"")


def duplicate(folder: Path) -> Path:
    path = folder / "duplicate.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("pkg/a.txt", b"first")
            archive.writestr("pkg/a.txt", b"second")
    return path


def nfc_nfd(folder: Path) -> Path:
    name = "Tờ trình.pdf"
    return write_zip(folder / "nfc.zip", {
        f"pkg/{unicodedata.normalize('NFC', name)}": b"one",
        f"pkg/{unicodedata.normalize('NFD', name)}": b"two"})


def case(folder: Path) -> Path:
    return write_zip(folder / "case.zip", {"pkg/Report.pdf": b"one", "pkg/report.pdf": b"two"})


def file_and_folder(folder: Path) -> Path:
    return write_zip(folder / "conflict.zip", {"pkg/a": b"file", "pkg/a/b.txt": b"inside"})


def encrypted(folder: Path) -> Path:
    path = write_zip(folder / "encrypted.zip", {"pkg/secret.txt": b"x" * 100})
    return patch(path, lambda data, recs: set_u16(data, recs[0], *FLAGS, 0x0001))


def deflate64(folder: Path) -> Path:
    path = write_zip(folder / "deflate64.zip", {"pkg/a.txt": b"x" * 100})
    return patch(path, lambda data, recs: set_u16(data, recs[0], *METHOD, 9))


def unicode_field_differs(folder: Path) -> Path:
    name = "pkg/é.txt"
    raw = name.encode("utf-8")
    other = b"pkg/other.txt"
    info = zipfile.ZipInfo(name, (2024, 1, 2, 3, 4, 5))
    info.extra = struct.pack("<HHBI", 0x7075, 5 + len(other), 1, zlib.crc32(raw)) + other
    path = folder / "ambiguous.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(info, b"x")
    return path


def local_name_differs(folder: Path) -> Path:
    path = write_zip(folder / "localname.zip", {"pkg/a.txt": b"harmless"})
    return patch(path, lambda data, recs: set_name(data, recs[0], b"pkg/b.txt", central=False))


def overlapping(folder: Path) -> Path:
    """Two central records pointing at the same data (the non-recursive zip bomb's trick)."""
    path = write_zip(folder / "overlap.zip", {"pkg/a.txt": b"same", "pkg/b.txt": b"same"})

    def change(data: bytearray, recs: list[Record]) -> None:
        struct.pack_into("<I", data, recs[1].central + 42, recs[0].local)
    return patch(path, change)


def too_many(folder: Path) -> Path:
    return write_zip(folder / "many.zip", {f"pkg/{i}.txt": b"" for i in range(11)})


def ratio_bomb(folder: Path) -> Path:
    return write_zeros(folder / "bomb.zip", "pkg/zeros.bin", 8 * MIB)


def total_too_large(folder: Path) -> Path:
    return write_zip(folder / "big.zip", {f"pkg/{i}.bin": bytes(range(200)) * 3
                                          for i in range(3)}, compression=zipfile.ZIP_STORED)


def entry_too_large(folder: Path) -> Path:
    return write_zip(folder / "entry.zip", {"pkg/big.bin": b"y" * 5000})


def lying_header(folder: Path) -> Path:
    """Declares 1000 bytes (too small for the ratio check) but inflates to 4 MiB."""
    path = write_zeros(folder / "liar.zip", "pkg/zeros.bin", 4 * MIB)
    return patch(path, lambda data, recs: set_u32(data, recs[0], *FILE_SIZE, 1000))


def bad_crc(folder: Path) -> Path:
    """A good first entry, then one whose stored bytes were changed: extraction starts and must
    be undone."""
    path = write_zip(folder / "crc.zip", {"pkg/first.txt": b"good data\n",
                                          "pkg/second.txt": b"will be damaged\n"},
                     compression=zipfile.ZIP_STORED)

    def change(data: bytearray, recs: list[Record]) -> None:
        start = recs[1].local + _LOCAL.size + recs[1].name_length
        data[start] ^= 0xFF
    return patch(path, change)


def damaged_deflate(folder: Path) -> Path:
    path = write_zip(folder / "damaged.zip", {"pkg/first.txt": b"good data\n",
                                              "pkg/second.txt": bytes(range(256)) * 64})

    def change(data: bytearray, recs: list[Record]) -> None:
        start = recs[1].local + _LOCAL.size + recs[1].name_length
        data[start:start + 8] = b"\xff" * 8
    return patch(path, change)


def truncated(folder: Path) -> Path:
    full = write_zip(folder / "full.zip", {"pkg/a.txt": b"a" * 5000, "pkg/b.txt": b"b" * 5000})
    data = full.read_bytes()
    full.unlink()
    path = folder / "truncated.zip"
    path.write_bytes(data[:len(data) // 2])
    return path


def not_a_zip(folder: Path) -> Path:
    path = folder / "package.zip"
    path.write_bytes(b"%PDF-1.4\n% not a zip at all, whatever its extension says\n")
    return path


def empty_zip(folder: Path) -> Path:
    return write_zip(folder / "empty.zip", {})


def too_deep(folder: Path) -> Path:
    return write_zip(folder / "deep.zip", {"/".join(["d"] * 10) + "/x.txt": b"x"})


def long_name(folder: Path) -> Path:
    return write_zip(folder / "long.zip", {"pkg/" + "n" * 300 + ".txt": b"x"})


def zip64_offset_huge(folder: Path) -> Path:
    """The reviewer's crash: a ZIP64 header offset near 2**64 (OverflowError in os.pread)."""
    return write_zip64(folder / "z64-offset-huge.zip", offset=0xFFFFFFFFFFFFFFF0)


def zip64_offset_signed_max(folder: Path) -> Path:
    """A ZIP64 header offset just below 2**63 (EINVAL from os.pread)."""
    return write_zip64(folder / "z64-offset-2-63.zip", offset=0x7FFFFFFFFFFFFFF0)


def zip64_offset_beyond(folder: Path) -> Path:
    return write_zip64(folder / "z64-offset-beyond.zip", offset=MIB)


def zip64_compressed_huge(folder: Path) -> Path:
    return write_zip64(folder / "z64-compressed-huge.zip", compressed=2**64 - 1)


def zip64_sizes_huge(folder: Path) -> Path:
    return write_zip64(folder / "z64-sizes-huge.zip", size=2**64 - 1, compressed=2**64 - 1)


def zip64_data_beyond(folder: Path) -> Path:
    """A plausible offset, but offset + compressed size runs past the end of the file."""
    return write_zip64(folder / "z64-data-beyond.zip", size=400, compressed=400)


def zip64_size_huge(folder: Path) -> Path:
    """Only the uncompressed size is absurd: a size finding, and no attempt to extract it."""
    return write_zip64(folder / "z64-size-huge.zip", size=2**64 - 1)


def offset_beyond(folder: Path) -> Path:
    """A plain (not ZIP64) header offset beyond the end of the file."""
    path = write_zip(folder / "offset-beyond.zip", {"pkg/a.txt": b"a", "pkg/b.txt": b"b"})

    def change(data: bytearray, recs: list[Record]) -> None:
        struct.pack_into("<I", data, recs[1].central + 42, 0xFFFFFFF0)
    return patch(path, change)


def zip64_marker_without_field(folder: Path) -> Path:
    """0xFFFFFFFF in the offset field, but no ZIP64 field to give the real value."""
    path = write_zip(folder / "z64-no-field.zip", {"pkg/a.txt": b"a"})

    def change(data: bytearray, recs: list[Record]) -> None:
        struct.pack_into("<I", data, recs[0].central + 42, 0xFFFFFFFF)
    return patch(path, change)


@dataclass(frozen=True)
class Hostile:
    build: Callable[[Path], Path]
    codes: frozenset[str]
    limits: ZipLimits


def _h(build: Callable[[Path], Path], *codes: str, **limits: int | float) -> Hostile:
    return Hostile(build, frozenset(codes), ZipLimits(**limits))  # type: ignore[arg-type]


#: fixture name → how to build it, the limits to open it with, the codes it must raise.
HOSTILE: dict[str, Hostile] = {
    "zip-slip": _h(zip_slip, "PKG-PATH-DOT-DOT"),
    "zip-slip-inner": _h(zip_slip_inner, "PKG-PATH-DOT-DOT"),
    "absolute": _h(absolute, "PKG-PATH-ABSOLUTE"),
    "drive-backslash": _h(drive_backslash, "PKG-PATH-DRIVE-LETTER", "PKG-PATH-BACKSLASH"),
    "drive-slash": _h(drive_slash, "PKG-PATH-DRIVE-LETTER"),
    "backslash": _h(backslash, "PKG-PATH-BACKSLASH", "PKG-PATH-DOT-DOT"),
    "nul": _h(nul_name, "PKG-PATH-NUL"),
    "invalid-utf8": _h(invalid_utf8_unflagged, "ZIP-NAME-INVALID-UTF8"),
    "invalid-utf8-flagged": _h(invalid_utf8_flagged, "ZIP-NAME-INVALID-UTF8"),
    "symlink": _h(symlink_entry, "ZIP-SYMLINK"),
    "device": _h(device_entry, "ZIP-SPECIAL-ENTRY"),
    "fifo": _h(fifo_entry, "ZIP-SPECIAL-ENTRY"),
    "duplicate": _h(duplicate, "ZIP-DUPLICATE-ENTRY"),
    "nfc-nfd": _h(nfc_nfd, "PKG-NAME-NFC-COLLISION"),
    "case": _h(case, "PKG-NAME-CASE-COLLISION"),
    "file-and-folder": _h(file_and_folder, "ZIP-ENTRY-CONFLICT"),
    "encrypted": _h(encrypted, "ZIP-ENCRYPTED"),
    "deflate64": _h(deflate64, "ZIP-COMPRESSION-UNSUPPORTED"),
    "unicode-field-differs": _h(unicode_field_differs, "ZIP-NAME-AMBIGUOUS"),
    "local-name-differs": _h(local_name_differs, "ZIP-LOCAL-HEADER-MISMATCH"),
    "overlapping": _h(overlapping, "ZIP-ENTRIES-OVERLAP"),
    "too-many": _h(too_many, "ZIP-TOO-MANY-ENTRIES", max_entries=10),
    "ratio-bomb": _h(ratio_bomb, "ZIP-RATIO-TOO-HIGH", "ZIP-TOTAL-RATIO-TOO-HIGH"),
    "total-too-large": _h(total_too_large, "ZIP-TOTAL-TOO-LARGE", max_total_bytes=1000),
    "entry-too-large": _h(entry_too_large, "ZIP-ENTRY-TOO-LARGE", max_entry_bytes=1000),
    "lying-header": _h(lying_header, "ZIP-SIZE-MISMATCH"),
    "bad-crc": _h(bad_crc, "ZIP-CRC-MISMATCH"),
    "damaged-deflate": _h(damaged_deflate, "ZIP-ENTRY-CORRUPT"),
    "truncated": _h(truncated, "ZIP-CORRUPT"),
    "not-a-zip": _h(not_a_zip, "PKG-NOT-A-PACKAGE"),
    "empty": _h(empty_zip, "ZIP-EMPTY"),
    "too-deep": _h(too_deep, "ZIP-PATH-TOO-DEEP", max_depth=5),
    "long-name": _h(long_name, "ZIP-NAME-TOO-LONG", max_name_bytes=200),
    "zip64-offset-huge": _h(zip64_offset_huge, "ZIP-ENTRY-CORRUPT"),
    "zip64-offset-signed-max": _h(zip64_offset_signed_max, "ZIP-ENTRY-CORRUPT"),
    "zip64-offset-beyond": _h(zip64_offset_beyond, "ZIP-ENTRY-CORRUPT"),
    "zip64-compressed-huge": _h(zip64_compressed_huge, "ZIP-ENTRY-CORRUPT"),
    "zip64-sizes-huge": _h(zip64_sizes_huge, "ZIP-ENTRY-CORRUPT", "ZIP-ENTRY-TOO-LARGE"),
    "zip64-data-beyond": _h(zip64_data_beyond, "ZIP-ENTRY-CORRUPT"),
    "zip64-size-huge": _h(zip64_size_huge, "ZIP-ENTRY-TOO-LARGE", "ZIP-SIZE-MISMATCH"),
    "offset-beyond": _h(offset_beyond, "ZIP-ENTRY-CORRUPT"),
    "zip64-marker-without-field": _h(zip64_marker_without_field, "ZIP-ENTRY-CORRUPT"),
}

#: The fixtures whose first entry lies (partly) outside the file: refused with a finding that
#: names that entry, before any of its bytes is read.
OUTSIDE_ARCHIVE = ("zip64-offset-huge", "zip64-offset-signed-max", "zip64-offset-beyond",
                   "zip64-compressed-huge", "zip64-sizes-huge", "zip64-data-beyond",
                   "zip64-marker-without-field")
