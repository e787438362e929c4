"""The shortcuts that make PRONOM identification faster change no answer.

``preservation.formats`` (patterns compiled by ``preservation.format_patterns``) skips formats
whose BOF signatures need another first byte, and looks for a regex's required literal with
``bytes.find`` before running the regex. Both are derived from the parsed patterns; here the
answers are compared, buffer by buffer, with signatures loaded with the shortcuts switched off
(``format_patterns.literals`` answering "nothing known"), on generated files, crafted heads that
start with every signature's own literal prefix, and texts that contain the literals the
prefilters look for.
"""

from __future__ import annotations

import random
import re
import threading
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from preservation import format_patterns, formats
from preservation.formats import FormatIdentifier, can_fork
from sip.samples import minimal_pdf


@pytest.fixture(scope="module")
def both() -> tuple[formats._Signatures, formats._Signatures]:
    fast = formats._load_signatures(None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(format_patterns, "literals", lambda _compiled: (None, []))
        plain = formats._load_signatures(None)
    with_signatures = sum(1 for s in plain.signatures if s)
    assert all(len(c) == with_signatures for c in plain.by_first_byte)  # no index
    return fast, plain


def buffers(fast: formats._Signatures) -> list[bytes]:
    rng = random.Random(4)
    docx = BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    out = [
        b"", b"\x00", rng.randbytes(300), rng.randbytes(200_000), docx.getvalue(),
        minimal_pdf("x", padding=rng.randbytes(40_000).hex().encode()),
        b"%PDF-1.4\n<x:xmpmeta xmlns:pdfaid='http://www.aiim.org/pdfa/ns/id/'>"
        b"<pdfaid:part>2</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>",
        b"  0\nSECTION\n  2\nHEADER\n  9\n$ACADVER\n  1\nAC1015\n" + b"0" * 5000,
        b"0\r\nSECTION\r\n  2\r\nHEADER\r\n" + b"0\r\n" * 3000 + b"0\r\nEOF\r\n",
        "văn bản lưu trữ\n".encode() * 500,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(3000),
    ]
    # a head starting with each signature's literal prefix (every 3rd, to keep the test short),
    # with the other literals the pattern needs appended, so deeper tests run too
    for number, signatures in enumerate(fast.signatures):
        if number % 3:
            continue
        for _, tests in signatures:
            for test, _tail in tests[:1]:
                pattern = getattr(test, "__self__", None)
                if isinstance(pattern, re.Pattern):
                    first, runs = format_patterns.literals(pattern)
                    start = bytes([first]) if first is not None else b""
                    literal = b"".join(r[0] for r in runs)
                    out.append(start + literal + rng.randbytes(64) + literal)
    return out


def test_shortcuts_give_the_same_matches(
        both: tuple[formats._Signatures, formats._Signatures]) -> None:
    fast, plain = both
    cases = buffers(fast)
    assert len(cases) > 300
    for data in cases:
        head, tail = data[:fast.bufsize], data[-fast.bufsize:]
        assert fast.match_signatures(head, tail) == plain.match_signatures(head, tail), data[:40]


def test_literal_analysis() -> None:
    literals = format_patterns.literals
    assert literals(re.compile(rb"(?s)\A%PDF-1\.4")) == (ord("%"), [(b"%PDF-1.4", 8)])
    assert literals(re.compile(rb"(?s)\A.{0,8}RED2")) == (None, [(b"RED2", 12)])
    assert literals(re.compile(rb"(?s)\A.*PMCD001")) == (None, [(b"PMCD001", None)])
    assert literals(re.compile(rb"(?i)\AABC")) == (None, [])  # case-insensitive: no shortcut
    first, runs = literals(re.compile(rb"(?s)0(?:\r\n|\n)SECTION"))
    assert first == ord("0") and max(runs, key=lambda r: len(r[0]))[0] == b"SECTION"


def test_equal_answers_are_one_shared_object(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.pdf"
        path.write_bytes(minimal_pdf(f"document {i}"))
        paths.append(path)
    with FormatIdentifier() as identifier:
        answers = [identifier.identify(p) for p in paths]
    assert answers[0].puid is not None
    assert answers[0] is answers[1] is answers[2]


def test_parallel_identification_gives_the_serial_answers(tmp_path: Path) -> None:
    rng = random.Random(9)
    paths = []
    for i in range(40):
        kind = i % 4
        path = tmp_path / f"{i}.{('pdf', 'txt', 'bin', 'png')[kind]}"
        data = (minimal_pdf(f"d{i}"), "văn bản\n".encode() * 20, rng.randbytes(500),
                b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(100))[kind]
        path.write_bytes(data)
        paths.append(path)
    paths.append(tmp_path / "missing.pdf")
    with FormatIdentifier() as identifier:
        serial = [identifier.identify(p) for p in paths[:-1]]
        parallel = list(identifier.identify_parallel(paths, processes=2, chunksize=4))
        in_process = list(identifier.identify_parallel(paths[:3], processes=1))
    assert [name for name, _ in parallel] == [str(p) for p in paths]
    assert [answer for _, answer in parallel[:-1]] == serial
    assert all(a is b for (_, a), b in zip(parallel, serial, strict=False))  # shared objects
    assert isinstance(parallel[-1][1], FileNotFoundError)
    assert [answer for _, answer in in_process] == serial[:3]


def test_parallel_identification_checks_each_file_first(tmp_path: Path) -> None:
    """``check`` runs before a file is opened: its OSError is the answer; in workers or here
    (another thread running: no fork)."""
    paths = []
    for i in range(12):
        path = tmp_path / f"{i}.pdf"
        path.write_bytes(minimal_pdf(f"d{i}"))
        paths.append(str(path))
    refused = {paths[3], paths[7]}

    def check(name: str) -> None:
        if name in refused:
            raise PermissionError(13, "refused by the check", name)

    release = threading.Event()
    with FormatIdentifier() as identifier:
        serial = identifier.identify(paths[0])
        parallel = list(identifier.identify_parallel(paths, processes=2, check=check))
        other = threading.Thread(target=release.wait)
        other.start()
        try:
            assert not can_fork()
            here = list(identifier.identify_parallel(paths, processes=2, check=check))
        finally:
            release.set()
            other.join()
    for answers in (parallel, here):
        assert [name for name, _ in answers] == paths
        for name, answer in answers:
            if name in refused:
                assert isinstance(answer, PermissionError)
                assert answer.strerror == "refused by the check"
            else:
                assert answer is serial
