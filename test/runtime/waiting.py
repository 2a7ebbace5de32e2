"""Waiting on a condition with a deadline (never sleeping as a means of synchronisation)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_until(cond: Callable[[], bool], within: float = 10.0) -> None:
    """Return as soon as `cond()` holds; fail with TimeoutError after `within` seconds.

    Conditions here are observations of other tasks' progress (counters, cache contents),
    which have no event to await; re-checking every few milliseconds is the cheap way.
    """
    async with asyncio.timeout(within):
        while True:
            if cond():
                return
            await asyncio.sleep(0.002)
