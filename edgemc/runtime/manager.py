"""Manager: the lifecycle of a component's informers and controllers, health, metrics, signals.

Start order: the /healthz, /readyz and /metrics endpoints (or earlier, with
`serve_endpoints`, for a component that first waits for its API server); informers (caches
fill even while waiting to become leader, so a new leader starts warm); the leader Lease if
enabled; then each controller once its informers have synced. /readyz answers 200 once
every informer has synced.

Stop order (SIGINT/SIGTERM or `request_stop`): controllers stop taking work and their
in-flight reconciles finish (bounded by `graceful_shutdown_timeout`), then informers and
other runnables stop, the Lease is released and the endpoints close. `run_until_stopped`
returns the process exit code: 0 after a clean stop, 1 if leadership was lost or start-up
failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from edgemc.runtime.client import Client
from edgemc.runtime.controller import Controller
from edgemc.runtime.informer import InformerFactory, InformerOptions
from edgemc.runtime.leaderelection import LeaderElectionConfig, LeaderElector, LeadershipLost
from edgemc.runtime.logging import get_logger
from edgemc.runtime.options import CommonOptions, parse_address

log = get_logger("edgemc.runtime.manager")

Runnable = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ManagerOptions:
    """How a manager serves, elects and stops; defaults suit tests and local runs."""

    # Names the component in logs and is the default Lease name.
    name: str = "edgemc"
    # host:port for /metrics; port 0 = any free port (see `metrics_address`); "" = off.
    metrics_addr: str = "127.0.0.1:0"
    # host:port for /healthz and /readyz; the same string as metrics_addr shares one server.
    health_addr: str = "127.0.0.1:0"
    leader_elect: bool = False
    leader_election_namespace: str = "default"
    # Lease name; None = `<name>-leader`.
    leader_election_id: str | None = None
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    # Upper bound on waiting for in-flight reconciles at stop; the rest are cancelled.
    graceful_shutdown_timeout: float = 30.0

    @classmethod
    def from_common(cls, opts: CommonOptions, name: str, **overrides: object) -> ManagerOptions:
        return cls(
            name=name,
            metrics_addr=opts.metrics_addr,
            health_addr=opts.health_addr,
            leader_elect=opts.leader_elect,
            **overrides,  # type: ignore[arg-type]
        )


class Manager:
    """Owns informers (through `informers`), controllers and other runnables."""

    def __init__(
        self,
        client: Client,
        options: ManagerOptions | None = None,
        *,
        informer_options: InformerOptions | None = None,
        leader_election_client: Client | None = None,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.client = client
        self.options = options or ManagerOptions()
        self.informers = InformerFactory(client, informer_options)
        self.controllers: list[Controller] = []
        self._runnables: list[tuple[Runnable, bool]] = []
        self._registry = registry
        self._leader_client = leader_election_client or client
        self._elector: LeaderElector | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._runners: list[web.AppRunner] = []
        self._serving = False
        self._stop = asyncio.Event()
        self._started = False
        self._stopped = False
        self.exit_code = 0
        self.metrics_address: tuple[str, int] | None = None
        self.health_address: tuple[str, int] | None = None
        self._log = log.with_values(manager=self.options.name)

    # -- composition --------------------------------------------------------------------

    def add(self, controller: Controller) -> Controller:
        self.controllers.append(controller)
        return controller

    def add_runnable(self, run: Runnable, *, needs_leader: bool = True) -> None:
        """Run `run()` as a task while the manager runs (after election if `needs_leader`)."""
        self._runnables.append((run, needs_leader))

    # -- lifecycle ----------------------------------------------------------------------

    def ready(self) -> bool:
        return self._started and self.informers.has_synced()

    async def start(self) -> None:
        """Serve endpoints, start informers, elect, start controllers; returns when running."""
        await self.serve_endpoints()
        self.informers.start()
        for run, needs_leader in self._runnables:
            if not needs_leader:
                self._spawn(run)
        if self.options.leader_elect:
            self._elector = LeaderElector(
                self._leader_client,
                LeaderElectionConfig(
                    name=self.options.leader_election_id or f"{self.options.name}-leader",
                    namespace=self.options.leader_election_namespace,
                    lease_duration=self.options.lease_duration,
                    renew_deadline=self.options.renew_deadline,
                    retry_period=self.options.retry_period,
                ),
            )
            await self._elector.acquire()
            self._spawn(self._renew)
        self._started = True
        for controller in self.controllers:
            await controller.start()
        for run, needs_leader in self._runnables:
            if needs_leader:
                self._spawn(run)
        await self.informers.wait_for_sync()
        self._log.info("Manager started", controllers=len(self.controllers))

    async def serve_endpoints(self) -> None:
        """Serve /healthz, /readyz (503 until started and synced) and /metrics; idempotent.

        `start` does this first; calling it earlier keeps a component that is still
        waiting for its API server visible to probes. `stop` closes the endpoints.
        """
        if not self._serving:
            self._serving = True
            await self._serve()

    def request_stop(self, exit_code: int = 0) -> None:
        """Ask a running `run_until_stopped` to stop (safe from signal handlers)."""
        self.exit_code = max(self.exit_code, exit_code)
        self._stop.set()

    async def wait_for_stop_request(self) -> None:
        await self._stop.wait()

    async def stop(self) -> None:
        """Stop taking work, finish in-flight reconciles, then tear everything down."""
        if self._stopped:
            return
        self._stopped = True
        self._log.info("Stopping manager")
        stops = [c.stop(drain=False) for c in self.controllers]
        try:
            async with asyncio.timeout(self.options.graceful_shutdown_timeout):
                await asyncio.gather(*stops)
        except TimeoutError:
            self._log.error("Timed out waiting for reconciles to finish")
            for controller in self.controllers:
                for task in controller._tasks:
                    task.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.informers.stop()
        if self._elector is not None:
            await self._elector.release()
        for runner in self._runners:
            await runner.cleanup()
        self._runners = []
        self._log.info("Manager stopped")

    @contextlib.contextmanager
    def signals_stop(self) -> Iterator[None]:
        """While the block runs, SIGINT and SIGTERM ask this manager to stop (exit code 0)
        instead of killing the process (only from the main thread; elsewhere a no-op)."""
        loop = asyncio.get_running_loop()
        installed: list[int] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread
                pass
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def run_until_stopped(self, *, handle_signals: bool = True) -> int:
        """Start, run until SIGINT/SIGTERM or `request_stop`, stop; returns the exit code."""
        with self.signals_stop() if handle_signals else contextlib.nullcontext():
            return await self._run_until_stopped()

    async def _run_until_stopped(self) -> int:
        try:
            start = asyncio.create_task(self.start())
            stop_wait = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait({start, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if start in done and start.exception() is not None:
                self._log.error("Manager failed to start", start.exception())
                self.exit_code = 1
            elif start not in done:
                start.cancel()
                await asyncio.gather(start, return_exceptions=True)
            else:
                await stop_wait
            stop_wait.cancel()
        finally:
            await self.stop()
        return self.exit_code

    def _on_signal(self, sig: int) -> None:
        if self._stop.is_set():
            self._log.error("Second signal, exiting at once", signal=signal.Signals(sig).name)
            os._exit(1)
        self._log.info("Received signal, stopping", signal=signal.Signals(sig).name)
        self.request_stop(0)

    def _spawn(self, run: Runnable) -> None:
        async def guarded() -> None:
            try:
                await run()
            except asyncio.CancelledError:
                raise
            except LeadershipLost:
                self._log.error("Leader election lost")
                self.request_stop(1)
            except Exception as err:
                self._log.error("Runnable failed", err, exc_info=True)
                self.request_stop(1)

        self._tasks.append(asyncio.create_task(guarded()))

    async def _renew(self) -> None:
        assert self._elector is not None
        await self._elector.keep_renewing()

    # -- endpoints ----------------------------------------------------------------------

    async def _serve(self) -> None:
        metrics_addr = parse_address(self.options.metrics_addr)
        health_addr = parse_address(self.options.health_addr)
        shared = metrics_addr is not None and self.options.metrics_addr == self.options.health_addr
        if shared:
            assert metrics_addr is not None
            bound = await self._listen(metrics_addr, health=True, metrics=True)
            self.metrics_address = self.health_address = bound
            return
        if metrics_addr is not None:
            self.metrics_address = await self._listen(metrics_addr, health=False, metrics=True)
        if health_addr is not None:
            self.health_address = await self._listen(health_addr, health=True, metrics=False)

    async def _listen(
        self, addr: tuple[str, int], *, health: bool, metrics: bool
    ) -> tuple[str, int]:
        app = web.Application()
        if health:
            app.router.add_get("/healthz", self._healthz)
            app.router.add_get("/readyz", self._readyz)
        if metrics:
            app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, addr[0], addr[1])
        await site.start()
        self._runners.append(runner)
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        host, port = sockets[0].getsockname()[:2] if sockets else addr
        self._log.info("Serving", address=f"{host}:{port}", health=health, metrics=metrics)
        return host, port

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, request: web.Request) -> web.Response:
        if self.ready():
            return web.Response(text="ok")
        return web.Response(status=503, text="informers not synced")

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
