"""Running an ingest's storage work on many threads and locations at once, so that the first
failure stops all of it.

Every object task goes through :func:`each`, which checks the ingest's shared ``abort`` event
(:class:`aip.ingest_resuming.ResumingBackend`) before it starts and sets it when it fails; the
waiting side (:func:`all_or_first_failure`) cancels what has not started, waits for what has,
and raises the first real failure — never the :class:`~aip.ingest_resuming.Cancelled` of the
tasks it stopped. The caller's cleanup therefore never races with a put still running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

from aip.builder import StagedObject
from aip.ingest_resuming import Cancelled, ResumingBackend


def all_or_first_failure(futures: Sequence[Future[Any]], abort: threading.Event) -> None:
    """Wait for every future; on the first failure set ``abort``, cancel what has not started,
    wait for what has (it stops at its next object), and raise that failure.

    Also when this thread is interrupted (KeyboardInterrupt) the work is stopped before the
    interruption goes on. :class:`Cancelled` is a consequence, never the failure raised.
    """
    try:
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if not failed:
            return
    except BaseException:
        abort.set()
        for future in futures:
            future.cancel()
        wait(futures)
        raise
    abort.set()
    for future in pending:
        future.cancel()
    wait(futures)
    errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
    first = next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
    assert first is not None
    raise first


def each(backend: ResumingBackend, work: Callable[[StagedObject], None],
         objects: Iterable[StagedObject], workers: int) -> None:
    """``work`` on every object with ``workers`` threads (in order, in this thread, for 1);
    the first failure stops the rest, on this location and every other one of the ingest
    (``backend.abort``), and is raised.

    At most ``2 * workers`` objects are submitted and not yet done at any time (a window, not
    one future per object), so that the memory of a transfer of 100,000 files does not grow
    with its file count here."""
    def guarded(obj: StagedObject) -> None:
        backend.check_running()
        try:
            work(obj)
        except BaseException:
            backend.abort.set()
            raise

    if workers == 1:
        for obj in objects:
            guarded(obj)
        return
    window: set[Future[None]] = set()
    with ThreadPoolExecutor(workers, "ingest-object") as pool:
        try:
            for obj in objects:
                if backend.abort.is_set():
                    break
                if len(window) >= 2 * workers:
                    done, window = _first_done(window)
                    if any(f.exception() is not None for f in done):
                        window |= done  # reported below, with the rest
                        break
                window.add(pool.submit(guarded, obj))
        except BaseException:
            backend.abort.set()
            for future in window:
                future.cancel()
            wait(window)
            raise
        all_or_first_failure(list(window), backend.abort)
        if backend.abort.is_set():  # stopped by a failure elsewhere: say so, as a put would
            backend.check_running()


def _first_done(window: set[Future[None]]) -> tuple[set[Future[None]], set[Future[None]]]:
    done, pending = wait(window, return_when=FIRST_COMPLETED)
    return set(done), set(pending)
