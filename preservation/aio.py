"""Run pyHanko's coroutines from our synchronous code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

_T = TypeVar("_T")


def run_sync(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion, even when called inside a running event loop.

    ``asyncio.run`` refuses to nest; pyHanko's validation does no network I/O for us, so a
    worker thread with its own loop is enough there.
    """
    if not _loop_running():
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _loop_running() -> bool:
    # Asked outside of an except block so that pyHanko's own logged errors are not chained to
    # a meaningless "no running event loop".
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
