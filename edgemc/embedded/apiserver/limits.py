"""Abuse limits of the embedded server: body size, concurrent watches and request rate.

`RequestLimiter.admit(request, user)` is a context manager wrapped around the handling of
every authenticated request:

- a declared body (Content-Length) above `max_body_bytes` is refused with 413
  `RequestEntityTooLarge` before it is read (bodies without a length are cut off at the same
  limit by the resource handler's reader, `handlers.MAX_BODY_BYTES`);
- each identity has a token bucket of `burst` requests refilled at `rate` per second; an empty
  bucket answers 429 `TooManyRequests` with `Retry-After` (whole seconds until a token is back);
- each identity may hold at most `max_watches` watch streams at once; one more is refused
  with 429 and `Retry-After: 1` (the slot is freed when a stream ends for any reason).

An identity is the user name plus, for ServiceAccounts, the logical cluster that issued the
token (every workspace has a `system:serviceaccount:default:default`). Members of
`exempt_groups` (the admins the controllers run as) skip the rate and watch limits, as
kube-apiserver's priority-and-fairness exempts `system:masters`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from aiohttp import web

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.auth import CLUSTER_EXTRA
from edgemc.embedded.apiserver.objects import User

MIB = 1024 * 1024


@dataclass
class LimitsConfig:
    """Tunables of `RequestLimiter`; the defaults leave normal use (tests, `up`) untouched."""

    # kube-apiserver's own limit on request bodies (etcd's value size is 1.5 MiB; JSON
    # patches and YAML are larger than what they store).
    max_body_bytes: int = 3 * MIB
    # Open watch streams per identity. A syncer or controller holds one per resource type it
    # follows (tens); each stream costs a store subscription and a queue.
    max_watches: int = 100
    # Sustained requests per second per identity; 0 turns rate limiting off. 100/s with a
    # burst of 200 is several times what a syncer (client-side qps 30, burst 20) sends.
    rate: float = 100.0
    burst: int = 200
    # Groups not subject to rate and watch limits (the controllers' admin identities).
    exempt_groups: frozenset[str] = field(
        default_factory=lambda: frozenset({"system:masters", "system:kcp:admin"})
    )


# Buckets of identities idle long enough to be full again are forgotten once there are more
# than this many, so that the table does not grow with every identity ever seen.
MAX_TRACKED_IDENTITIES = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


def identity_of(user: User) -> str:
    """The key limits are counted under (user name, plus the issuing cluster for tokens)."""
    home = user.extra.get(CLUSTER_EXTRA)
    return f"{home[0]}|{user.name}" if home and home[0] else user.name


def is_watch(request: web.Request) -> bool:
    return request.method == "GET" and request.query.get("watch", "").lower() in ("true", "1")


class RequestLimiter:
    """Enforces `LimitsConfig` per identity; `clock` is injectable for tests."""

    def __init__(
        self, config: LimitsConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or LimitsConfig()
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._watches: dict[str, int] = {}

    # -- pieces (usable on their own) -----------------------------------------------------

    def check_body(self, content_length: int | None) -> None:
        limit = self.config.max_body_bytes
        if content_length is not None and content_length > limit:
            raise errors.too_large(f"limit is {limit}")

    def take_token(self, identity: str) -> None:
        """Spend one request of the identity's bucket or raise 429 with Retry-After."""
        rate, burst = self.config.rate, max(1, self.config.burst)
        if rate <= 0:
            return
        now = self.clock()
        bucket = self._buckets.get(identity)
        if bucket is None:
            self._forget_idle(now)
            bucket = self._buckets[identity] = _Bucket(float(burst), now)
        else:
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        if bucket.tokens < 1.0:
            raise errors.too_many_requests(max(1, math.ceil((1.0 - bucket.tokens) / rate)))
        bucket.tokens -= 1.0

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) < MAX_TRACKED_IDENTITIES:
            return
        rate, burst = self.config.rate, max(1, self.config.burst)
        idle = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * rate >= burst]
        for key in idle:
            del self._buckets[key]

    @contextlib.contextmanager
    def watch_slot(self, identity: str) -> Iterator[None]:
        """Hold one of the identity's watch slots for the duration of a stream."""
        count = self._watches.get(identity, 0)
        if count >= self.config.max_watches:
            raise errors.StatusError(
                429,
                "TooManyRequests",
                f"too many concurrent watches (limit {self.config.max_watches} per user)",
                {"retryAfterSeconds": 1},
                {"Retry-After": "1"},
            )
        self._watches[identity] = count + 1
        try:
            yield
        finally:
            left = self._watches.get(identity, 1) - 1
            if left > 0:
                self._watches[identity] = left
            else:
                self._watches.pop(identity, None)

    def open_watches(self, identity: str) -> int:
        return self._watches.get(identity, 0)

    # -- the server hook -----------------------------------------------------------------

    @contextlib.contextmanager
    def admit(self, request: web.Request, user: User) -> Iterator[None]:
        """Apply every limit to one request; the body of the `with` is its handling."""
        self.check_body(request.content_length)
        if any(group in self.config.exempt_groups for group in user.groups):
            yield
            return
        identity = identity_of(user)
        self.take_token(identity)
        if is_watch(request):
            with self.watch_slot(identity):
                yield
        else:
            yield
