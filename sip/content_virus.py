"""Virus scanning through clamd (ClamAV's daemon), spoken to directly over its socket.

The clamd protocol: ``zPING`` → ``PONG``; ``zVERSION`` → ``ClamAV 1.0.7/27000/…``;
``zINSTREAM`` followed by chunks, each a 4-byte big-endian length and that many bytes, ended by a
zero length → ``stream: OK``, ``stream: <virus name> FOUND`` or ``<reason> ERROR`` (for example
"INSTREAM size limit exceeded"). Commands prefixed with ``z`` end with a NUL byte and so do the
replies. One connection per file, as clamd expects for INSTREAM.

Files are streamed from the package in chunks (never held whole in memory). Anything that stops
the scan is reported, never silently skipped: no clamd configured, clamd unreachable or not
answering PING → one package-level VIRUS-NOT-CHECKED; a file clamd refuses → VIRUS-FILE-NOT-CHECKED
on that file; the same error on the first few files in a row (a clamd with no signature database,
a broken configuration) → the scan stops with VIRUS-NOT-CHECKED rather than repeating it per file.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from preservation.diskmap import DiskMap
from preservation.findings import Report
from preservation.spooled import KEEP
from sip.bagit_tree import ChangedError
from sip.package import PackageTree

logger = logging.getLogger(__name__)

CHUNK = 256 * 1024
#: Seconds a clamd call may stay silent (a large file can take a while to scan).
DEFAULT_TIMEOUT = 120.0
#: The same error this many times in a row, with no file scanned, stops the whole scan.
GIVE_UP_AFTER = 3
_MAX_REPLY = 64 * 1024


class ClamdError(Exception):
    """clamd could not be reached or did not speak the protocol."""


@dataclass(frozen=True)
class ScanResult:
    """clamd's answer for one file: ``found`` (a virus name) or ``error``; both None: clean."""

    found: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Clamd:
    """A clamd address: ``unix:///path/to/clamd.ctl`` or ``tcp://host:port``."""

    address: str
    timeout: float = DEFAULT_TIMEOUT

    def _connect(self) -> socket.socket:
        parts = urlsplit(self.address)
        try:
            if parts.scheme == "unix":
                path = parts.path or parts.netloc
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                target: str | tuple[str, int] = path
            elif parts.scheme == "tcp" and parts.hostname and parts.port:
                sock = socket.socket(socket.AF_INET6 if ":" in parts.hostname
                                     else socket.AF_INET, socket.SOCK_STREAM)
                target = (parts.hostname, parts.port)
            else:
                raise ClamdError(f"unsupported clamd address {self.address!r} (use "
                                 "unix:///path/to/clamd.ctl or tcp://host:port)")
        except ValueError as e:  # a port that is not a number
            raise ClamdError(f"unsupported clamd address {self.address!r}: {e}") from e
        sock.settimeout(self.timeout)
        try:
            sock.connect(target)
        except OSError as e:
            sock.close()
            raise ClamdError(f"cannot connect to clamd at {self.address}: {e}") from e
        return sock

    def _command(self, command: bytes) -> str:
        with self._connect() as sock:
            try:
                sock.sendall(b"z" + command + b"\0")
                return _reply(sock)
            except OSError as e:
                raise ClamdError(f"clamd at {self.address} did not answer: {e}") from e

    def ping(self) -> None:
        reply = self._command(b"PING")
        if reply != "PONG":
            raise ClamdError(f"clamd at {self.address} answered PING with {reply!r}")

    def version(self) -> str:
        return self._command(b"VERSION")

    def scan(self, chunks: Iterable[bytes]) -> ScanResult:
        """Stream ``chunks`` to clamd with INSTREAM and interpret its answer.

        Errors reading the chunks (the file) propagate unchanged; socket errors are
        :class:`ClamdError`.
        """
        with self._connect() as sock:
            try:
                _send(sock, b"zINSTREAM\0")
                for chunk in chunks:
                    if chunk:
                        _send(sock, struct.pack(">I", len(chunk)) + chunk)
                _send(sock, struct.pack(">I", 0))
            except _SendFailed as e:
                # clamd closes the connection when a stream exceeds StreamMaxLength; its
                # reason may already be waiting to be read
                late = _late_reply(sock)
                if late is None:
                    raise ClamdError(f"clamd at {self.address} failed during a scan: "
                                     f"{e.__cause__}") from e
                return _interpret(late)
            try:
                return _interpret(_reply(sock))
            except OSError as e:
                raise ClamdError(f"clamd at {self.address} did not answer: {e}") from e


class _SendFailed(Exception):
    """A socket error while sending (kept apart from errors reading the file)."""


def _send(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError as e:
        raise _SendFailed from e


def _reply(sock: socket.socket) -> str:
    data = bytearray()
    while len(data) < _MAX_REPLY:
        block = sock.recv(4096)
        if not block:
            break
        data += block
        if b"\0" in block or b"\n" in block:
            break
    text = bytes(data).split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    if not text:
        raise ClamdError("clamd closed the connection without an answer")
    return text


def _late_reply(sock: socket.socket) -> str | None:
    try:
        sock.settimeout(1.0)
        return _reply(sock)
    except (OSError, ClamdError):
        return None


def _interpret(reply: str) -> ScanResult:
    text = reply.removeprefix("stream:").strip()
    if text == "OK":
        return ScanResult()
    if text.endswith(" FOUND"):
        return ScanResult(found=text.removesuffix(" FOUND").strip() or "unknown")
    return ScanResult(error=text.removesuffix(" ERROR").strip() or reply)


def _chunks(tree: PackageTree, rel: str) -> Iterable[bytes]:
    with tree.opened(rel) as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


class VirusScan:
    """One package's scan: :meth:`start`, then :meth:`scan` per file, then :meth:`finish`.

    Every outcome becomes a finding in ``report`` (see the module notes); a scan that cannot
    run turns the remaining :meth:`scan` calls into no-ops.
    """

    def __init__(self, address: str | None, report: Report, *,
                 timeout: float = DEFAULT_TIMEOUT, keep: int = KEEP) -> None:
        self.clamd = Clamd(address, timeout) if address else None
        self.report = report
        self.engine = ""
        self.scanned = 0
        self.active = False
        # errors in a row while nothing was scanned, (path, error) by their place in the row;
        # past ``keep`` of them in a temporary database
        self._failures: DiskMap[tuple[str, str]] = DiskMap(keep=keep, what="refused file")
        self._error: str | None = None  # the error of every failure so far, if only one

    def start(self) -> bool:
        """Check that clamd answers; report VIRUS-NOT-CHECKED if not. True if scanning."""
        if self.clamd is None:
            self.report.add("VIRUS-NOT-CHECKED", None, reason="no clamd address is configured")
            return False
        try:
            self.clamd.ping()
            self.engine = self.clamd.version()
        except ClamdError as e:
            self.report.add("VIRUS-NOT-CHECKED", None, reason=str(e))
            return False
        self.active = True
        return True

    def scan(self, tree: PackageTree, rel: str) -> None:
        """Scan one listed file. An unreadable file is the caller's to report."""
        if not self.active or self.clamd is None:
            return
        try:
            result = self.clamd.scan(_chunks(tree, rel))
        except (OSError, ChangedError):
            return
        except ClamdError as e:
            self._stop(str(e))
            return
        if result.error is None:
            self._flush()
            self.scanned += 1
            if result.found is not None:
                self.report.add("VIRUS-FOUND", rel, signature=result.found)
        elif self.scanned:
            self.report.add("VIRUS-FILE-NOT-CHECKED", rel, reason=result.error)
        else:
            if not self._failures:
                self._error = result.error
            elif self._error != result.error:
                self._error = None
            self._failures[str(len(self._failures))] = (rel, result.error)
            if len(self._failures) >= GIVE_UP_AFTER and self._error is not None:
                self._stop(f"clamd answered “{result.error}” for every file")

    def finish(self) -> None:
        """Report the files clamd refused and, if the scan ran, how many were scanned."""
        if not self.active:
            return
        self._flush()
        self.report.add("VIRUS-SCANNED", None, count=self.scanned, engine=self.engine)
        self.active = False

    def _stop(self, reason: str) -> None:
        self.report.add("VIRUS-NOT-CHECKED", None, reason=reason)
        self._failures.clear()
        self.active = False

    def _flush(self) -> None:
        for rel, error in self._failures.values():
            self.report.add("VIRUS-FILE-NOT-CHECKED", rel, reason=error)
        self._failures.clear()


def scan_package(tree: PackageTree, paths: Iterable[str], report: Report, address: str | None,
                 *, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Scan each listed file with clamd at ``address`` (``None``: one VIRUS-NOT-CHECKED)."""
    scan = VirusScan(address, report, timeout=timeout)
    if scan.start():
        for rel in paths:
            scan.scan(tree, rel)
        scan.finish()
