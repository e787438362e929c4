"""DiskMap: a dict while small, a temporary SQLite table past ``keep`` keys, the same answers."""

from __future__ import annotations

import os
import pickle
import random
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from preservation.diskmap import PAGE, DiskMap
from preservation.spooled import SpoolError

SURROGATE = os.fsdecode(b"data/caf\xe9.txt")  # an undecodable name: a lone surrogate


def _names(count: int) -> list[str]:
    rng = random.Random(7)
    names = [f"data/{rng.randrange(10**6):06d}/Tờ trình {i}.pdf" for i in range(count)]
    return [*names, "", "data/Z", "data/a", "data/ä", "data/\U0001f600", SURROGATE]


@pytest.mark.parametrize("keep", [0, 3, 10_000])
@pytest.mark.parametrize("order", ["insertion", "key"])
def test_it_answers_as_a_dict_would(keep: int, order: str) -> None:
    names = _names(2 * PAGE + 17)
    expected: dict[str, tuple[int, str]] = {}
    m: DiskMap[tuple[int, str]] = DiskMap(keep=keep, order=order)  # type: ignore[arg-type]
    for i, name in enumerate(names):
        m[name] = expected[name] = (i, name[::-1])
    m[names[5]] = expected[names[5]] = (-1, "again")  # an update keeps the key's place
    del m[names[7]], expected[names[7]]
    assert m.pop(names[8]) == expected.pop(names[8])
    assert m.pop("no such", None) is None
    m[names[7]] = expected[names[7]] = (7, "back")  # back at the end, as in a dict
    assert m.on_disk == (len(expected) > keep or keep < len(names))
    assert len(m) == len(expected)
    want = list(expected) if order == "insertion" else sorted(expected)
    assert list(m) == want
    assert list(m.items()) == [(k, expected[k]) for k in want]
    assert list(m.values()) == [expected[k] for k in want]
    assert all(m[k] == v for k, v in expected.items())
    assert SURROGATE in m and "absent" not in m and 5 not in m  # type: ignore[comparison-overlap]
    assert m.get("absent") is None and m.get(names[0]) == expected[names[0]]
    with pytest.raises(KeyError):
        m["absent"]
    with pytest.raises(KeyError):
        del m["absent"]
    assert m == expected
    assert pickle.loads(pickle.dumps(m)) == expected


def test_the_values_go_through_encode_and_decode() -> None:
    m: DiskMap[Path] = DiskMap(encode=str, decode=Path, keep=1)
    m["a"] = Path("/x/a")
    assert m["a"] == Path("/x/a") and not m.on_disk
    m["b"] = Path("/x/b")
    assert m.on_disk and m["a"] == Path("/x/a") and dict(m.items()) == {
        "a": Path("/x/a"), "b": Path("/x/b")}


def test_update_moves_to_disk_in_one_go_and_counts_repeated_keys_once() -> None:
    m: DiskMap[int] = DiskMap([("a", 1), ("b", 2)], keep=3)
    m.update([("c", 3), ("d", 4), ("a", 10), ("e", 5)])
    assert m.on_disk and len(m) == 5
    assert list(m.items()) == [("a", 10), ("b", 2), ("c", 3), ("d", 4), ("e", 5)]
    m.update({"f": 6}, g=7)
    assert len(m) == 7 and m["g"] == 7


def test_iterating_on_disk_survives_changes_between_pages() -> None:
    m: DiskMap[int] = DiskMap(((f"k{i:05d}", i) for i in range(3 * PAGE)), keep=10, order="key")
    seen = []
    for key in m:
        seen.append(key)
        if key == "k00010":
            del m[f"k{2 * PAGE:05d}"]  # on a page not read yet: not seen
            m["k99999"] = 0  # behind the cursor: seen at the end
    assert f"k{2 * PAGE:05d}" not in seen and seen[-1] == "k99999"
    assert len(seen) == 3 * PAGE and seen == sorted(seen)


def test_the_database_is_removed_on_close_and_when_the_map_goes() -> None:
    m: DiskMap[int] = DiskMap(((str(i), i) for i in range(20)), keep=5)
    folder = m._db.folder  # type: ignore[union-attr]
    assert os.path.isdir(folder)
    m.close()
    assert not os.path.exists(folder) and len(m) == 0 and not m.on_disk
    m = DiskMap(((str(i), i) for i in range(20)), keep=5)
    folder = m._db.folder  # type: ignore[union-attr]
    del m
    assert not os.path.exists(folder)


def test_threads_share_a_map_on_disk() -> None:
    m: DiskMap[int] = DiskMap(((f"k{i}", i) for i in range(2000)), keep=10)
    errors: list[BaseException] = []

    def read(offset: int) -> None:
        try:
            for i in range(offset, 2000, 4):
                assert m[f"k{i}"] == i
            assert sum(1 for _ in m.items()) == 2000
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_reads_the_map_and_leaves_its_file() -> None:
    m: DiskMap[int] = DiskMap(((f"k{i}", i) for i in range(100)), keep=10)
    assert m["k1"] == 1  # the parent's connection exists before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            ok = m["k42"] == 42 and len(list(m.items())) == 100
            os.write(write, b"1" if ok else b"0")
            m.close()  # must not remove the parent's file
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"1"
    assert m["k99"] == 99  # still there for the parent


def test_a_failed_write_is_a_spool_error(monkeypatch: pytest.MonkeyPatch) -> None:
    m: DiskMap[int] = DiskMap(((f"k{i}", i) for i in range(20)), keep=5)
    db = m._db
    assert db is not None
    real = db.connection

    class Full:
        def execute(self, *args: object) -> object:
            raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(db, "connection", lambda: Full())
    with pytest.raises(SpoolError) as caught:
        m["new"] = 1
    assert caught.value.code == "SPOOL-FAILED" and "disk is full" in str(caught.value)
    with pytest.raises(SpoolError, match="cannot read"):
        m["k1"]
    with pytest.raises(SpoolError, match="cannot write"):
        m.update([("k1", 100), ("other", 2)])
    monkeypatch.setattr(db, "connection", real)
    assert "new" not in m and "other" not in m and len(m) == 20 and m["k1"] == 1


def test_a_batch_that_fails_half_way_is_rolled_back() -> None:
    m: DiskMap[int] = DiskMap(((f"k{i}", i) for i in range(10)), keep=5)

    def pairs() -> Iterator[tuple[str, int]]:
        yield "k1", 100
        yield "new", 1
        raise sqlite3.OperationalError("database or disk is full")

    with pytest.raises(SpoolError, match="disk is full"):
        m.update(pairs())
    assert len(m) == 10 and m["k1"] == 1 and "new" not in m


def test_no_temporary_folder_is_a_spool_error_and_the_map_stays_in_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    m: DiskMap[int] = DiskMap([("a", 1), ("b", 2)], keep=2)

    def full(*args: object, **kwargs: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "mkdtemp", full)
    with pytest.raises(SpoolError) as caught:
        m["c"] = 3
    assert caught.value.code == "SPOOL-FAILED" and "No space left" in str(caught.value)
    assert not m.on_disk and dict(m.items()) == {"a": 1, "b": 2}


def test_moving_to_disk_while_iterating_in_key_order_is_refused() -> None:
    m: DiskMap[int] = DiskMap([("b", 1), ("a", 2)], keep=2, order="key")
    with pytest.raises(RuntimeError, match="changed during iteration"):
        for key in m:
            if key == "a":
                m["c"] = 3


def test_keys_must_be_text() -> None:
    m: DiskMap[int] = DiskMap()
    with pytest.raises(TypeError):
        m[b"bytes"] = 1  # type: ignore[index]
    with pytest.raises(ValueError):
        DiskMap(order="random")  # type: ignore[arg-type]
