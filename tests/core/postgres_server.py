"""A real PostgreSQL server for tests: Debian's ``postgresql``, initdb'd in a temporary folder.

One server per test session, started on first use by the ``postgres_server`` fixture:

1. find ``initdb`` and ``pg_ctl`` (``$PRESERVATION_PG_BINDIR``, then Debian's
   ``/usr/lib/postgresql/<version>/bin`` newest first, then ``PATH``);
2. if they are missing and we are root with apt, install Debian's ``postgresql`` package
   (``apt-get install -y --no-install-recommends postgresql``, after ``apt-get update`` when the
   package lists are stale) — once per session;
3. ``initdb`` a cluster in a fresh temporary folder (as root, PostgreSQL refuses to run: the
   cluster then belongs to the ``postgres`` user, else ``nobody``, and the server runs as that
   user through ``runuser``), with a random superuser password (scram-sha-256 on TCP);
4. ``pg_ctl start`` on a free loopback port with the unix socket in the temporary folder and
   durability off (a test cluster needs no fsync);
5. at the end of the session ``pg_ctl stop -m fast``, and a kill of the postmaster after a timeout;
   the folder is removed.

Anything missing is a skip whose reason names it. ``postgres_db`` gives each test an empty
database of its own (dropped afterwards). Use from a test folder's ``conftest.py``::

    from tests.core.postgres_server import postgres_db, postgres_server  # noqa: F401

``run_postgres()`` starts the same server outside pytest (benchmarks, manual checks).
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

#: How long initdb and a start may take (both take ~1-3 s).
START_TIMEOUT = 60
#: How long a fast stop may take before the postmaster is killed.
STOP_TIMEOUT = 30
#: How long the package installation may take (download and unpack ~40 MB).
INSTALL_TIMEOUT = 600
BINDIR_ENV = "PRESERVATION_PG_BINDIR"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"


class Unavailable(Exception):
    """PostgreSQL cannot be had here; the message says what is missing."""


@dataclass(frozen=True)
class PostgresServer:
    """A running server: connect with :meth:`url` (or the ``PG*`` variables of :meth:`env`)."""

    host: str
    port: int
    user: str
    password: str
    directory: Path
    bindir: Path

    def url(self, database: str = "postgres", *, with_password: bool = True) -> str:
        auth = f"{self.user}:{self.password}" if with_password else self.user
        return f"postgresql://{auth}@{self.host}:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        """The server's log, worth reading when a test fails oddly."""
        return self.directory / "server.log"

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser, outside a transaction (CREATE DATABASE…)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)  # test-made SQL (a fresh name), not user input

    def create_database(self) -> str:
        name = f"test_{uuid.uuid4().hex[:16]}"
        self.admin(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.name)) or (0,)


def find_bindir(extra: Path | None = None) -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    candidates: list[Path] = []
    if os.environ.get(BINDIR_ENV):
        candidates.append(Path(os.environ[BINDIR_ENV]))
    if extra is not None:
        candidates.append(extra)
    if DEBIAN_ROOT.is_dir():
        versions = sorted((p for p in DEBIAN_ROOT.iterdir() if p.name[:1].isdigit()),
                          key=_version_key, reverse=True)
        candidates.extend(v / "bin" for v in versions)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def install_postgres() -> None:
    """Install Debian's ``postgresql`` package; raise :class:`Unavailable` saying why not."""
    if os.geteuid() != 0:
        raise Unavailable("PostgreSQL's initdb/pg_ctl are not installed and we are not root "
                          "(install Debian's postgresql package)")
    apt = shutil.which("apt-get")
    if apt is None:
        raise Unavailable("PostgreSQL's initdb/pg_ctl are not installed and apt-get is missing")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-q", "--no-install-recommends", "postgresql"]

    def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT, stdin=subprocess.DEVNULL, check=False)

    try:
        result = run(install)
        if result.returncode != 0:  # stale or missing package lists: update once and retry
            run([apt, "update", "-q"])
            result = run(install)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"apt-get install postgresql took over {INSTALL_TIMEOUT} s") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise Unavailable("apt-get install postgresql failed: " + " | ".join(tail))


def server_user() -> str | None:
    """The user the server runs as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise Unavailable("running as root and neither a 'postgres' nor a 'nobody' user exists "
                      "to run PostgreSQL as (it refuses to run as root)")


def _as_user(user: str | None, cmd: list[str]) -> list[str]:
    if user is None:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", user, "--", *cmd]
    su = shutil.which("su")
    if su is None:
        raise Unavailable("running as root and neither runuser nor su is available to run "
                          "PostgreSQL as another user")
    return [su, "-s", "/bin/sh", user, "-c", shlex.join(cmd)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _check(cmd: list[str], what: str, log: Path | None = None) -> None:
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT,
                                stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{what} took over {START_TIMEOUT} s") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        if log is not None and log.is_file():
            detail += " | log: " + " ".join(log.read_text(errors="replace").splitlines()[-5:])
        raise Unavailable(f"{what} failed: {detail}")


@contextmanager
def run_postgres(bindir: Path) -> Iterator[PostgresServer]:
    """Start a throwaway cluster with the tools in ``bindir``; stop and remove it afterwards."""
    user = server_user()
    # Not under pytest's tmp folder: that is private to root (0700) and the server user must
    # reach its data directory. mkdtemp makes a fresh 0700 folder, handed to that user.
    directory = Path(tempfile.mkdtemp(prefix="preservation-pg-"))
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(directory, entry.pw_uid, entry.pw_gid)
        password = secrets.token_urlsafe(18)
        pwfile = directory / "pwfile"
        pwfile.write_text(password + "\n")
        if user is not None:
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        data = directory / "data"
        _check(_as_user(user, [str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER,
                               "--pwfile", str(pwfile), "-E", "UTF8", "--locale=C",
                               "--auth-local=trust", "--auth-host=scram-sha-256",
                               "--no-sync"]), "initdb")
        pwfile.unlink()
        port = free_port()
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {directory} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=50")
        log = directory / "server.log"
        _check(_as_user(user, [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                               "-o", options, "-w", "-t", str(START_TIMEOUT), "start"]),
               "pg_ctl start", log)
        try:
            yield PostgresServer("127.0.0.1", port, SUPERUSER, password, directory, bindir)
        finally:
            _stop(bindir, data, user)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _stop(bindir: Path, data: Path, user: str | None) -> None:
    cmd = _as_user(user, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                          "-t", str(STOP_TIMEOUT), "stop"])
    with suppress(subprocess.TimeoutExpired):
        subprocess.run(cmd, capture_output=True, timeout=STOP_TIMEOUT + 10,
                       stdin=subprocess.DEVNULL, check=False)
    pid_file = data / "postmaster.pid"
    if pid_file.is_file():  # still running: kill our own postmaster (its first line)
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        except (OSError, ValueError, IndexError):
            pass


def ensure_bindir() -> Path:
    """The server tools, installing Debian's package when they are missing."""
    bindir = find_bindir()
    if bindir is None:
        install_postgres()
        bindir = find_bindir()
    if bindir is None:
        raise Unavailable("installed Debian's postgresql package, but initdb/pg_ctl/postgres "
                          f"are still not found under {DEBIAN_ROOT}/<version>/bin or on PATH")
    return bindir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session, or a skip that names what is missing."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("the psycopg driver is not installed (pip install -e '.[test]')")
    with ExitStack() as stack:
        try:
            server = stack.enter_context(run_postgres(ensure_bindir()))
        except Unavailable as e:
            pytest.skip(f"no PostgreSQL server for the catalog tests: {e}")
        yield server


@pytest.fixture
def postgres_db(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL (with password) of an empty UTF8 database of this test's own."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)
