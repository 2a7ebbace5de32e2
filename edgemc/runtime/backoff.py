"""Jittered exponential backoff: the delay policy for request retries and watch reconnects."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays `initial * factor**attempt`, capped, each spread by +/- `jitter` of itself.

    Jitter keeps many clients that failed together (a server restart drops every watch at
    once) from coming back in lockstep. The cap bounds how stale a cache can get while its
    server is unreachable.
    """

    initial: float = 0.2  # seconds before the first retry: long enough to not spin on a dead port
    factor: float = 2.0
    cap: float = 30.0  # never wait longer than this between attempts
    jitter: float = 0.5  # each delay is drawn uniformly from [d*(1-jitter), d*(1+jitter)]

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait before retry number `attempt` (0 = the first retry)."""
        base = min(self.cap, self.initial * self.factor ** min(attempt, 64))
        if not self.jitter:
            return base
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, min(self.cap, base * (1.0 + spread)))
