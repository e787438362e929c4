"""DiskMap with a write buffer: the same answers as a dict, writes a batch at a time."""

from __future__ import annotations

import os
import random
import sqlite3

import pytest

from preservation.diskmap import PAGE, DiskMap
from preservation.spooled import SpoolError


@pytest.mark.parametrize("keep", [0, 3, 10_000])
@pytest.mark.parametrize("buffer", [1, 7, 1024])
@pytest.mark.parametrize("order", ["insertion", "key"])
def test_a_buffered_map_answers_as_a_dict_would(keep: int, buffer: int, order: str) -> None:
    rng = random.Random(3)
    names = [f"data/{rng.randrange(500):03d}/ä {i % 700}" for i in range(2 * PAGE + 300)]
    names.append(os.fsdecode(b"data/caf\xe9"))
    expected: dict[str, int] = {}
    m: DiskMap[int] = DiskMap(keep=keep, buffer=buffer, order=order)  # type: ignore[arg-type]
    for i, name in enumerate(names):
        assert (name in m) == (name in expected)
        assert m.get(name, -1) == expected.get(name, -1)
        m[name] = expected[name] = m.get(name, 0) + i  # repeated keys keep their place
        if i == 400:
            del m[names[5]], expected[names[5]]
            assert len(m) == len(expected)
    assert len(m) == len(expected)
    want = list(expected) if order == "insertion" else sorted(expected)
    assert list(m.items()) == [(k, expected[k]) for k in want]
    assert all(m[k] == v for k, v in expected.items())
    assert "absent" not in m and m.get("absent") is None
    with pytest.raises(KeyError):
        m["absent"]
    m.update((f"more {i}", i) for i in range(50))
    expected.update((f"more {i}", i) for i in range(50))
    assert m == expected and list(m) == (list(expected) if order == "insertion"
                                         else sorted(expected))


def test_buffered_writes_reach_the_database_on_flush() -> None:
    m: DiskMap[int] = DiskMap(((f"k{i}", i) for i in range(10)), keep=5, buffer=100)
    m["new"] = 1
    assert m["new"] == 1 and "new" in m  # read from the buffer
    db = m._db
    assert db is not None
    assert db.run("SELECT count(*) FROM m") == [(10,)]
    m.flush()
    assert db.run("SELECT count(*) FROM m") == [(11,)] and len(m) == 11


def test_a_failed_batch_is_a_spool_error(monkeypatch: pytest.MonkeyPatch) -> None:
    m: DiskMap[int] = DiskMap(((f"k{i}", i) for i in range(10)), keep=5, buffer=2)
    db = m._db
    assert db is not None

    class Full:
        def execute(self, *args: object) -> object:
            raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(db, "connection", lambda: Full())
    m["a"] = 1  # buffered
    with pytest.raises(SpoolError, match="disk is full"):
        m["b"] = 2  # the batch is written


def test_a_forked_process_reads_every_buffered_entry_from_the_database() -> None:
    """Waiting writes are written before a fork: the child counts, iterates and looks up every
    entry through its read-only connection (it could not write them itself)."""
    m: DiskMap[int] = DiskMap(((f"k{i}", i) for i in range(10)), keep=2, buffer=100)
    m["late"] = 10  # waits in the buffer
    db = m._db
    assert db is not None and db.run("SELECT count(*) FROM m") == [(10,)]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, never raise
        try:
            everything = [*((f"k{i}", i) for i in range(10)), ("late", 10)]
            seen = f"{len(m)} {sorted(m.items()) == sorted(everything)} {m.get('late')}"
        except BaseException as error:  # reported to the parent
            seen = f"{type(error).__name__}: {error}"
        os.write(write, seen.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        seen = pipe.read().decode()
    os.waitpid(pid, 0)
    assert db.run("SELECT count(*) FROM m") == [(11,)]  # written before the fork
    assert seen == "11 True 10"
    assert len(m) == 11 and m["late"] == 10
