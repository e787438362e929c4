"""How long work reports progress without knowing who shows it (the CLI uses rich)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """``progress(phase, advance, total)``: ``advance`` units done in ``phase`` of ``total``."""

    def __call__(self, phase: str, advance: int, total: int | None) -> None: ...


def no_progress(phase: str, advance: int, total: int | None) -> None:
    """The default: report nothing."""
