"""The per-object work of an ingest (aip.ingest_parallel.each): a bounded window of objects
in flight, whatever the file count; the first failure stops the rest and is the one raised;
a failure on another location stops this one with Cancelled. store_copy refuses an AIP it
cannot store whole, and stores nothing of it."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aip.builder import StagedObject
from aip.ingest_parallel import each
from aip.ingest_replicate import OwnObjects, store_copy
from aip.ingest_resuming import Cancelled, ResumingBackend
from aip.ingest_staging import new_staging
from preservation.storage import open_location


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[ResumingBackend]:
    staging = new_staging(tmp_path / "staging")
    (tmp_path / "store").mkdir()
    inner = open_location((tmp_path / "store").as_uri())
    try:
        yield ResumingBackend(inner, staging, "one")
    finally:
        inner.close()
        staging.release()


def objects(count: int) -> Iterator[StagedObject]:
    for i in range(count):
        yield StagedObject(bag_path=f"data/{i}.txt", source=None, size=i, sha256="0" * 64,
                           role="content")


def test_at_most_two_objects_per_worker_are_in_flight(backend: ResumingBackend) -> None:
    submitted = 0
    finished = 0
    most = 0
    lock = threading.Lock()
    real_submit = __import__("concurrent.futures").futures.ThreadPoolExecutor.submit

    def counting_submit(self: object, fn: object, *args: object) -> object:
        nonlocal submitted, most
        with lock:
            submitted += 1
            most = max(most, submitted - finished)
        return real_submit(self, fn, *args)

    def work(_obj: StagedObject) -> None:
        nonlocal finished
        with lock:
            finished += 1

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("concurrent.futures.ThreadPoolExecutor.submit", counting_submit)
        each(backend, work, objects(5000), 4)
    assert finished == 5000
    assert 1 <= most <= 2 * 4 + 1  # the window, plus the one being submitted


def test_every_object_is_worked_on_once(backend: ResumingBackend) -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def work(obj: StagedObject) -> None:
        with lock:
            seen.append(obj.bag_path)

    each(backend, work, objects(1000), 3)
    assert sorted(seen) == sorted(f"data/{i}.txt" for i in range(1000))


def test_the_first_failure_stops_the_rest_and_is_raised(backend: ResumingBackend) -> None:
    done: list[int] = []

    def work(obj: StagedObject) -> None:
        if obj.size == 10:
            raise OSError("disk full")
        done.append(obj.size)

    with pytest.raises(OSError, match="disk full"):
        each(backend, work, objects(100_000), 4)
    assert backend.abort.is_set()
    assert len(done) < 1000  # stopped near the failure, not after every object


def test_a_failure_elsewhere_stops_this_location_with_cancelled(
        backend: ResumingBackend) -> None:
    done: list[int] = []

    def work(obj: StagedObject) -> None:
        if obj.size == 5:
            backend.abort.set()  # as another location's failure does
        done.append(obj.size)

    with pytest.raises(Cancelled):
        each(backend, work, objects(100_000), 2)
    assert len(done) < 1000


def test_one_worker_works_in_order_in_this_thread(backend: ResumingBackend) -> None:
    threads: set[int] = set()
    order: list[int] = []

    def work(obj: StagedObject) -> None:
        threads.add(threading.get_ident())
        order.append(obj.size)

    each(backend, work, objects(50), 1)
    assert order == list(range(50))
    assert threads == {threading.get_ident()}


BUILT: Any = SimpleNamespace(uuid="0b0e2f1c-7d6a-4f5e-9c1b-2a3d4e5f6a7b")


def test_an_aip_without_objects_of_its_own_is_refused(backend: ResumingBackend,
                                                      tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="has no object of its own to store"):
        store_copy(BUILT, backend, "one", lambda *args: None, OwnObjects.of([]))
    assert list((tmp_path / "store").iterdir()) == []


def test_an_object_without_bytes_or_a_stored_key_is_refused(backend: ResumingBackend,
                                                            tmp_path: Path) -> None:
    lost = StagedObject("data/METS.xml", None, 3, "0" * 64, "metadata")
    with pytest.raises(ValueError,
                       match=re.escape("data/METS.xml has neither bytes to store")):
        store_copy(BUILT, backend, "one", lambda *args: None, OwnObjects.of([lost]))
    assert list((tmp_path / "store").iterdir()) == []
