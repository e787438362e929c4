"""Reading BagIt tag files: bagit.txt, bag-info.txt, manifests and fetch.txt.

Everything here parses text that a producer wrote and records what is wrong with it as findings in
a :class:`~preservation.findings.Report`; nothing here touches the filesystem beyond the stream it
is given. Paths read from manifests are returned as written (after the decoding BagIt defines),
never resolved: the caller matches them against its own listing of the bag.

Decoding never fails: bytes that are not valid in the declared encoding become lone surrogates
U+DC00+byte (the same convention as ``os.fsdecode`` for bytes ≥ 0x80, so a name written in the
wrong encoding still matches the file on a Linux disk) and the line is reported.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from preservation.findings import Report, Severity
from preservation.paths import printable

#: Longest tag-file line read (characters); longer lines are reported and skipped.
MAX_LINE = 65_536
#: The BagIt versions this validator knows (RFC 8493 is 1.0; 0.93–0.97 are the drafts).
SUPPORTED_VERSIONS = ((0, 93), (0, 94), (0, 95), (0, 96), (0, 97), (1, 0))

_ESCAPE = "preservation-bagit-escape"
_LINE_END = re.compile(r"\r\n|\r|\n")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_MANIFEST_LINE = re.compile(r"^([^ \t]+)[ \t]+(.+)$", re.DOTALL)
_FETCH_LINE = re.compile(r"^([^ \t]+)[ \t]+([^ \t]+)[ \t]+(.+)$", re.DOTALL)
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # RFC 3986 §3.1: an absolute URI
_PERCENT = re.compile(r"%(0[AaDd]|25)")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OXUM = re.compile(r"^(\d+)\.(\d+)$")
_VERSION = re.compile(r"^(\d+)\.(\d+)$")
_CHARSET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,39}$")  # IANA charset names (RFC 2978)
#: Python codecs that are text transforms, not character sets a producer can declare.
_NOT_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode",
                           "undefined", "mbcs", "oem"})


def _escape_undecodable(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start:error.end]
    return "".join(chr(0xDC00 + b) for b in bad), error.end


codecs.register_error(_ESCAPE, _escape_undecodable)


def _undecodable(text: str) -> bool:
    return any("\udc00" <= ch <= "\udcff" for ch in text)


def _strip_terminator(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith(("\n", "\r")):
        return line[:-1]
    return line


@dataclass(frozen=True)
class Declaration:
    """What bagit.txt says; ``version_info`` is None when the version is missing or malformed."""

    version: str | None
    version_info: tuple[int, int] | None
    encoding: str | None
    codec: str  # the Python codec the other tag files are read with

    def at_least(self, major: int, minor: int) -> bool:
        """Whether the rules of version ``major.minor`` apply (an unknown version gets 1.0's)."""
        return self.version_info is None or self.version_info >= (major, minor)


def parse_declaration(data: bytes, report: Report) -> Declaration:
    """Parse bagit.txt (RFC 8493 §2.1.1): two lines, UTF-8, no BOM."""
    if data.startswith(codecs.BOM_UTF8):
        report.add("BAGIT-DECLARATION-BOM", "bagit.txt", line=1)
        data = data[len(codecs.BOM_UTF8):]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        report.add("BAGIT-DECLARATION-NOT-UTF8", "bagit.txt")
        text = data.decode("utf-16", errors=_ESCAPE)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            report.add("BAGIT-DECLARATION-NOT-UTF8", "bagit.txt")
            text = data.decode("utf-8", errors=_ESCAPE)
    lines = _LINE_END.split(text)
    while lines and lines[-1].strip() == "":
        lines.pop()
    if len(lines) != 2:
        report.add("BAGIT-DECLARATION-LINE-COUNT", "bagit.txt", count=len(lines))

    version = _declared(lines, 0, "BagIt-Version", "M.N", report)
    encoding = _declared(lines, 1, "Tag-File-Character-Encoding", "ENCODING", report)

    version_info: tuple[int, int] | None = None
    if version is not None:
        match = _VERSION.match(version)
        if match is None:
            report.add("BAGIT-VERSION-MALFORMED", "bagit.txt", line=1, version=printable(version))
            version = None
        else:
            version_info = (int(match[1]), int(match[2]))
            if version_info not in SUPPORTED_VERSIONS:
                report.add("BAGIT-VERSION-UNSUPPORTED", "bagit.txt", line=1, version=version)
                version_info = None

    codec = "utf-8"
    if encoding is not None:
        try:
            if not _CHARSET.match(encoding):
                raise LookupError(encoding)
            info = codecs.lookup(encoding)
            if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
                raise LookupError(encoding)  # base64, rot13, idna …: not character sets
            codec = info.name
        except LookupError:
            report.add("BAGIT-ENCODING-UNKNOWN", "bagit.txt", line=2,
                       encoding=printable(encoding))
        else:
            if codec not in ("utf-8", "utf-8-sig"):
                report.add("BAGIT-ENCODING-NOT-UTF8", "bagit.txt", line=2, encoding=encoding)
    return Declaration(version=version, version_info=version_info, encoding=encoding, codec=codec)


def _declared(lines: list[str], index: int, label: str, placeholder: str,
              report: Report) -> str | None:
    """The value of ``label``: strictly on line ``index + 1``, else found leniently anywhere."""
    expected = f"{label}: {placeholder}"
    line = lines[index] if index < len(lines) else ""
    strict = re.match(rf"^{re.escape(label)}: (\S+)$", line)
    if strict:
        return strict[1]
    report.add("BAGIT-DECLARATION-MALFORMED", "bagit.txt", line=index + 1, expected=expected,
               found=printable(line))
    for other in lines:
        lenient = re.match(rf"^\s*{re.escape(label)}\s*:\s*(.*?)\s*$", other, re.IGNORECASE)
        if lenient and lenient[1]:
            return lenient[1]
    return None


def read_lines(stream: BinaryIO, *, codec: str, name: str, report: Report
               ) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line, without its terminator (LF, CR or CRLF).

    A UTF-8 byte-order mark is reported and skipped; undecodable lines and overlong lines are
    reported (overlong ones are skipped). The stream is read to its end, in fixed-size pieces.
    """
    peek = getattr(stream, "peek", None)
    if codec in ("utf-16", "utf-32") and peek is not None:
        head = peek(4)[:4]
        boms = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) if codec == "utf-16" else (
            codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
        if not head.startswith(boms):
            codec += "-be"  # no byte-order mark: big-endian (RFC 2781 §4.3)
    text = io.TextIOWrapper(stream, encoding=codec, errors=_ESCAPE, newline="")
    number = 0

    def readline(limit: int) -> str:
        try:
            return text.readline(limit)
        except (UnicodeError, ValueError):  # a decoder that gives up despite the handler
            report.add("BAGIT-TAGFILE-DECODING", name, file=name, line=number + 1,
                       encoding=codec)
            return ""  # nothing more can be read from this file

    try:
        while True:
            chunk = readline(MAX_LINE + 2)
            if not chunk:
                return
            number += 1
            line = _strip_terminator(chunk)
            if number == 1 and line.startswith("\ufeff"):
                if codec.startswith("utf-8"):
                    report.add("BAGIT-TAGFILE-BOM", name, file=name, line=1)
                line = line[1:]
            if len(line) > MAX_LINE or (line == chunk and len(chunk) == MAX_LINE + 2):
                report.add("BAGIT-TAGFILE-LINE-TOO-LONG", name, file=name, line=number,
                           limit=MAX_LINE)
                while chunk and not chunk.endswith(("\n", "\r")):
                    chunk = readline(MAX_LINE)
                continue
            if _undecodable(line):
                report.add("BAGIT-TAGFILE-DECODING", name, file=name, line=number, encoding=codec)
            yield number, line
    finally:
        text.detach()  # the caller closes the stream


# --- bag-info.txt ------------------------------------------------------------------------------

@dataclass(frozen=True)
class InfoElement:
    label: str
    value: str
    line: int


#: Reserved elements that SHOULD NOT be repeated (RFC 8493 §2.2.2); Payload-Oxum MUST NOT be.
_SINGLE = frozenset({"bagging-date", "bag-size", "bag-group-identifier", "bag-count",
                     "packing-date", "package-size"})


def parse_info(lines: Iterator[tuple[int, str]], *, name: str, declaration: Declaration,
               report: Report) -> list[InfoElement]:
    """Parse bag-info.txt (package-info.txt before 0.96): labels, values, continuation lines."""
    elements: list[InfoElement] = []
    label_error = Severity.ERROR if declaration.at_least(1, 0) else Severity.WARNING
    current: tuple[str, list[str], int] | None = None

    def close() -> None:
        if current is not None:
            elements.append(InfoElement(current[0], " ".join(current[1]).strip(), current[2]))

    for number, text in lines:
        if text.strip() == "":
            continue
        if text[0] in " \t":
            if current is None:
                report.add("BAGIT-INFO-LINE-MALFORMED", name, file=name, line=number,
                           text=printable(text))
            else:
                current[1].append(text.strip())
            continue
        close()
        current = None
        label, colon, value = text.partition(":")
        if not colon or not label.strip():
            report.add("BAGIT-INFO-LINE-MALFORMED", name, file=name, line=number,
                       text=printable(text))
            continue
        if label != label.strip():
            report.add("BAGIT-INFO-LABEL-WHITESPACE", name, file=name, line=number,
                       severity=label_error, label=printable(label))
        current = (label.strip(), [value.strip()], number)
    close()
    _check_info(elements, name=name, declaration=declaration, report=report)
    return elements


def _check_info(elements: list[InfoElement], *, name: str, declaration: Declaration,
                report: Report) -> None:
    seen: dict[str, int] = {}
    date_label = "bagging-date" if declaration.at_least(0, 96) else "packing-date"
    for element in elements:
        key = element.label.lower()
        seen[key] = seen.get(key, 0) + 1
        if key == "payload-oxum":
            if seen[key] > 1:
                report.add("BAGIT-INFO-OXUM-REPEATED", name, file=name, line=element.line)
            if not _OXUM.match(element.value):
                report.add("BAGIT-INFO-OXUM-MALFORMED", name, file=name, line=element.line,
                           value=printable(element.value))
        elif key in _SINGLE and seen[key] > 1:
            report.add("BAGIT-INFO-REPEATED", name, file=name, line=element.line,
                       label=element.label)
        if key == date_label and not _is_date(element.value):
            report.add("BAGIT-INFO-DATE-FORMAT", name, file=name, line=element.line,
                       label=element.label, value=printable(element.value))


def _is_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def payload_oxum(elements: list[InfoElement]) -> tuple[int, int, int] | None:
    """``(octets, files, line)`` of the first well-formed Payload-Oxum, if any."""
    for element in elements:
        if element.label.lower() == "payload-oxum":
            match = _OXUM.match(element.value)
            if match:
                return int(match[1]), int(match[2]), element.line
    return None


# --- manifests and fetch.txt ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ManifestLine:
    """One ``checksum filepath`` line; ``path`` decoded, ``written`` as it stood in the file."""

    path: str
    written: str
    checksum: str  # lower case; "" when malformed
    line: int


def decode_path(written: str, *, name: str, line: int, declaration: Declaration,
                report: Report) -> str:
    """A manifest or fetch path as BagIt defines it: 1.0 percent-decodes LF, CR and %.

    Before 1.0 nothing is decoded (``data/%7Efile`` names a file called ``%7Efile``). A leading
    ``./`` is tolerated with a warning.
    """
    path = written
    if declaration.at_least(1, 0):
        if "%" in _PERCENT.sub("", path):
            report.add("BAGIT-MANIFEST-PATH-PERCENT", name, line=line, manifest=name,
                       file=printable(path))
        path = _PERCENT.sub(lambda m: {"0a": "\n", "0d": "\r", "25": "%"}[m[1].lower()], path)
    if path.startswith("./"):
        while path.startswith("./"):
            path = path[2:]
        report.add("BAGIT-MANIFEST-PATH-DOT-SLASH", name, line=line, manifest=name,
                   written=printable(written), file=printable(path))
    return path


def iter_manifest(lines: Iterator[tuple[int, str]], *, name: str, hex_length: int | None,
                  algorithm: str, declaration: Declaration, report: Report
                  ) -> Iterator[ManifestLine]:
    """Parse a (tag)manifest one line at a time: ``checksum`` then one or more spaces or tabs,
    then ``filepath`` (each line's findings as it is read)."""
    for number, text in lines:
        if text.strip() == "":
            continue
        match = _MANIFEST_LINE.match(text)
        if match is None:
            report.add("BAGIT-MANIFEST-LINE-MALFORMED", name, file=name, line=number,
                       text=printable(text))
            continue
        checksum, written = match[1], match[2]
        if not _HEX.match(checksum) or (hex_length is not None and len(checksum) != hex_length):
            report.add("BAGIT-MANIFEST-CHECKSUM-MALFORMED", name, file=name, line=number,
                       checksum=printable(checksum), algorithm=algorithm,
                       length=hex_length or "?")
            checksum = ""
        path = decode_path(written, name=name, line=number, declaration=declaration,
                           report=report)
        yield ManifestLine(path=path, written=written, checksum=checksum.lower(), line=number)


@dataclass(frozen=True)
class FetchLine:
    url: str
    length: int | None
    path: str
    line: int




def iter_fetch(lines: Iterator[tuple[int, str]], *, declaration: Declaration,
               report: Report) -> Iterator[FetchLine]:
    """Parse fetch.txt (RFC 8493 §2.2.3) one line at a time: ``url length filepath``; length is
    octets or ``-``.

    The RFC wants ``url`` to be an absolute URI. A relative reference (no scheme, e.g. the
    ``../<object key>`` lines of this repository's own AIP versions, resolved against the bag's
    folder on storage) is a documented extension: BAGIT-FETCH-URL-RELATIVE (a warning, once
    per fetch file at its first such line, with their count), and the line is checked like any
    other. The validator never fetches, so a file it names that is not in the bag is
    BAGIT-FETCH-INCOMPLETE whatever its URL. BAGIT-FETCH-URL-RELATIVE is reported after the
    last line.
    """
    relative: tuple[int, str] | None = None  # the first relative line: (number, url)
    relative_count = 0
    for number, text in lines:
        if text.strip() == "":
            continue
        match = _FETCH_LINE.match(text)
        if match is None or not (match[2] == "-" or match[2].isdigit()) or not _url_form(
                match[1]):
            report.add("BAGIT-FETCH-LINE-MALFORMED", "fetch.txt", line=number,
                       text=printable(text))
            continue
        if not _URL_SCHEME.match(match[1]):
            relative_count += 1
            relative = relative or (number, match[1])
        path = decode_path(match[3], name="fetch.txt", line=number, declaration=declaration,
                           report=report)
        length = None if match[2] == "-" else int(match[2])
        yield FetchLine(url=match[1], length=length, path=path, line=number)
    if relative is not None:
        report.add("BAGIT-FETCH-URL-RELATIVE", "fetch.txt", line=relative[0],
                   url=printable(relative[1]), count=relative_count)


def _url_form(url: str) -> bool:
    """An absolute URI (``scheme:…``) or a relative reference whose first segment has no
    ``:`` (RFC 3986 §4.2: ``1a:b`` is neither)."""
    return bool(_URL_SCHEME.match(url)) or ":" not in url.split("/", 1)[0]
