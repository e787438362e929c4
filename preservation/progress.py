"""How long work reports progress without knowing who shows it (the CLI uses rich)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

#: Seconds between two redraws of a display refreshed by :func:`refreshed_by_caller`.
REFRESH_INTERVAL = 0.1


class Progress(Protocol):
    """``progress(phase, advance, total)``: ``advance`` units done in ``phase`` of ``total``."""

    def __call__(self, phase: str, advance: int, total: int | None) -> None: ...


def no_progress(phase: str, advance: int, total: int | None) -> None:
    """The default: report nothing."""


def refreshed_by_caller(update: Progress, refresh: Callable[[], None], *,
                        interval: float = REFRESH_INTERVAL,
                        clock: Callable[[], float] = time.monotonic) -> Progress:
    """``update``, then ``refresh()`` when a phase starts or ``interval`` seconds have passed.

    For a display that redraws itself from a background thread (rich's auto-refresh): redrawn
    from the thread that reports progress instead, the work runs with no other thread, so it
    may fork worker processes (:func:`preservation.forking.can_fork`). Between two reports the
    display stands still.
    """
    last = -interval
    phases: set[str] = set()

    def report(phase: str, advance: int, total: int | None) -> None:
        nonlocal last
        update(phase, advance, total)
        now = clock()
        if phase not in phases or now - last >= interval:
            phases.add(phase)
            last = now
            refresh()

    return report
