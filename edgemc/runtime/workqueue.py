"""The work queue between event handlers and reconcile workers: de-duplicating, rate-limited.

Guarantees (each has a test in test/runtime/test_workqueue*.py):

* Fair: items are handed out in the order they were added (FIFO); waiting `get` callers are
  served in the order they started waiting.
* Stingy: an item is never handed to two workers at once. Adding an item that is already
  waiting collapses into the one pending entry.
* Re-adding during processing is allowed: an item added while a worker holds it is not
  handed out again until that worker calls `done`, and is then queued once more.
* Nothing accepted is lost: every `add` accepted before `shutdown` is followed by a `get`
  returning that item, as long as workers keep calling `get`/`done` (with `drain=True`).

Protocol for a worker::

    while (item := await queue.get()) is not None:
        try:
            ...                               # process
            queue.forget(item)                # success: reset its backoff
        except Exception:
            queue.add_rate_limited(item)      # failure: retry later, with backoff
        finally:
            queue.done(item)                  # always: release the item

`shutdown(drain=True)` stops accepting adds (delayed adds still waiting are dropped), lets
workers take what is already queued, and returns once the queue is empty and nothing is
being processed; then `get` returns None. `shutdown(drain=False)` makes `get` return None at
once and returns when the items in flight are done.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from edgemc.runtime import metrics
from edgemc.runtime.clock import Clock, LoopClock, Timer
from edgemc.runtime.ratelimit import RateLimiter, default_controller_rate_limiter

T = TypeVar("T", bound=Hashable)


class WorkQueue(Generic[T]):
    """A de-duplicating FIFO with delayed and rate-limited adds; see the module docstring.

    `name` labels the queue's metrics; an unnamed queue records none. `clock` defaults to the
    event loop's clock; tests pass a `FakeClock` to drive delays by hand. `rate_limiter`
    defaults to client-go's controller default (per-item 5 ms..1000 s, 10 qps burst 100).
    """

    def __init__(
        self,
        name: str = "",
        *,
        rate_limiter: RateLimiter | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self._clock: Clock = clock or LoopClock()
        self._now = self._clock.now
        self._limiter: RateLimiter = rate_limiter or default_controller_rate_limiter(self._now)
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()  # items waiting to be processed (queued or re-added)
        # Items handed out and not yet done, with the time they were handed out (0.0 without
        # metrics).
        self._processing: dict[T, float] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        # Delayed adds: one timer per distinct item (bounded by the number of keys).
        self._waiting: dict[T, tuple[float, Timer]] = {}
        self._limited: set[T] = set()  # items given to the rate limiter and not forgotten
        self._shutting_down = False
        self._drain = True
        self._finished: asyncio.Event | None = None
        self._metrics = metrics.queue_stats(name) if name else None
        if self._metrics is not None:
            self._metrics.track_depth(self)
        # With metrics: when each queued item was queued, in `_queue`'s order.
        self._queued_at: deque[float] = deque()

    # -- adding -------------------------------------------------------------------------

    def add(self, item: T) -> None:
        """Queue `item` unless it is already waiting; ignored after shutdown."""
        dirty = self._dirty
        if self._shutting_down or item in dirty:
            return
        dirty.add(item)
        if self._metrics is not None:
            self._metrics.adds += 1
        if item not in self._processing:  # else `done` queues it again
            self._push(item)

    def add_after(self, item: T, delay: float) -> None:
        """Add `item` once `delay` seconds have passed; an earlier pending time wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        when = self._clock.now() + delay
        existing = self._waiting.get(item)
        if existing is not None:
            if existing[0] <= when:
                return
            existing[1].cancel()
        timer = self._clock.call_at(when, functools.partial(self._fire, item))
        self._waiting[item] = (when, timer)

    def add_rate_limited(self, item: T) -> None:
        """Add `item` after the delay its rate limiter prescribes (counts as a retry)."""
        if self._shutting_down:
            return
        if self._metrics:
            self._metrics.retries += 1
        self._limited.add(item)
        self.add_after(item, self._limiter.when(item))

    def forget(self, item: T) -> None:
        """Stop tracking `item`'s failures: its next rate-limited add starts from 5 ms."""
        if item in self._limited:  # the limiter only knows items it was asked about
            self._limited.discard(item)
            self._limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        """How many rate-limited adds `item` has had since it was last forgotten."""
        return self._limiter.num_requeues(item)

    # -- taking -------------------------------------------------------------------------

    async def get(self) -> T | None:
        """The next item, waiting for one; None once the queue is shut down (and drained)."""
        while (item := self.get_nowait()) is None:
            if self._shutting_down and (not self._drain or not self._processing):
                return None
            fut = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._wake_one()  # we were woken for an item we will not take: pass it on
                else:
                    fut.cancel()
                raise
        return item

    def get_nowait(self) -> T | None:
        """The next item if one can be handed out at once, else None (never waits).

        Workers call it before `get` to skip a coroutine round trip when work is queued.
        """
        queue = self._queue
        if not queue or (self._shutting_down and not self._drain):
            return None
        item = queue.popleft()
        self._dirty.discard(item)
        stats = self._metrics
        if stats is None:
            self._processing[item] = 0.0
            return item
        now = self._processing[item] = self._now()
        stats.queue_duration.observe(now - self._queued_at.popleft())
        return item

    def done(self, item: T) -> None:
        """Release `item` after processing; if it was re-added meanwhile, queue it again."""
        started = self._processing.pop(item, None)
        stats = self._metrics
        if stats is not None and started is not None:
            stats.work_duration.observe(self._now() - started)
        if item in self._dirty:
            self._push(item)
        if self._shutting_down:
            self._check_finished()

    # -- lifecycle ----------------------------------------------------------------------

    async def shutdown(self, drain: bool = True) -> None:
        """Stop accepting work and wait until it is finished; see the module docstring."""
        if not self._shutting_down:
            self._shutting_down = True
            self._drain = drain
            for _, timer in self._waiting.values():
                timer.cancel()
            self._waiting.clear()
        elif not drain:
            self._drain = False
        if self._finished is None:
            self._finished = asyncio.Event()
        self._check_finished()
        self._wake_all()
        await self._finished.wait()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        """Items queued and not yet taken (not counting delayed or in-flight ones)."""
        return len(self._queue)

    def processing(self) -> int:
        """Items handed out and not yet `done`."""
        return len(self._processing)

    def waiting(self) -> int:
        """Items scheduled by `add_after`/`add_rate_limited` and not yet added."""
        return len(self._waiting)

    # -- internals ----------------------------------------------------------------------

    def _fire(self, item: T) -> None:
        self._waiting.pop(item, None)
        self.add(item)

    def _push(self, item: T) -> None:
        self._queue.append(item)
        if self._metrics is not None:
            self._queued_at.append(self._now())
        if self._getters:
            self._wake_one()

    def _wake_one(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _wake_all(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)

    def _check_finished(self) -> None:
        if self._processing or (self._drain and self._queue):
            return
        if self._finished is not None:
            self._finished.set()
        self._wake_all()
