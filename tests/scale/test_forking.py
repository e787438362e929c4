"""Work in forked worker processes (preservation/forking.py): answers in input order, and an
item that crashes its worker or runs out of processor time does not take the run down."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from preservation import forking
from preservation.forking import Crashed, fork_map

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="worker processes are forked; no fork here")


def test_answers_come_in_input_order_from_other_processes() -> None:
    me = os.getpid()

    def work(n: int) -> tuple[int, int]:
        return n * n, os.getpid()

    answers = [a for a in fork_map(work, list(range(100)), processes=2, chunksize=3)
               if not isinstance(a, Crashed)]
    assert [a for a, _ in answers] == [n * n for n in range(100)]
    assert me not in {pid for _, pid in answers}


def test_an_item_that_ends_its_worker_is_pinpointed() -> None:
    """Each crashing item (wherever it falls in a chunk) is the only one answered Crashed."""
    deadly = {7, 8, 40, 99}

    def work(n: int) -> int:
        if n in deadly:
            os._exit(3)  # as a segfault in a parser would end it
        return -n

    answers = list(fork_map(work, list(range(100)), processes=2, chunksize=4))
    assert len(answers) == 100
    for n, answer in enumerate(answers):
        if n in deadly:
            assert answer == Crashed(n, "its worker process ended abruptly")
        else:
            assert answer == -n


def test_an_item_past_its_processor_time_is_stopped() -> None:
    def work(n: int) -> int:
        while n == 2:  # stuck, in Python code
            pass
        return n

    answers = list(fork_map(work, [0, 1, 2, 3], processes=2, chunksize=1, cpu_limit=0.3))
    assert answers[:2] == [0, 1] and answers[3] == 3
    assert isinstance(answers[2], Crashed) and answers[2].item == 2
    assert "processor time" in answers[2].reason


def test_the_kernel_ends_an_item_the_signal_cannot_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stuck where the Python handler never runs (here: the signal ignored), RLIMIT_CPU ends the
    worker; the item is found by re-running its neighbours one by one."""
    monkeypatch.setattr(forking, "_HARD_GRACE", 1)

    def work(n: int) -> int:
        if n == 1:
            signal.signal(signal.SIGPROF, signal.SIG_IGN)
            while True:
                pass
        return n

    answers = list(fork_map(work, [0, 1, 2], processes=2, chunksize=1, cpu_limit=0.5))
    assert answers == [0, Crashed(1, "its worker process ended abruptly"), 2]


def test_an_exception_is_raised_here_and_the_workers_stop() -> None:
    def work(n: int) -> int:
        if n == 5:
            raise ValueError("a bug, not a hostile file")
        return n

    answers = fork_map(work, list(range(1000)), processes=2, chunksize=1)
    got = []
    with pytest.raises(ValueError, match="a bug"):
        for answer in answers:
            got.append(answer)
    assert got == [0, 1, 2, 3, 4]
    assert multiprocessing.active_children() == []


def test_a_run_stopped_early_leaves_no_worker() -> None:
    answers = fork_map(abs, list(range(-1000, 0)), processes=2, chunksize=1)
    assert next(answers) == 1000
    answers.close()
    assert multiprocessing.active_children() == []
    assert forking._JOB is None


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_stopping_a_run_ends_the_item_under_way() -> None:
    """close() does not wait for items the workers are working on: the workers are ended."""
    def work(n: int) -> int:
        if n == 1:
            time.sleep(600)  # a slow item (no processor time: its limit never comes)
        return n

    answers = fork_map(work, list(range(8)), processes=2, chunksize=1)
    assert next(answers) == 0
    pids = [p.pid for p in multiprocessing.active_children() if p.pid is not None]
    assert pids
    answers.close()
    assert all(_gone(pid) for pid in pids)
    assert multiprocessing.active_children() == []


def test_at_most_a_window_of_chunks_is_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A paused consumer: chunks are handed to the workers a window at a time, not all at once;
    the answers still come in input order."""
    submitted: list[int] = []

    class Counting(ProcessPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            submitted.append(args[0])
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(forking, "ProcessPoolExecutor", Counting)
    processes, chunksize = 2, 3
    window = forking.WINDOW_PER_PROCESS * processes
    answers = fork_map(abs, [-n for n in range(200)], processes=processes, chunksize=chunksize)
    got = []
    for answer in answers:
        got.append(answer)
        answered_chunks = len(got) // chunksize
        assert len(submitted) - answered_chunks <= window
    assert got == list(range(200))
    assert len(submitted) == -(-200 // chunksize)
    assert submitted == sorted(submitted)
