"""Rate limiters deciding how long a failed work-queue item waits before it is retried."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol


class RateLimiter(Protocol):
    def when(self, item: Hashable) -> float:
        """Seconds the item must wait now; counts as one more requeue of it."""
        ...

    def forget(self, item: Hashable) -> None:
        """The item succeeded: stop tracking it."""
        ...

    def num_requeues(self, item: Hashable) -> int: ...


class ItemExponentialLimiter:
    """Per item: base * 2**failures, capped.

    Cost: one dict entry per item that has failed and not yet been forgotten; a controller that
    never calls `forget` on success grows this without bound (the Controller always does).
    """

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base  # 5 ms: a transient conflict is retried almost at once
        self.cap = cap  # 1000 s: a permanently failing key costs one attempt per ~17 min
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        n = self._failures.get(item, 0)
        self._failures[item] = n + 1
        if n >= 64:  # 2**64 * base overflows any cap; skip the float power
            return self.cap
        return min(self.cap, self.base * (2**n))

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class TokenBucketLimiter:
    """An overall bucket: `burst` retries at once, then `qps` per second, shared by all items.

    It protects the API server when many keys fail together (e.g. the server was down): the
    per-item backoff alone would retry all of them 5 ms later.
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, now: Callable[[], float] | None = None):
        if now is None:
            import time

            now = time.monotonic
        self.qps = qps
        self.burst = burst
        self._now = now
        self._tokens = float(burst)
        self._last: float | None = None  # read lazily: `now` may need a running event loop

    def when(self, item: Hashable) -> float:
        t = self._now()
        if self._last is not None:
            self._tokens = min(float(self.burst), self._tokens + (t - self._last) * self.qps)
        self._last = t
        self._tokens -= 1.0  # reserve: a negative balance is paid back by waiting
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: Hashable) -> None:
        """Nothing to forget: the bucket is shared by all items, not kept per item."""

    def num_requeues(self, item: Hashable) -> int:
        return 0


@dataclass
class MaxOfLimiter:
    """Combines limiters: wait the longest any of them asks for."""

    limiters: tuple[RateLimiter, ...]

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter(now: Callable[[], float] | None = None) -> MaxOfLimiter:
    """Per-item 5 ms .. 1000 s exponential backoff combined with a 10 qps / burst 100 bucket."""
    return MaxOfLimiter((ItemExponentialLimiter(0.005, 1000.0), TokenBucketLimiter(10.0, 100, now)))
