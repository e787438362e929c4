"""Hostile package paths: what is wrong with a package path, and which names collide.

Every path named by a package (a manifest line, a ZIP entry, a METS ``xlink:href``) is hostile until
checked. :func:`path_problems` says what is wrong with one package-relative path (``/``-separated);
:func:`collisions` finds names that would become one file after Unicode NFC normalisation or on a
case-insensitive filesystem. :func:`printable` makes any such name safe to show in a report or a
terminal. Nothing here touches the filesystem: callers match package paths against what they listed
themselves, so a hostile path is never opened, joined or resolved.

Problem codes (stable, language-neutral; callers map them to their own finding codes):

========================  ==========================================================  =========
code                      meaning                                                     advice
========================  ==========================================================  =========
``empty``                 the path is empty                                           reject
``absolute``              starts with ``/`` or ``\\`` (rooted)                         reject
``drive-letter``          starts with a Windows drive (``C:``)                        reject
``unc``                   a UNC or device path (``//server``, ``\\\\?\\``)              reject
``backslash``             contains ``\\`` (a separator on Windows)                     reject
``dot-dot``               a ``..`` segment                                            reject
``dot-segment``           a ``.`` segment                                             reject
``tilde``                 first segment starts with ``~`` (home-directory expansion)  reject
``empty-segment``         ``//`` inside, or a trailing ``/``                          reject
``nul``                   contains NUL                                                reject
``control-character``     contains another C0/C1 control character (LF, CR, ESC, …)   reject
``invalid-surrogate``     contains a lone surrogate (bytes that were not valid text)  reject
``bidi-control``          bidirectional override/isolate characters (spoofing)        warn
``windows-reserved``      a Windows device name (CON, NUL, COM1 …) or a name ending   warn
                          in a dot or a space
``windows-character``     a character Windows forbids in names (``<>:"|?*``)          warn
========================  ==========================================================  =========

``UNSAFE`` (reject) problems let a path escape its root, alias another file or break tools.
``PORTABILITY`` (warn) problems are legal here but break copies on other systems or mislead
whoever reads the name.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

__all__ = [
    "PORTABILITY",
    "UNSAFE",
    "collisions",
    "path_problems",
    "printable",
]

UNSAFE = frozenset({
    "empty", "absolute", "drive-letter", "unc", "backslash", "dot-dot", "dot-segment", "tilde",
    "empty-segment", "nul", "control-character", "invalid-surrogate",
})
PORTABILITY = frozenset({"bidi-control", "windows-reserved", "windows-character"})

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x01-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# LRE RLE PDF LRO RLO (U+202A–202E) and LRI RLI FSI PDI (U+2066–2069): they reorder what is shown.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_WINDOWS_CHARACTER = re.compile(r'[<>:"|?*]')
_WINDOWS_DEVICE = re.compile(
    r"^(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³]|CONIN\$|CONOUT\$)(\..*)?$", re.IGNORECASE)


def path_problems(relpath: str) -> list[str]:
    """Problem codes of one package-relative, ``/``-separated path, in a stable order.

    An empty list means the path is safe to match against the package's own listing. The check is
    purely lexical: ``data/%7Efile`` and ``data/~file`` are fine (no expansion happens there),
    ``~/x``, ``../x``, ``/x``, ``C:x`` and ``a\\b`` are not.
    """
    if relpath == "":
        return ["empty"]
    problems: list[str] = []

    def add(code: str) -> None:
        if code not in problems:
            problems.append(code)

    if relpath.startswith(("//", "\\\\", "/\\", "\\/")):
        add("unc")
    elif relpath.startswith(("/", "\\")):
        add("absolute")
    if _DRIVE.match(relpath):
        add("drive-letter")
    if "\\" in relpath:
        add("backslash")
    segments = relpath.split("/")
    if segments[0].startswith("~"):
        add("tilde")
    inner = segments[1:] if relpath.startswith("/") else segments
    if relpath.startswith("//"):
        inner = segments[2:]
    for segment in inner:
        # Windows also splits on backslashes: "a\..\b" climbs there.
        for part in segment.split("\\"):
            if part == "..":
                add("dot-dot")
            elif part == ".":
                add("dot-segment")
    if any(s == "" for s in inner):
        add("empty-segment")
    if "\x00" in relpath:
        add("nul")
    if _CONTROL.search(relpath):
        add("control-character")
    if _SURROGATE.search(relpath):
        add("invalid-surrogate")
    if _BIDI.search(relpath):
        add("bidi-control")
    for segment in segments:
        if segment and (_WINDOWS_DEVICE.match(segment)
                        or (segment not in (".", "..") and segment[-1] in ". ")):
            add("windows-reserved")
            break
    # A drive letter's colon is reported as drive-letter, not again as a forbidden character.
    rest = relpath[2:] if _DRIVE.match(relpath) else relpath
    if _WINDOWS_CHARACTER.search(rest):
        add("windows-character")
    return problems


def _key_nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def _key_case(name: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def collisions(paths: Iterable[str]) -> list[tuple[str, str, str]]:
    """Pairs ``(a, b, kind)`` of distinct paths that would become one on some filesystems.

    ``kind`` is ``"nfc"`` when ``a`` and ``b`` are equal after Unicode NFC normalisation (macOS
    and many tools normalise names, so one file silently replaces the other) and ``"case"`` when
    they differ only by case (Windows and macOS by default). Whole paths are compared; pass folder
    paths too if folders matter. Within a group of colliding paths each is paired with the first
    (sorted), so a group of *n* gives *n − 1* pairs; a pair that collides by NFC is not reported
    again as a case collision. The result is sorted.
    """
    # One pass, memory for the distinct names only: a group is a list only once two names
    # share its key (a real collision, rare), else the one name itself.
    by_nfc: dict[str, str | list[str]] = {}
    for name in paths:
        key = _key_nfc(name)
        held = by_nfc.setdefault(key, name)
        if held is name or held == name:
            continue
        if isinstance(held, str):
            by_nfc[key] = [held, name]
        elif name not in held:
            held.append(name)
    out: list[tuple[str, str, str]] = []
    by_case: dict[int, str | list[str]] = {}  # hash of the case key: equal keys, equal hashes
    for held in by_nfc.values():
        if isinstance(held, list):
            held.sort()
            out += [(held[0], other, "nfc") for other in held[1:]]
            first = held[0]
        else:
            first = held
        key_hash = hash(_key_case(first))
        seen = by_case.setdefault(key_hash, first)
        if seen is first:
            continue
        if isinstance(seen, str):
            by_case[key_hash] = [seen, first]
        else:
            seen.append(first)
    del by_nfc
    for candidates in by_case.values():
        if isinstance(candidates, list):  # same hash: group by the case key itself
            groups: dict[str, list[str]] = defaultdict(list)
            for name in candidates:
                groups[_key_case(name)].append(name)
            for group in groups.values():
                group.sort()
                out += [(group[0], other, "case") for other in group[1:]]
    return sorted(out)


def printable(name: str) -> str:
    """``name`` made safe to print: controls, lone surrogates and bidi overrides escaped.

    Undecodable bytes (lone surrogates U+DC80–U+DCFF, as ``os.fsdecode`` makes them) become
    ``\\xNN``; C0/C1 controls become ``\\xNN`` (``\\n``, ``\\r``, ``\\t`` by name); other lone
    surrogates and bidi controls become ``\\uXXXX``. A backslash is kept as is. The result never
    moves a terminal's cursor, changes its colours or reorders the text around it.
    """
    if not (_CONTROL.search(name) or _SURROGATE.search(name) or _BIDI.search(name)
            or "\x00" in name):
        return name
    out = []
    for ch in name:
        code = ord(ch)
        if ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif code <= 0x1F or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF or _BIDI.match(ch):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)
