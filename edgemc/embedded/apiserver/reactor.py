"""A minimal in-process controller loop for the server's own reconcilers (no HTTP involved).

Store listeners put keys on a de-duplicating queue; one task reconciles them in order. A
reconcile may ask to run again later (kcp's staged phases are reached over several passes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable

log = logging.getLogger(__name__)


class Reactor:
    """Runs `reconcile(key)` for queued keys, one at a time; a key queued twice runs once."""

    def __init__(self, name: str, reconcile: Callable[[Hashable], float | None]) -> None:
        self.name = name
        self._reconcile = reconcile
        self._queue: asyncio.Queue[Hashable] = asyncio.Queue()
        self._pending: set[Hashable] = set()
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        self._timers: set[asyncio.TimerHandle] = set()

    def enqueue(self, key: Hashable) -> None:
        if key not in self._pending:
            self._pending.add(key)
            self._queue.put_nowait(key)

    def enqueue_after(self, key: Hashable, delay: float) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            self._timers.discard(handle)  # type: ignore[arg-type]
            self.enqueue(key)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"reactor-{self.name}")

    async def stop(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def idle(self) -> bool:
        return self._queue.empty() and not self._busy

    async def _run(self) -> None:
        while True:
            key = await self._queue.get()
            self._pending.discard(key)
            self._busy = True
            try:
                again = self._reconcile(key)
            except Exception:
                log.exception("%s: reconciling %r failed; retrying", self.name, key)
                again = 0.5
            finally:
                self._busy = False
            if again is not None:
                if again <= 0:
                    self.enqueue(key)
                else:
                    self.enqueue_after(key, again)
            # Let request handlers run between passes.
            await asyncio.sleep(0)


async def wait_all_idle(*reactors: Reactor, within: float = 30.0) -> None:
    """Wait until none of the reactors has queued or running work (start-up, tests).

    Timers set by `enqueue_after` are not waited for: they stand for work that is meant to
    happen later.
    """
    async with asyncio.timeout(within):
        while True:
            # Two passes of the loop: a reconcile may enqueue into a reactor already checked.
            if all(r.idle for r in reactors):
                await asyncio.sleep(0)
                if all(r.idle for r in reactors):
                    return
            await asyncio.sleep(0.001)
