"""CPU-bound work on many items in forked worker processes, answers in input order.

Workers are forked (never spawned): they inherit the caller's loaded state (fido's signatures,
the package listing, the policy, trust roots) and the work function itself, so nothing is
pickled but the item indices and the answers. Forking is only safe while the calling process
runs no other thread (a lock another thread holds at the fork stays held forever in the child):
callers ask :func:`can_fork` first.

Hostile input must not take the whole run down:

* each item gets :data:`DEFAULT_CPU_LIMIT` seconds of processor time (``cpu_limit``): then
  :class:`CpuTimeExceeded` is raised inside the work function (which may catch it to keep what
  it learnt), and if it is stuck in C code the kernel ends the worker (``RLIMIT_CPU``) a little
  later;
* a worker that dies (a crash, the kernel's limits, the OOM killer) does not fail the run: the
  items after the last answer are re-run in a single worker until the one that ends it is found;
  that item's answer is a :class:`Crashed`, and the rest runs in parallel again.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import resource
import signal
import threading
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import FrameType
from typing import Any, Generic, TypeVar

__all__ = ["DEFAULT_CPU_LIMIT", "WINDOW_PER_PROCESS", "CpuTimeExceeded", "Crashed", "can_fork",
           "fork_map"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Processor seconds one item may take in a worker (a PDF's checks take milliseconds).
DEFAULT_CPU_LIMIT = 120.0
#: Processor seconds past the limit after which the kernel ends a worker stuck in C code.
_HARD_GRACE = 30


class CpuTimeExceeded(BaseException):
    """Raised in a worker when one item has used up its processor time.

    A ``BaseException``, so that the parsers' own ``except Exception`` do not swallow it.
    """


@dataclass(frozen=True, slots=True)
class Crashed(Generic[T]):
    """The answer for an item whose worker ended (or ran out of time) while working on it."""

    item: T
    reason: str


def can_fork() -> bool:
    """True when worker processes may be forked safely: ``fork`` exists and this process runs no
    other thread (a lock another thread holds at the fork stays held forever in the child)."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


# What forked workers run: (function, items, cpu limit). Set just before a pool forks.
_JOB: tuple[Callable[[Any], Any], Sequence[Any], float | None] | None = None
_FORK_LOCK = threading.Lock()
#: Chunks handed out ahead of the answers asked for, per worker process.
WINDOW_PER_PROCESS = 4


def fork_map(function: Callable[[T], R], items: Sequence[T], *, processes: int,
             chunksize: int = 16, cpu_limit: float | None = DEFAULT_CPU_LIMIT,
             ) -> Generator[R | Crashed[T], None, None]:
    """``function(item)`` for every item, in ``processes`` forked workers, in input order.

    The caller makes sure forking is safe (:func:`can_fork`). ``function`` and ``items`` are
    inherited, not pickled (``items`` may be a spooled sequence: a worker reads a slice of it
    per chunk); the answers are pickled back, so they must be picklable. An
    exception ``function`` raises (other than :class:`CpuTimeExceeded`) ends the run and is
    raised here, as if it had been called in this process. ``cpu_limit``: processor seconds per
    item (None: no limit). See the module notes for workers that die.

    At most :data:`WINDOW_PER_PROCESS` chunks per process are handed out ahead of the answers
    asked for, so a slow consumer does not pile answers up here. Stopping early (``close()``,
    an exception, Ctrl-C) ends the workers at once, even in the middle of an item.
    """
    global _JOB
    count = len(items)
    context = multiprocessing.get_context("fork")
    with _FORK_LOCK:  # one pool at a time: the global is what the workers inherit
        _JOB = (function, items, cpu_limit)
        try:
            start = 0
            isolate_until = 0  # items before this index run in a single worker
            while start < count:
                single = start < isolate_until
                end = isolate_until if single else count
                workers = 1 if single else max(1, processes)
                size = 1 if single else max(1, chunksize)
                pool = ProcessPoolExecutor(workers, mp_context=context,
                                           initializer=_start_worker)
                outstanding: deque[tuple[int, Future[list[Any]]]] = deque()
                submitted = start
                finished = False
                try:
                    try:
                        while start < end:
                            while submitted < end and \
                                    len(outstanding) < WINDOW_PER_PROCESS * workers:
                                stop = min(end, submitted + size)
                                outstanding.append(
                                    (stop, pool.submit(_run_chunk, submitted, stop)))
                                submitted = stop
                            answers = outstanding[0][1].result()
                            outstanding.popleft()
                            for answer in answers:
                                yield answer
                                start += 1
                    except BrokenProcessPool:
                        if single:  # one worker, items in turn: the first unanswered one ended it
                            logger.warning("a worker process ended while working on item %d",
                                           start)
                            yield Crashed(items[start], "its worker process ended abruptly")
                            start += 1
                        else:  # the culprit is among the chunks not answered yet
                            isolate_until = max(last for last, future in outstanding
                                                if not _answered(future))
                            logger.warning("a worker process ended; items %d to %d are re-run "
                                           "one by one", start, isolate_until - 1)
                    finished = True
                finally:
                    if not finished:  # stopped early: end the items under way too
                        _terminate(pool)
                    pool.shutdown(wait=True, cancel_futures=True)
        finally:
            _JOB = None


def _answered(future: Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


def _terminate(pool: ProcessPoolExecutor) -> None:
    """End the pool's workers now (the pool sees them gone and breaks; shutdown reaps them)."""
    for process in list((pool._processes or {}).values()):  # no public way before 3.14
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.terminate()


def _start_worker() -> None:
    """In a new worker: no core files, and the processor-time limit's signal handler."""
    with contextlib.suppress(ValueError, OSError):  # not allowed here: cores stay possible
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGPROF, _out_of_time)


def _out_of_time(_signum: int, _frame: FrameType | None) -> None:
    raise CpuTimeExceeded


def _run_chunk(start: int, stop: int) -> list[Any]:
    """In a worker: items ``start`` to ``stop`` (exclusive), each within its limits. The chunk
    is read as one slice (a spooled sequence reads it in one go, not item by item)."""
    assert _JOB is not None
    return [_run(item) for item in _JOB[1][start:stop]]


def _run(item: Any) -> Any:
    """In a worker: one item, within its processor-time limits."""
    assert _JOB is not None
    function, _items, cpu_limit = _JOB
    if cpu_limit is None:
        return function(item)
    _hard_limit(cpu_limit)
    try:
        signal.setitimer(signal.ITIMER_PROF, cpu_limit)
        try:
            return function(item)
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
    except CpuTimeExceeded:
        return Crashed(item, f"the work on it used more than {cpu_limit:g} s of processor time")


def _hard_limit(cpu_limit: float) -> None:
    """Let the kernel end this worker if the item runs far past its limit (stuck in C code,
    where the signal handler of :func:`_out_of_time` cannot run)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ceiling = math.ceil(usage.ru_utime + usage.ru_stime + cpu_limit) + _HARD_GRACE
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            ceiling = min(ceiling, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (ceiling, hard))
    except (ValueError, OSError):  # pragma: no cover - not allowed here
        pass
