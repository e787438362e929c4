"""preservation.spooled: per-file records beyond the first ``keep`` go to an anonymous
temporary file and come back equal, in order, on every pass and from several threads."""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from preservation.spooled import SpoolError, fields_of, from_fields, spooled


@dataclass(frozen=True, slots=True)
class Rec:
    path: str
    size: int
    digest: str | None


def encode_path(p: Path) -> tuple[str]:
    return (str(p),)


def decode_path(values: tuple[str, ...]) -> Path:
    return Path(values[0])


def recs(n: int) -> list[Rec]:
    return [Rec(f"data/tệp {i}.txt", i, None if i % 3 else f"{i:064x}") for i in range(n)]


def test_records_beyond_keep_come_back_equal_and_in_order() -> None:
    expected = recs(2500)
    seq = spooled(iter(expected), fields_of, from_fields(Rec), keep=100)
    assert len(seq) == 2500
    assert list(seq) == expected
    assert list(seq) == expected  # a second pass reads the file again
    assert seq == expected and seq == tuple(expected)
    assert seq[0] == expected[0] and seq[99] == expected[99] and seq[100] == expected[100]
    assert seq[-1] == expected[-1] and seq[1234] == expected[1234]
    assert seq[2000:2003] == expected[2000:2003]
    with pytest.raises(IndexError):
        seq[2500]


def test_few_records_stay_in_memory_and_none_is_empty() -> None:
    assert list(spooled(recs(5), fields_of, from_fields(Rec), keep=10)) == recs(5)
    empty = spooled([], fields_of, from_fields(Rec))
    assert len(empty) == 0 and list(empty) == []


def test_a_custom_encoding_rebuilds_the_values() -> None:
    paths = [Path(f"/x/thư mục/{i}") for i in range(50)]
    seq = spooled(paths, encode_path, decode_path, keep=3)
    assert list(seq) == paths and all(isinstance(p, Path) for p in seq)


def test_several_threads_read_at_once() -> None:
    expected = recs(5000)
    seq = spooled(expected, fields_of, from_fields(Rec), keep=10)
    seen: list[list[Rec]] = []
    lock = threading.Lock()

    def read() -> None:
        got = list(seq)
        with lock:
            seen.append(got)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 4 and all(s == expected for s in seen)


def test_an_unstorable_value_is_a_spool_error() -> None:
    with pytest.raises(SpoolError) as raised:
        spooled([object(), object()], lambda o: (o,), lambda v: v[0], keep=1)
    assert raised.value.code == "SPOOL-FAILED"


def test_no_temporary_file_is_a_spool_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    assert len(spooled(recs(3), fields_of, from_fields(Rec), keep=3)) == 3  # none spooled
    with pytest.raises(SpoolError) as raised:
        spooled(recs(4), fields_of, from_fields(Rec), keep=3)
    assert raised.value.code == "SPOOL-FAILED"
    assert "No space left" in str(raised.value)


def test_a_spooled_sequence_pickles_and_copies_as_its_records() -> None:
    import copy
    import pickle

    seq = spooled(recs(30), fields_of, from_fields(Rec), keep=4)
    assert pickle.loads(pickle.dumps(seq)) == tuple(recs(30))
    assert copy.deepcopy(seq) == tuple(recs(30))
