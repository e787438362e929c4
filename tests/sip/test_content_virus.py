"""Virus scanning through clamd (sip/content_virus.py), against a protocol stand-in.

ClamAV cannot fetch signatures offline here, so a real clamd cannot answer. The tests talk to
:class:`tests.sip.pdf_fixtures.ClamdStandIn`, a small server thread that speaks clamd's socket
protocol (PING, VERSION, INSTREAM with 4-byte big-endian chunk lengths) and flags the EICAR test
string — it checks our side of the protocol, not any virus detection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from preservation.findings import Report, Severity
from sip.content_virus import CHUNK, GIVE_UP_AFTER, Clamd, ClamdError, scan_package
from tests.sip.pdf_fixtures import EICAR, ClamdStandIn, codes, found, make_package, run

CLEAN = "representations/rep1/data/H49.01.2025.01.1.txt"
INFECTED = "representations/rep1/data/H49.01.2025.01.2.txt"


@pytest.fixture
def socket_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short folder for unix sockets (their paths are limited to ~107 bytes)."""
    return tmp_path_factory.mktemp("clamd")


@pytest.fixture
def clamd(socket_dir: Path) -> Iterator[ClamdStandIn]:
    with ClamdStandIn(socket_dir) as server:
        yield server


def test_not_configured_gives_one_package_finding(tmp_path: Path) -> None:
    files = {f"data/{i}.txt": b"van ban\n" for i in range(5)}
    report, _ = run(tmp_path, files, clamd=None)
    (finding,) = found(report, "VIRUS-NOT-CHECKED")
    assert finding.location.path is None and finding.severity is Severity.NOT_CHECKED
    assert report.valid


def test_clean_and_infected_files(tmp_path: Path, clamd: ClamdStandIn) -> None:
    report, _ = run(tmp_path, {CLEAN: b"Bien ban\n", INFECTED: EICAR}, clamd=clamd.address)
    (virus,) = found(report, "VIRUS-FOUND")
    assert virus.location.path == INFECTED and virus.severity is Severity.ERROR
    assert virus.params["signature"] == "Eicar-Test-Signature"
    (scanned,) = found(report, "VIRUS-SCANNED")
    assert scanned.location.path is None and scanned.params["count"] == "2"
    assert "Stand-in" in scanned.params["engine"]
    assert not report.valid
    assert "VIRUS-NOT-CHECKED" not in codes(report)


def test_tcp_address(tmp_path: Path, socket_dir: Path) -> None:
    with ClamdStandIn(socket_dir, tcp=True) as server:
        report, _ = run(tmp_path, {INFECTED: EICAR}, clamd=server.address)
    assert found(report, "VIRUS-FOUND", INFECTED)


def test_files_are_streamed_in_chunks(tmp_path: Path, clamd: ClamdStandIn) -> None:
    big = bytes(range(256)) * (3 * CHUNK // 256 + 7)
    report, _ = run(tmp_path, {CLEAN: big}, clamd=clamd.address)
    assert found(report, "VIRUS-SCANNED")
    assert len(clamd.chunks) == 4 and max(clamd.chunks) <= CHUNK
    assert sum(clamd.chunks) == len(big)


def test_unreachable_clamd_is_not_checked(tmp_path: Path, socket_dir: Path) -> None:
    address = f"unix://{socket_dir}/nobody-listens.ctl"
    report, _ = run(tmp_path, {CLEAN: b"x", INFECTED: EICAR}, clamd=address)
    (finding,) = found(report, "VIRUS-NOT-CHECKED")
    assert "cannot connect" in finding.params["reason"]
    assert report.valid  # not checked is not a rejection


@pytest.mark.parametrize("address", ["http://127.0.0.1:3310", "tcp://127.0.0.1", "tcp://h:x"])
def test_unusable_address_is_not_checked(tmp_path: Path, address: str) -> None:
    report, _ = run(tmp_path, {CLEAN: b"x"}, clamd=address)
    assert len(found(report, "VIRUS-NOT-CHECKED")) == 1


def test_error_for_every_file_stops_the_scan(tmp_path: Path, socket_dir: Path) -> None:
    files = {f"data/{i}.txt": b"noi dung\n" for i in range(GIVE_UP_AFTER + 4)}
    with ClamdStandIn(socket_dir, mode="error") as server:
        report, _ = run(tmp_path, files, clamd=server.address)
        assert server.scans == GIVE_UP_AFTER  # gave up instead of trying every file
    (finding,) = found(report, "VIRUS-NOT-CHECKED")
    assert "no signatures loaded" in finding.params["reason"]
    assert not found(report, "VIRUS-FILE-NOT-CHECKED")
    assert not found(report, "VIRUS-SCANNED")


def test_file_over_clamd_stream_limit_is_not_checked(tmp_path: Path, socket_dir: Path) -> None:
    big = "representations/rep1/data/video.mp4"
    files = {CLEAN: b"ok\n", big: b"\0" * (2 * CHUNK), INFECTED: EICAR}
    with ClamdStandIn(socket_dir, max_stream=CHUNK) as server:
        report, _ = run(tmp_path, files, clamd=server.address)
    (skipped,) = found(report, "VIRUS-FILE-NOT-CHECKED")
    assert skipped.location.path == big
    assert "size limit exceeded" in skipped.params["reason"]
    assert found(report, "VIRUS-FOUND", INFECTED)
    assert found(report, "VIRUS-SCANNED")[0].params["count"] == "2"


def test_error_on_the_first_files_only_is_reported_per_file(tmp_path: Path, socket_dir: Path
                                                            ) -> None:
    big = "data/a-big.bin"
    files = {big: b"\0" * (2 * CHUNK), "data/b.txt": b"ok\n"}
    with ClamdStandIn(socket_dir, max_stream=CHUNK) as server:
        report, _ = run(tmp_path, files, clamd=server.address)
    assert [f.location.path for f in found(report, "VIRUS-FILE-NOT-CHECKED")] == [big]
    assert "VIRUS-NOT-CHECKED" not in codes(report)


def test_scan_package_without_content_checks(tmp_path: Path, clamd: ClamdStandIn) -> None:
    tree = make_package(tmp_path / "pkg", {CLEAN: b"x", INFECTED: EICAR})
    report = Report("pkg")
    scan_package(tree, [CLEAN, INFECTED], report, clamd.address)
    assert codes(report) == {"VIRUS-FOUND", "VIRUS-SCANNED"}


def test_ping_of_something_that_is_not_clamd(socket_dir: Path) -> None:
    import socket
    import threading

    path = socket_dir / "echo.ctl"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def answer() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(64)
            connection.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        with pytest.raises(ClamdError, match="PING"):
            Clamd(f"unix://{path}", timeout=5).ping()
    finally:
        thread.join(timeout=5)
        server.close()
