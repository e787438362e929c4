"""The ZIP format, read by hand from a file descriptor: directory, local headers, entry data.

:mod:`zipfile` is made for archives one trusts: it decodes names while it opens the archive (a bad
UTF-8 name raises before a single entry can be looked at), hides the raw name bytes, ignores the
Info-ZIP Unicode path field that other tools honour, and decompresses bzip2 and LZMA without an
output bound. Here every field is read as it is, so :mod:`sip.archive` can judge each entry before
anything is extracted, and entry data is decompressed in bounded pieces.

Nothing here writes anything or raises on a hostile *entry*: problems of one entry are recorded on
the entry (``Entry.problems``) and the archive is still read to the end. :class:`ZipFormatError`
is raised only when the archive's own structure cannot be read (no end record, a central directory
outside the file, a truncated record), and by the read helpers when asked for bytes that are not in
the file.

Offsets and sizes: a central record (its 32-bit fields or its ZIP64 field, which may hold any
value below 2**64) that puts the entry's local header or data beyond the end of the file
gets the problem ``outside-archive`` and must not be read at all. The read helpers check their
offsets as well (a second line of defence), so an offset no file can have is a
:class:`ZipFormatError`, never an :class:`OverflowError` or ``EINVAL`` from :func:`os.pread`.

Names: an entry name is decoded as UTF-8 when the UTF-8 flag (bit 11) is set, when it is plain
ASCII, or when it simply is valid UTF-8 (macOS, Linux and most current tools write UTF-8 without
setting the flag). An Info-ZIP Unicode path field (0x7075) whose CRC matches the header name gives
the name (7-Zip and WinRAR write it next to a legacy name). Anything else is *not* guessed as
CP437: Vietnamese cannot be written in CP437, so such bytes are in some producer's legacy code page
that cannot be known, and guessing would silently rename files that the METS refers to. The entry
gets the problem ``invalid-utf8`` and its name is shown with ``\\xNN`` escapes.
"""

from __future__ import annotations

import bz2
import errno
import lzma
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

#: Bytes read from the archive at a time, and the most one decompression step may produce.
CHUNK = 1024 * 1024

STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
SUPPORTED_METHODS = frozenset({STORED, DEFLATED, BZIP2, LZMA})
AES_METHOD = 99
METHOD_NAMES = {
    0: "stored", 1: "Shrink", 2: "Reduce-1", 3: "Reduce-2", 4: "Reduce-3", 5: "Reduce-4",
    6: "Implode", 8: "Deflate", 9: "Deflate64", 10: "PKWARE Implode", 12: "bzip2", 14: "LZMA",
    16: "IBM z/OS CMPSC", 18: "IBM TERSE", 19: "IBM LZ77", 20: "Zstandard (old id)",
    93: "Zstandard", 94: "MP3", 95: "XZ", 96: "JPEG", 97: "WavPack", 98: "PPMd", 99: "AES",
}

FLAG_ENCRYPTED = 0x0001
FLAG_DATA_DESCRIPTOR = 0x0008
FLAG_STRONG_ENCRYPTION = 0x0040
FLAG_UTF8 = 0x0800
FLAG_MASKED_HEADERS = 0x2000

_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD_SIG = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sIQI")
_LOCATOR_SIG = b"PK\x06\x07"
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")
_EOCD64_SIG = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4sBBHHHHHIIIHHHHHII")
_CENTRAL_SIG = b"PK\x01\x02"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIG = b"PK\x03\x04"
_MAX_COMMENT = 0xFFFF
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


class ZipFormatError(Exception):
    """The archive's structure cannot be read (message in plain English, for the finding)."""


@dataclass(slots=True)
class Entry:
    """One central-directory record, as written (offsets already corrected for prepended data)."""

    index: int
    raw_name: bytes
    name: str  # decoded; undecodable bytes as lone surrogates (shown as \xNN by printable())
    flags: int
    method: int
    crc: int
    compressed_size: int
    file_size: int
    header_offset: int
    create_system: int
    external_attr: int
    problems: list[str] = field(default_factory=list)  # invalid-utf8, outside-archive …
    other_name: str = ""  # the Unicode path field's name when it differs from ``name``

    @property
    def mode(self) -> int:
        """The Unix mode in the upper 16 bits of the external attributes (0 when absent)."""
        return self.external_attr >> 16

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS)
                    ) or self.method == AES_METHOD


@dataclass(frozen=True, slots=True)
class Local:
    """What an entry's local header says, and where its data starts."""

    raw_name: bytes
    flags: int
    method: int
    crc: int
    compressed_size: int
    file_size: int
    data_offset: int


@dataclass
class Directory:
    """The central directory: its entries (at most ``max_entries`` + 1 of them) and layout."""

    entries: list[Entry]
    declared_count: int
    cd_offset: int  # where the central directory really starts in the file
    prepended: int  # bytes before the archive proper (a self-extractor stub, or a disguise)
    archive_size: int
    too_many: bool = False  # parsing stopped after max_entries + 1 entries


#: The largest file offset :func:`os.pread` accepts (``off_t`` is signed 64-bit).
_MAX_OFFSET = 2**63 - 1


def _pread(fd: int, size: int, offset: int) -> bytes:
    """One :func:`os.pread`; an offset or size no file can have is a ZipFormatError."""
    if offset < 0 or size < 0 or offset + size > _MAX_OFFSET:
        raise ZipFormatError(f"an offset in the archive is impossible (byte {offset})")
    try:
        return os.pread(fd, size, offset)
    except OverflowError as error:
        raise ZipFormatError(f"an offset in the archive is impossible (byte {offset})"
                             ) from error
    except OSError as error:
        if error.errno in (errno.EINVAL, errno.EOVERFLOW):
            raise ZipFormatError(f"an offset in the archive is impossible (byte {offset})"
                                 ) from error
        raise


def pread_exact(fd: int, size: int, offset: int) -> bytes:
    """``size`` bytes at ``offset``; ZipFormatError when the file ends first."""
    parts: list[bytes] = []
    got = 0
    while got < size:
        data = _pread(fd, min(size - got, CHUNK), offset + got)
        if not data:
            raise ZipFormatError(f"the file ends at byte {offset + got}; "
                                 f"{size - got} more bytes were expected")
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def find_end(fd: int, archive_size: int) -> tuple[int, bytes] | None:
    """Position and bytes of the end-of-central-directory record, or None if there is none."""
    tail_size = min(archive_size, _EOCD.size + _MAX_COMMENT)
    if tail_size < _EOCD.size:
        return None
    tail = pread_exact(fd, tail_size, archive_size - tail_size)
    position = tail.rfind(_EOCD_SIG)
    while position >= 0:
        if position + _EOCD.size <= len(tail):
            comment_length = _EOCD.unpack_from(tail, position)[7]
            if position + _EOCD.size + comment_length <= len(tail):
                start = archive_size - tail_size + position
                return start, tail[position:position + _EOCD.size]
        position = tail.rfind(_EOCD_SIG, 0, position)
    return None


def read_directory(fd: int, archive_size: int, max_entries: int) -> Directory:
    """Read the end records and the central directory (stopping after ``max_entries`` + 1)."""
    end = find_end(fd, archive_size)
    if end is None:
        raise ZipFormatError("no end-of-central-directory record: the file is not a complete "
                             "ZIP archive (truncated, or not a ZIP at all)")
    end_pos, record = end
    (_, disk, cd_disk, _, count, cd_size, cd_offset, _) = _EOCD.unpack(record)
    directory_end = end_pos
    if end_pos >= _LOCATOR.size:
        locator = pread_exact(fd, _LOCATOR.size, end_pos - _LOCATOR.size)
        if locator[:4] == _LOCATOR_SIG:
            _, locator_disk, _, disks = _LOCATOR.unpack(locator)
            record_pos = end_pos - _LOCATOR.size - _EOCD64.size
            if record_pos < 0:
                raise ZipFormatError("the ZIP64 end record is missing")
            record64 = pread_exact(fd, _EOCD64.size, record_pos)
            if record64[:4] != _EOCD64_SIG:
                raise ZipFormatError("the ZIP64 end record is missing or damaged")
            (_, _, _, _, disk, cd_disk, _, count, cd_size, cd_offset) = _EOCD64.unpack(record64)
            if locator_disk != 0 or disks > 1:
                disk = max(disk, 1)
            directory_end = record_pos
    if disk != 0 or cd_disk != 0:
        raise ZipFormatError("the archive is split over several files (a spanned or "
                             "multi-volume ZIP); only single-file archives are accepted")
    prepended = directory_end - cd_size - cd_offset
    if prepended < 0 or cd_offset + prepended + cd_size > archive_size:
        raise ZipFormatError("the central directory lies outside the file (truncated or "
                             "damaged archive)")
    start = cd_offset + prepended
    directory = Directory([], count, start, prepended, archive_size)
    if count > max_entries:
        directory.too_many = True
        return directory
    for entry in _central_records(fd, start, cd_size, prepended, archive_size):
        directory.entries.append(entry)
        if len(directory.entries) > max_entries:
            directory.too_many = True
            break
    return directory


def _central_records(fd: int, start: int, size: int, prepended: int,
                     archive_size: int) -> Iterator[Entry]:
    buffer = b""
    buffer_pos = start  # file offset of buffer[0]
    position = start
    end = start + size
    index = 0

    def take(n: int) -> bytes:
        nonlocal buffer, buffer_pos
        if position + n > end:
            raise ZipFormatError("a central directory record runs past the end of the "
                                 "central directory")
        offset = position - buffer_pos
        if offset + n > len(buffer):
            want = max(n, min(CHUNK, end - position))
            buffer = pread_exact(fd, want, position)
            buffer_pos = position
            offset = 0
        return buffer[offset:offset + n]

    while position < end:
        fixed = take(_CENTRAL.size)
        (sig, _, create_system, _, flags, method, _, _, crc, compressed, file_size,
         name_length, extra_length, comment_length, _, _, external_attr, header_offset
         ) = _CENTRAL.unpack(fixed)
        if sig != _CENTRAL_SIG:
            raise ZipFormatError(f"central directory record {index + 1} is damaged "
                                 "(bad signature)")
        position += _CENTRAL.size
        raw_name = take(name_length)
        position += name_length
        extra = take(extra_length)
        position += extra_length + comment_length
        if position > end:
            raise ZipFormatError("a central directory record runs past the end of the "
                                 "central directory")
        entry = Entry(index, raw_name, "", flags, method, crc, compressed, file_size,
                      header_offset, create_system, external_attr)
        unicode_name = _read_extra(entry, extra)
        entry.name = _decode_name(entry, unicode_name)
        entry.header_offset += prepended
        if entry.header_offset + _LOCAL.size + entry.compressed_size > archive_size:
            entry.problems.append("outside-archive")
        index += 1
        yield entry


def _read_extra(entry: Entry, extra: bytes) -> bytes | None:
    """Apply the ZIP64 field to ``entry``; return the Unicode path field's name if valid."""
    unicode_name: bytes | None = None
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, position)
        data = extra[position + 4:position + 4 + length]
        if len(data) != length:
            entry.problems.append("corrupt-extra")
            return unicode_name
        if kind == 0x0001:
            values = iter(struct.unpack_from(f"<{len(data) // 8}Q", data))
            try:
                if entry.file_size == 0xFFFFFFFF:
                    entry.file_size = next(values)
                if entry.compressed_size == 0xFFFFFFFF:
                    entry.compressed_size = next(values)
                if entry.header_offset == 0xFFFFFFFF:
                    entry.header_offset = next(values)
            except StopIteration:
                entry.problems.append("corrupt-extra")
        elif kind == 0x7075 and length >= 5 and data[0] == 1:
            (name_crc,) = struct.unpack_from("<I", data, 1)
            if name_crc == zlib.crc32(entry.raw_name):
                unicode_name = data[5:]
        position += 4 + length
    return unicode_name


def _decode_name(entry: Entry, unicode_name: bytes | None) -> str:
    raw = entry.raw_name
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        name = None
    if unicode_name is not None:
        try:
            from_field = unicode_name.decode("utf-8")
        except UnicodeDecodeError:
            entry.problems.append("invalid-utf8")
            return unicode_name.decode("utf-8", "surrogateescape")
        if entry.flags & FLAG_UTF8 and name is not None and name != from_field:
            # Two names for one entry: tools that read one or the other extract different files.
            entry.problems.append("unicode-field-differs")
            entry.other_name = from_field
            return name
        return from_field
    if name is None:
        entry.problems.append("invalid-utf8")
        return raw.decode("utf-8", "surrogateescape")
    return name


def read_local(fd: int, entry: Entry) -> Local:
    """The local header of ``entry``; ZipFormatError if it is not where the directory says."""
    fixed = pread_exact(fd, _LOCAL.size, entry.header_offset)
    (sig, _, flags, method, _, _, crc, compressed, file_size, name_length, extra_length
     ) = _LOCAL.unpack(fixed)
    if sig != _LOCAL_SIG:
        raise ZipFormatError("no local header where the central directory says the entry is")
    raw_name = pread_exact(fd, name_length, entry.header_offset + _LOCAL.size)
    data_offset = entry.header_offset + _LOCAL.size + name_length + extra_length
    return Local(raw_name, flags, method, crc, compressed, file_size, data_offset)


def compressed_chunks(fd: int, offset: int, size: int) -> Iterator[bytes]:
    """The entry's compressed bytes, ``CHUNK`` at a time; ZipFormatError if the file ends."""
    done = 0
    while done < size:
        data = _pread(fd, min(CHUNK, size - done), offset + done)
        if not data:
            raise ZipFormatError("the archive ends inside this entry's data (truncated)")
        done += len(data)
        yield data


class Inflater:
    """Decompress one entry's data in pieces of at most ``CHUNK`` bytes of output.

    ``feed`` may be called with every compressed chunk; each call yields the output it makes,
    never more than ``CHUNK`` at a time, so a chunk that inflates a thousandfold still needs only
    ``CHUNK`` bytes of memory at once. Decoder errors raise :class:`ZipFormatError`.
    """

    def __init__(self, method: int) -> None:
        self.method = method
        self._zlib = zlib.decompressobj(-15) if method == DEFLATED else None
        self._other: bz2.BZ2Decompressor | lzma.LZMADecompressor | None = (
            bz2.BZ2Decompressor() if method == BZIP2 else None)
        self._lzma_header = b"" if method == LZMA else None

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            if self.method == STORED:
                yield data
            elif self._zlib is not None:
                yield from self._feed_zlib(data)
            else:
                yield from self._feed_other(data)
        except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as error:
            raise ZipFormatError(f"the compressed data is damaged ({error})") from error

    def _feed_zlib(self, data: bytes) -> Iterator[bytes]:
        assert self._zlib is not None
        while data and not self._zlib.eof:
            out = self._zlib.decompress(data, CHUNK)
            data = self._zlib.unconsumed_tail
            if out:
                yield out

    def _feed_other(self, data: bytes) -> Iterator[bytes]:
        if self._lzma_header is not None and self._other is None:
            data = self._start_lzma(data)
            if self._other is None:
                return
        decoder = self._other
        assert decoder is not None
        if decoder.eof:
            return
        out = decoder.decompress(data, CHUNK)
        if out:
            yield out
        while not decoder.eof and not decoder.needs_input:
            out = decoder.decompress(b"", CHUNK)
            if not out:
                break
            yield out

    def _start_lzma(self, data: bytes) -> bytes:
        """ZIP's LZMA header: version (2), properties size (2), then 5 property bytes."""
        assert self._lzma_header is not None
        header = self._lzma_header + data
        if len(header) < 4:
            self._lzma_header = header
            return b""
        (props_size,) = struct.unpack_from("<H", header, 2)
        if props_size != 5:
            raise ZipFormatError("unsupported LZMA properties in this entry")
        if len(header) < 4 + props_size:
            self._lzma_header = header
            return b""
        props = header[4:9]
        lc_lp_pb, dict_size = props[0], struct.unpack_from("<I", props, 1)[0]
        if lc_lp_pb >= 9 * 5 * 5:
            raise ZipFormatError("invalid LZMA properties in this entry")
        pb, rest = divmod(lc_lp_pb, 45)
        lp, lc = divmod(rest, 9)
        self._other = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[{
            "id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": lp, "pb": pb}])
        return header[4 + props_size:]

    def finish(self) -> Iterator[bytes]:
        """What is left once all input was fed (a few bytes at most for deflate)."""
        if self._zlib is not None:
            try:
                out = self._zlib.flush()
            except zlib.error as error:
                raise ZipFormatError(f"the compressed data is damaged ({error})") from error
            if out:
                yield out
