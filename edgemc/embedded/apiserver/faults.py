"""Fault injection for the embedded API server: the failures a controller must survive.

Every server has a `Faults` object, `server.faults`, built from `ServerConfig.faults` and
installed as an aiohttp middleware in front of all request handling. Its `config` can be
replaced at any time (`server.faults.config = FaultConfig.parse("500=0.1")`, and
`FaultConfig()` to switch everything off). What it can do:

- drop watch streams: after each stored event of the resource a watch follows, its
  connection is cut with probability `drop_watch` (the event may or may not have gone out,
  as on a real broken connection); the client has to resume from the last revision it saw;
- answer a fraction `gone` of the watches that start from a resourceVersion with 410 Expired,
  half of them as an HTTP 410 and half as an `ERROR` event in a 200 stream (both happen on
  real servers); the client has to relist;
- answer a fraction of all requests with 429 TooManyRequests (with `Retry-After`) or 500
  InternalError, before anything is done, so the request is safe to repeat;
- add latency (uniform in [0.5, 1.5] x `latency`) before each request;
- compact the store's whole watch history every `compact_every` seconds;
- refuse connections (a partitioned edge): the listening socket is closed and every open
  connection cut, then the server listens again on the same port. Periodically with
  `partition_for`/`partition_every`, or on demand with `partitioned()` / `partition(seconds)`.

`restart(server)` stops a server and starts a new one on the same port and data directory
(a process restart, as far as clients can tell).

Health endpoints (/healthz, /livez, /readyz) are never faulted, so readiness checks keep
meaning "the process is up". Faults never change stored objects; compaction only forgets
watch history. Randomness comes from one `random.Random`, seeded by `FaultConfig.seed`, so
a single-threaded test run with a seed injects the same faults every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import orjson
from aiohttp import web

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.handlers import status_response
from edgemc.embedded.apiserver.limits import is_watch
from edgemc.embedded.apiserver.storage import Event

if TYPE_CHECKING:
    from edgemc.embedded.apiserver.server import ApiServer, ServerConfig

HEALTH_PATHS = frozenset({"/healthz", "/livez", "/readyz"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class FaultConfig:
    """What to inject; the defaults inject nothing. Spec keys (see `parse`) in brackets."""

    # Seed of the fault randomness; None draws it from the OS. [seed]
    seed: int | None = None
    # Probability, per stored event of its resource, that a watch connection is cut. [drop-watch]
    drop_watch: float = 0.0
    # Fraction of watches from a resourceVersion answered 410 Expired. [gone]
    gone: float = 0.0
    # Fraction of requests answered 429 TooManyRequests. [429]
    too_many_requests: float = 0.0
    # The Retry-After (whole seconds) of injected 429s. [retry-after]
    retry_after: int = 1
    # Fraction of requests answered 500 InternalError. [500]
    internal_error: float = 0.0
    # Mean added delay per request, seconds. [latency]
    latency: float = 0.0
    # Compact the store's whole history this often, seconds; 0 = never. [compact]
    compact_every: float = 0.0
    # In every `partition_every` seconds, refuse connections for the last `partition_for`;
    # 0 = never. [partition=FOR@EVERY]
    partition_for: float = 0.0
    partition_every: float = 0.0

    def __post_init__(self) -> None:
        for name in ("drop_watch", "gone", "too_many_requests", "internal_error"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], not {value}")
        if self.too_many_requests + self.internal_error > 1.0:
            raise ValueError("the 429 and 500 fractions add up to more than 1")
        if self.retry_after < 0 or self.latency < 0 or self.compact_every < 0:
            raise ValueError("retry-after, latency and compact must not be negative")
        if self.partition_every or self.partition_for:
            if not 0 < self.partition_for < self.partition_every:
                raise ValueError("partition=FOR@EVERY needs 0 < FOR < EVERY")

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        """A config from `key=value,...`, e.g. `drop-watch=0.1,gone=0.05,429=0.02,500=0.02,
        latency=50ms,compact=5s,partition=10s@30s,retry-after=1,seed=7`.

        Durations are seconds, or take a unit: ms, s, m. An empty spec injects nothing.
        """
        values: dict[str, object] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not value:
                raise ValueError(f"fault {item!r} is not key=value")
            try:
                if key == "seed":
                    values["seed"] = int(value)
                elif key == "retry-after":
                    values["retry_after"] = int(value)
                elif key == "partition":
                    length, at, period = value.partition("@")
                    if not at:
                        raise ValueError("partition is FOR@EVERY, e.g. 10s@30s")
                    values["partition_for"] = parse_duration(length)
                    values["partition_every"] = parse_duration(period)
                elif key in _DURATION_KEYS:
                    values[_DURATION_KEYS[key]] = parse_duration(value)
                elif key in _FRACTION_KEYS:
                    values[_FRACTION_KEYS[key]] = float(value)
                else:
                    known = ["seed", "retry-after", "partition", *_DURATION_KEYS, *_FRACTION_KEYS]
                    raise ValueError(f"unknown fault {key!r} (known: {', '.join(sorted(known))})")
            except ValueError as exc:
                raise ValueError(f"fault {item!r}: {exc}") from exc
        return cls(**values)  # type: ignore[arg-type]

    def spec(self) -> str:
        """The `parse` spec of this config (only what differs from the defaults)."""
        default = FaultConfig()
        parts: list[str] = []
        for key, name in _FRACTION_KEYS.items():
            if getattr(self, name) != getattr(default, name):
                parts.append(f"{key}={getattr(self, name)!r}")
        for key, name in _DURATION_KEYS.items():
            if getattr(self, name):
                parts.append(f"{key}={getattr(self, name)!r}s")
        if self.partition_every:
            parts.append(f"partition={self.partition_for!r}s@{self.partition_every!r}s")
        if self.retry_after != default.retry_after:
            parts.append(f"retry-after={self.retry_after}")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return ",".join(parts)


_FRACTION_KEYS = {
    "drop-watch": "drop_watch",
    "gone": "gone",
    "429": "too_many_requests",
    "500": "internal_error",
}
_DURATION_KEYS = {"latency": "latency", "compact": "compact_every"}
_DURATION = re.compile(r"^([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(ms|s|m)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds from `50ms`, `5s`, `2m` or a plain number of seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class FaultCounts:
    """How many faults of each kind were injected (for test output and benchmarks)."""

    requests: int = 0  # requests that passed through the injector (health checks excluded)
    delayed: int = 0
    too_many_requests: int = 0
    internal_errors: int = 0
    gone: int = 0
    dropped_watches: int = 0
    compactions: int = 0
    partitions: int = 0
    refused_while_stopping: int = 0

    def summary(self) -> str:
        return " ".join(f"{k}={v}" for k, v in dataclasses.asdict(self).items())


class Faults:
    """The live fault injector of one server (see the module docstring)."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._config = config or FaultConfig()
        self.rng = random.Random(self._config.seed)
        self.counts = FaultCounts()
        self._server: ApiServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Open watch requests by id, with the (group, resource) each follows.
        self._watches: dict[int, tuple[web.Request, tuple[str, str]]] = {}
        self._partition_depth = 0
        self._stopping = False

    # -- configuration -------------------------------------------------------------------

    @property
    def config(self) -> FaultConfig:
        return self._config

    @config.setter
    def config(self, config: FaultConfig) -> None:
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        """Switch to `config` now (a seed in it reseeds the randomness)."""
        self._config = config
        if config.seed is not None:
            self.rng.seed(config.seed)
        self._restart_tasks()

    # -- binding to a running server -----------------------------------------------------

    def bind(self, server: ApiServer) -> None:
        """Start injecting into `server` (called by `ApiServer.start` once it listens)."""
        self._server = server
        self._stopping = False
        server.store.add_listener(self._on_event)
        self._restart_tasks()

    async def unbind(self) -> None:
        """Stop the periodic faults (called by `ApiServer.stop`); requests still arriving on
        old keep-alive connections are refused with 503 and their connection closed."""
        self._stopping = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _restart_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        if self._server is None or self._stopping:
            return
        config = self._config
        if config.compact_every > 0:
            self._tasks.append(asyncio.create_task(self._compact_loop(config.compact_every)))
        if config.partition_every > 0:
            self._tasks.append(
                asyncio.create_task(
                    self._partition_loop(config.partition_for, config.partition_every)
                )
            )

    # -- the middleware ------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in HEALTH_PATHS:
            return await handler(request)
        if self._stopping:
            # A keep-alive connection to a stopped server: make the client reconnect (to the
            # restarted server) instead of being answered from a closed store.
            self.counts.refused_while_stopping += 1
            request.protocol.close()
            return status_response(
                errors.StatusError(503, "ServiceUnavailable", "the API server is shutting down")
            )
        config = self._config
        self.counts.requests += 1
        if config.latency > 0:
            self.counts.delayed += 1
            await asyncio.sleep(config.latency * self.rng.uniform(0.5, 1.5))
        roll = self.rng.random()
        if roll < config.too_many_requests:
            self.counts.too_many_requests += 1
            return status_response(errors.too_many_requests(config.retry_after))
        if roll < config.too_many_requests + config.internal_error:
            self.counts.internal_errors += 1
            return status_response(errors.internal("injected fault"))
        if not is_watch(request):
            return await handler(request)
        if config.gone > 0 and request.query.get("resourceVersion", "") not in ("", "0"):
            if self.rng.random() < config.gone:
                self.counts.gone += 1
                return await self._gone(request)
        target = _group_resource(request.path)
        if target is None:
            return await handler(request)
        self._watches[id(request)] = (request, target)
        try:
            return await handler(request)
        finally:
            self._watches.pop(id(request), None)

    async def _gone(self, request: web.Request) -> web.StreamResponse:
        expired = errors.expired(
            f"too old resource version: {request.query.get('resourceVersion')} (injected fault)"
        )
        if self.rng.random() < 0.5:
            return status_response(expired)
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(orjson.dumps({"type": "ERROR", "object": expired.status()}) + b"\n")
        await response.write_eof()
        return response

    def _on_event(self, event: Event) -> None:
        chance = self._config.drop_watch
        if chance <= 0:
            return
        target = event.reskey[:2]
        for key, (request, follows) in list(self._watches.items()):
            if follows == target and self.rng.random() < chance:
                self.counts.dropped_watches += 1
                del self._watches[key]
                if request.transport is not None:
                    request.transport.abort()

    # -- compaction ----------------------------------------------------------------------

    def compact(self) -> None:
        """Forget the store's whole watch history now."""
        if self._server is not None:
            self.counts.compactions += 1
            self._server.store.compact()

    async def _compact_loop(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            self.compact()

    # -- partitions ----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def partitioned(self) -> AsyncIterator[None]:
        """Refuse connections for the duration of the block (partitions may nest)."""
        self._partition_depth += 1
        if self._partition_depth == 1:
            await self._cut_off()
        try:
            yield
        finally:
            self._partition_depth -= 1
            if self._partition_depth == 0:
                await self._reconnect()

    async def partition(self, seconds: float) -> None:
        """Refuse connections for `seconds`, then listen again on the same port."""
        async with self.partitioned():
            await asyncio.sleep(seconds)

    @property
    def is_partitioned(self) -> bool:
        return self._partition_depth > 0

    async def _partition_loop(self, length: float, every: float) -> None:
        while True:
            await asyncio.sleep(every - length)
            await self.partition(length)

    # The partition works on the server's aiohttp site and runner: it closes the listening
    # socket (new connections are refused) and aborts every open connection.
    async def _cut_off(self) -> None:
        server = self._server
        if server is None:
            return
        self.counts.partitions += 1
        site, server._site = server._site, None
        if site is not None:
            await site.stop()
        runner = server._runner
        if runner is not None and runner.server is not None:
            for connection in runner.server.connections:
                if connection.transport is not None:
                    connection.transport.abort()

    async def _reconnect(self) -> None:
        server = self._server
        if server is None or self._stopping or server._runner is None:
            return
        ssl_context = None
        if server.certs is not None:
            ssl_context = await asyncio.to_thread(server.certs.server_context)
        site = web.TCPSite(server._runner, server.config.host, server.port, ssl_context=ssl_context)
        await site.start()
        server._site = site


def _group_resource(path: str) -> tuple[str, str] | None:
    """(group, resource) of a collection URL, wherever its /api or /apis part starts."""
    parts = [p for p in path.split("/") if p]
    for i in range(len(parts)):
        if parts[i] == "api":
            group, rest = "", parts[i + 2 :]
        elif parts[i] == "apis":
            group, rest = (parts[i + 1] if i + 1 < len(parts) else ""), parts[i + 3 :]
        else:
            continue
        if len(rest) >= 3 and rest[0] == "namespaces":
            rest = rest[2:]
        return (group, rest[0]) if rest else None
    return None


ServerT = TypeVar("ServerT", bound="ApiServer")


async def restart(
    server: ServerT, build: Callable[[ServerConfig], ServerT] | None = None
) -> ServerT:
    """Stop `server` and start a new one on the same port and data directory.

    `build` makes the new server from the config (default: the server's own class, which
    suits `ApiServer` and `KcpServer`; pass one that adds extra authenticators or hooks).
    The new server keeps the fault config and counts of the old one. Objects, revisions,
    tokens and the CA survive because they live in the data directory; an in-memory server
    (no data directory) cannot be restarted.
    """
    if server.config.data_dir is None:
        raise ValueError("only a server with a data directory can be restarted")
    config = dataclasses.replace(server.config, port=server.port, faults=server.faults.config)
    counts = server.faults.counts
    await server.stop()
    fresh = (build or type(server))(config)
    fresh.faults.counts = counts
    await fresh.start()
    return fresh
