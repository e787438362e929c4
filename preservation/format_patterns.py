"""fido's signature patterns compiled for speed, with the same answers as fido's own matching.

:func:`compile_pattern` turns one ``<pattern>`` element into a test on the head or the tail
buffer, as ``Fido.match_formats`` applies it (BOF: ``re.match`` on the head; EOF: ``re.search``
on the tail; VAR/IFB: ``re.search`` on the head), and adds shortcuts derived from the parsed
regex that can only skip work whose outcome is already known:

* the byte a BOF match must start with (so whole formats can be skipped by the first byte);
* a literal every match must contain, looked for with ``bytes.find`` (several times faster than
  the regex engine's scan) before the regex runs, and at most once per buffer (:class:`Finds`).

Used by :mod:`preservation.formats`; ``tests/scale/test_identification_shortcuts.py`` checks that
the shortcuts change no match.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class BrokenPatternError(Exception):
    """A signature pattern fido could not evaluate (fido skips the rest of that format)."""


def _broken_pattern(_buffer: bytes) -> Any:
    raise BrokenPatternError


# (test, applies to the tail buffer) — test is a bound ``re.Pattern.match``/``search``
Test = tuple[Callable[[bytes], Any], bool]

class Finds:
    """First positions of literals in the buffers of one identification, each looked up once.

    Nineteen DXF signatures need ``$ACADVER``, eight PDF/A ones ``xmlns:pdfaid=``: one scan of
    the head answers them all. :meth:`_Signatures.match_signatures` clears it per file (keys
    are buffer ids, valid only while those buffers live).
    """

    def __init__(self) -> None:
        self.known: dict[tuple[int, bytes], int] = {}

    def first(self, buffer: bytes, literal: bytes) -> int:
        key = (id(buffer), literal)
        at = self.known.get(key)
        if at is None:
            at = self.known[key] = buffer.find(literal)
        return at


def compile_pattern(pattern: Any, finds: Finds) -> tuple[Test, int | None] | None:
    """One fido ``<pattern>`` as a test (and the first byte a BOF match must start with, when
    the pattern fixes it); ``None`` for a position fido ignores (always passes).

    Mirrors ``Fido.match_formats``: BOF is ``re.match`` on the head, EOF ``re.search`` on the
    tail, VAR and IFB ``re.search`` on the head. A pattern fido would fail on (no position, no
    regex, a regex that does not compile) becomes a test that raises, at match time, as in fido.

    Speed, same answers: a pattern that is not anchored on a literal first byte but needs a
    literal of a few bytes somewhere in every match (``0\\r\\nSECTION…``, ``.{32768,}…PMCD001``)
    is tried only if that literal occurs in the buffer (``bytes.__contains__`` runs at memory
    speed; the regex engine would try every start position). Without the literal no match is
    possible, so skipping the regex changes no answer.
    """
    position = pattern.find("position")
    regex = pattern.find("regex")
    if position is None or regex is None or regex.text is None:
        return (_broken_pattern, False), None
    pos = position.text
    if pos not in ("BOF", "EOF", "VAR", "IFB"):
        return None
    try:
        compiled = re.compile(regex.text.encode("utf8"))
    except re.error:
        logger.warning("fido signature pattern does not compile: %r", regex.text)
        return (_broken_pattern, False), None
    first, runs = literals(compiled)
    if pos == "BOF":
        if first is not None:
            return (compiled.match, False), first
        return (_bof_prefilter(compiled.match, runs, finds), False), None
    return (_search_prefilter(compiled.search, runs, finds), pos == "EOF"), None


#: Shortest required literal worth a look before the regex.
_MIN_PREFILTER = 3
#: A BOF regex whose literal must end within this many bytes fails fast on its own.
_CHEAP_SPAN = 512

# (literal, the furthest it can end from the start of a match, None: no bound)
_Run = tuple[bytes, int | None]


def _bof_prefilter(test: Callable[[bytes], Any], runs: list[_Run], finds: Finds
                   ) -> Callable[[bytes], Any]:
    """``re.match`` of a pattern not anchored on a literal byte (``\\A.{32768,70468}…PMCD001``):
    look for its longest required literal in the span where it must lie first."""
    usable = [r for r in runs if len(r[0]) >= _MIN_PREFILTER]
    if not usable:
        return test
    literal, end = max(usable, key=lambda r: len(r[0]))
    if end is not None and end <= _CHEAP_SPAN:
        return test
    if end is None:
        def anywhere(buffer: bytes) -> Any:
            return finds.first(buffer, literal) >= 0 and test(buffer)
        return anywhere

    def within(buffer: bytes) -> Any:
        return buffer.find(literal, 0, end) >= 0 and test(buffer)

    return within


def _search_prefilter(test: Callable[..., Any], runs: list[_Run], finds: Finds
                      ) -> Callable[[bytes], Any]:
    """``re.search``: the regex engine tries every position (e.g. every "0" of
    ``0\\r\\nSECTION``) and scans for a literal start byte by byte; ``bytes.find`` is several
    times faster. So look for the longest required literal first; when the pattern starts with
    it, the search starts at its first occurrence (no match can start before it)."""
    usable = [r for r in runs if len(r[0]) >= _MIN_PREFILTER]
    if not usable:
        return test
    if runs[0][1] == len(runs[0][0]) and runs[0] in usable:
        prefix = runs[0][0]

        def from_prefix(buffer: bytes) -> Any:
            at = finds.first(buffer, prefix)
            return at >= 0 and test(buffer, at)

        return from_prefix
    literal = max(usable, key=lambda r: len(r[0]))[0]

    def guarded(buffer: bytes) -> Any:
        return finds.first(buffer, literal) >= 0 and test(buffer)

    return guarded


def literals(compiled: re.Pattern[bytes]) -> tuple[int | None, list[_Run]]:
    """The byte a match at position 0 must start with, and the literals every match holds.

    Read from the parsed pattern: only top-level literal runs count (every top-level item of a
    regex must match), each with the furthest offset at which it can end. Any doubt
    (case-insensitive matching, a parser that cannot be read) gives ``(None, [])``: no
    shortcut, the regex alone decides.
    """
    try:
        from re import _constants as sre  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(compiled.pattern, compiled.flags)
        if parsed.state.flags & (sre.SRE_FLAG_IGNORECASE | sre.SRE_FLAG_LOCALE):
            return None, []
        items = list(parsed)
        start = 0
        while start < len(items) and items[start][0] is sre.AT and items[start][1] in (
                sre.AT_BEGINNING_STRING, sre.AT_BEGINNING):
            start += 1
        first = int(items[start][1]) if start < len(items) and \
            items[start][0] is sre.LITERAL else None
        runs: list[_Run] = []
        run = bytearray()
        offset: int | None = 0  # furthest end of everything before the current item
        for op, av in items[start:]:
            if op is sre.LITERAL:
                run.append(av)
            else:
                if run:
                    runs.append((bytes(run), offset))
                    run = bytearray()
                width = _parser.SubPattern(parsed.state, [(op, av)]).getwidth()[1]
                if offset is not None:
                    offset = None if width >= sre.MAXREPEAT - 1 else offset + width
                continue
            if offset is not None:
                offset += 1
        if run:
            runs.append((bytes(run), offset))
        return first, runs
    except Exception:  # a future re module: no shortcut, same answers
        return None, []
