"""Abuse limits of the embedded server: bodies, watches and request rate.

`RequestLimiter.admit(request, user)` is a context manager wrapped around the handling of
every authenticated request:

- a declared body (Content-Length) above `max_body_bytes` is refused with 413
  `RequestEntityTooLarge` before it is read (bodies without a length are cut off at the same
  limit by the resource handler's reader, `handlers.MAX_BODY_BYTES`);
- each identity has a token bucket of `burst` requests refilled at `rate` per second; an empty
  bucket answers 429 `TooManyRequests` with `Retry-After` (whole seconds until a token is back);
- each identity may hold at most `max_watches` watch streams at once; one more is refused
  with 429 and `Retry-After: 1` (the slot is freed when a stream ends for any reason).

The resource handler applies the rest (`ResourceHandler.limits`):

- a body must arrive within `body_timeout` of the request's headers, or the request is
  answered 408 and nothing is changed (a client trickling a body holds a connection);
- a decoded body nested deeper than `MAX_NESTING`, or that YAML aliases expand to more values
  than its size could hold without them (a "billion laughs" bomb, or an alias cycle), is a
  400 (`check_decoded_body`), as are integers beyond 64 bits, which JSON encoding refuses;
- a watch stream whose client takes no data for `watch_send_timeout` is cut, so that a client
  that never reads does not pin its events in memory (it resumes from its last revision).

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
from typing import Any

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
    # Seconds from a request's headers to the end of its body. kube-apiserver gives a whole
    # request 60 s (--request-timeout); a body that has not arrived by then is not coming.
    body_timeout: float = 60.0
    # Seconds a watch event may wait for the client to take it before the stream is cut. Until
    # then every event for the stream is queued in memory; kube-apiserver drops an unresponsive
    # watcher after a fraction of a second, this is lenient for clients on slow links.
    watch_send_timeout: float = 30.0
    # Groups not subject to rate and watch limits (the controllers' admin identities).
    exempt_groups: frozenset[str] = field(
        default_factory=lambda: frozenset({"system:masters", "system:kcp:admin"})
    )


# How deep a request body may nest objects and arrays. JSON encoding (orjson) refuses more
# than 254 levels, and a stored object is nested a few levels deeper again in lists, watch
# events and Tables; the deepest real objects (CRDs with nested schemas) stay well below.
MAX_NESTING = 128

# Values a YAML body may expand to beyond one per byte of the body (which is more than any
# body without aliases holds): aliases repeat shared values, and a few nested ones make
# billions that every later step (validation, encoding, storage) would walk.
ALIAS_ALLOWANCE = 10_000

_INT_RANGE = (-(2**63), 2**64 - 1)  # what orjson encodes


def check_decoded_body(value: Any, size: int) -> None:
    """Refuse a decoded body of `size` bytes that is too deep, too expanded or unencodable."""
    budget = size + ALIAS_ALLOWANCE
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, int) and not _INT_RANGE[0] <= node <= _INT_RANGE[1]:
            raise errors.bad_request(f"integer out of range: {node}")
        if not isinstance(node, dict | list):
            continue
        if depth > MAX_NESTING:
            raise errors.bad_request(f"the request body is nested more than {MAX_NESTING} deep")
        budget -= len(node)
        if budget < 0:
            raise errors.bad_request("the request body expands to too many values (YAML aliases)")
        stack.extend(
            (child, depth + 1) for child in (node.values() if isinstance(node, dict) else node)
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
