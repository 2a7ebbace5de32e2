"""Waiting on an asynchronous condition with a deadline (never sleeping as synchronisation)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_for(
    probe: Callable[[], Awaitable[T | None]], within: float = 15.0, what: str = "condition"
) -> T:
    """Poll the async `probe` until it returns something truthy; fail after `within` s.

    The probes read state that other tasks or processes change (API objects, listeners),
    which offers no event to await; re-checking every 20 ms is the cheap way.
    """
    last: T | None = None
    try:
        async with asyncio.timeout(within):
            while True:
                last = await probe()
                if last:
                    return last
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(
            f"timed out after {within}s waiting for {what}; last: {last!r}"
        ) from None
