"""How a component becomes a process: flags, kubeconfig clients, a Manager, start and stop.

A component declares an `App`: its name, the extra kubeconfig clients it needs (each gets
`--<prefix>-kubeconfig` and `--<prefix>-context` flags, defaulting to `--kubeconfig` and to a
named context such as kcp's `root`, `base` or `system:admin`), its own flags, and an async
`build(mgr, args, clients)` that registers informers and controllers on the manager.

`main(app, argv)` is what `python -m edgemc.cmd NAME` calls; `running(app, argv)` runs the
same component inside the current event loop (for `up` and for tests) and stops it cleanly
when the block ends.

Start-up, and what goes wrong in it:

1. every kubeconfig client is loaded; a broken kubeconfig (missing file, bad YAML, unknown
   context, user or cluster, unreadable certificate file) ends `main` with one line,
   `error: NAME: <problem naming the file and context>`, and exit code 1 (flag errors are
   argparse's, exit code 2);
2. the manager serves /healthz, /readyz (503 for now) and /metrics;
3. the manager's server is waited for (`wait_for_server`): no answer (refused, TLS
   failure, timeout) or 401 Unauthorized is retried with growing backoff, one klog error
   line per attempt, until it clears or the process is stopped;
4. `build` registers the controllers; `clients.get` waits in the same way for each other
   server the first time it hands out a client for it, and controllers may wait in turn
   (e.g. for an APIExport);
5. the manager runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp

from edgemc.runtime import ApiError, Client, Manager, ManagerOptions, Unauthorized
from edgemc.runtime import logging as klog
from edgemc.runtime.backoff import Backoff
from edgemc.runtime.client import RetryPolicy
from edgemc.runtime.kubeconfig import KubeconfigError
from edgemc.runtime.options import CommonOptions, add_common_flags, parse_args

log = klog.get_logger("edgemc.controllers.app")


@dataclass(frozen=True)
class ClientFlag:
    """One extra kubeconfig client of a component, e.g. prefix "root" with context "root"."""

    prefix: str
    # Context used when --<prefix>-context is not given; None = the kubeconfig's current one.
    default_context: str | None
    help: str
    # --<prefix>-kubeconfig must be given (it does not default to --kubeconfig).
    required: bool = False


@dataclass(frozen=True)
class ServerWait:
    """How a component waits for its API servers at start-up (see `wait_for_server`)."""

    # Delay between attempts: 0.5 s, doubling, capped at 30 s as client-go's reflector is,
    # so a long outage costs one request (and one log line) per half minute; the jitter
    # keeps replicas started together from probing in step.
    backoff: Backoff = field(
        default_factory=lambda: Backoff(initial=0.5, factor=2.0, cap=30.0, jitter=0.2)
    )
    # Seconds one attempt may take: a server that silently drops packets costs this much.
    timeout: float = 10.0


class Clients:
    """The clients named by a component's `ClientFlag`s plus `main` (the common flags')."""

    def __init__(
        self, args: argparse.Namespace, common: CommonOptions, wait: ServerWait | None = None
    ) -> None:
        self._args = args
        self._common = common
        self._wait = wait or ServerWait()
        self._clients: dict[str, Client] = {}
        self._reached: set[tuple[str, str | None]] = set()  # (base URL, Authorization)

    async def load(self, prefix: str) -> Client:
        """The client for `prefix` ("main" = --kubeconfig/--context), made on first use.

        Raises `KubeconfigError` when its kubeconfig cannot be used.
        """
        client = self._clients.get(prefix)
        if client is None:
            if prefix == "main":
                path, context = self._common.kubeconfig, self._common.context
            else:
                attr = prefix.replace("-", "_")
                path = getattr(self._args, f"{attr}_kubeconfig") or self._common.kubeconfig
                context = getattr(self._args, f"{attr}_context")
            client = await Client.from_kubeconfig(path, context)
            self._clients[prefix] = client
        return client

    async def get(self, prefix: str) -> Client:
        """`load(prefix)`, and the first time a server is asked for, `wait_for_server`."""
        client = await self.load(prefix)
        key = (client.base_url, client.config.headers.get("Authorization"))
        if key not in self._reached:
            await wait_for_server(client, self._wait)
            self._reached.add(key)
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


async def wait_for_server(client: Client, wait: ServerWait | None = None) -> None:
    """Wait until `client`'s server answers and accepts its credentials.

    One GET of `<base URL>/version` per attempt, not retried inside the client. No answer
    (refused, TLS failure, timeout) and 401 Unauthorized are retried with `wait.backoff`,
    each failed attempt logged as one klog error line. Any other answer, 403 included,
    means the server is there: kcp answers 403 for a workspace that does not exist yet,
    which the components' own waits (`wait_for_apiexport_view`) handle.
    """
    wait = wait or ServerWait()
    probe = Client(
        client.config,
        base_url=client.base_url,
        retry=RetryPolicy(max_retries=0),
        timeout=wait.timeout,
    )
    failures = 0
    try:
        while True:
            try:
                await probe.request("GET", "/version")
                break
            except ApiError as err:
                if err.code != 0 and not isinstance(err, Unauthorized):
                    break
                delay = wait.backoff.delay(failures)
                failures += 1
                log.error(
                    "API server rejected the credentials, will retry"
                    if err.code
                    else "Cannot reach the API server, will retry",
                    describe_error(err),
                    url=client.base_url,
                    attempt=failures,
                    retryInSeconds=round(delay, 1),
                )
                await asyncio.sleep(delay)
    finally:
        await probe.close()
    if failures:
        log.info("Reached the API server", url=client.base_url, failedAttempts=failures)


def describe_error(err: BaseException) -> str:
    """`err` as one line for a person: what failed and why, without reprs or a traceback."""
    if isinstance(err, ApiError):
        if err.code == 0:
            return _describe_no_answer(err.__cause__) if err.__cause__ else str(err)
        if isinstance(err, Unauthorized):
            return "401 Unauthorized: the server did not accept the credentials"
        detail = " ".join(err.message.split())
        return f"{err.code} {err.reason or 'error'}" + (f": {detail}" if detail else "")
    text = " ".join(str(err).split())
    if isinstance(err, (KubeconfigError, ValueError, RuntimeError, OSError)) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__  # likely a bug


def _describe_no_answer(cause: BaseException) -> str:
    """Why a request got no HTTP answer (the cause of an `ApiError` with code 0)."""
    if isinstance(cause, aiohttp.ClientConnectorCertificateError):
        problem = cause.certificate_error
        reason = getattr(problem, "verify_message", None) or problem
        return f"TLS certificate verify failed for {cause.host}:{cause.port}: {reason}"
    if isinstance(cause, aiohttp.ClientConnectorError):
        os_error = cause.os_error
        if isinstance(cause, aiohttp.ClientSSLError):
            reason = getattr(os_error, "reason", None) or os_error
            return f"TLS handshake with {cause.host}:{cause.port} failed: {reason}"
        reason = os.strerror(os_error.errno) if os_error.errno else str(os_error)
        return f"cannot connect to {cause.host}:{cause.port}: {reason}"
    if isinstance(cause, TimeoutError):
        return "no answer in time"
    return " ".join(f"{type(cause).__name__}: {cause}".split())


Build = Callable[[Manager, argparse.Namespace, Clients], Awaitable[None]]


@dataclass(frozen=True)
class App:
    """A component: its name, help line, clients, flags and how to build its controllers."""

    name: str
    description: str
    build: Build
    client_flags: tuple[ClientFlag, ...] = ()
    add_flags: Callable[[argparse.ArgumentParser], None] | None = None
    default_verbosity: int = 0
    manager_overrides: dict[str, object] = field(default_factory=dict)
    server_wait: ServerWait = field(default_factory=ServerWait)

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(
            prog=f"python -m edgemc.cmd {self.name}", description=self.description
        )
        add_common_flags(parser, default_verbosity=self.default_verbosity)
        for flag in self.client_flags:
            group = parser.add_argument_group(f"{flag.prefix} client ({flag.help})")
            default = flag.default_context or "the current context"
            group.add_argument(
                f"--{flag.prefix}-kubeconfig",
                default=None,
                required=flag.required,
                help="kubeconfig for this client"
                + ("" if flag.required else " (default: --kubeconfig)"),
            )
            group.add_argument(
                f"--{flag.prefix}-context",
                default=flag.default_context,
                help=f"kubeconfig context for this client (default: {default})",
            )
        if self.add_flags is not None:
            self.add_flags(parser)
        return parser

    def parse(self, argv: Sequence[str] | None) -> tuple[CommonOptions, argparse.Namespace]:
        return parse_args(self.parser(), argv)


async def _build_and_run(
    app: App,
    common: CommonOptions,
    args: argparse.Namespace,
    *,
    handle_signals: bool,
    on_manager: Callable[[Manager], None] | None,
) -> int:
    clients = Clients(args, common, app.server_wait)
    mgr: Manager | None = None
    try:
        # Every kubeconfig first: a broken one ends the process before anything is served.
        main_client = await clients.load("main")
        for flag in app.client_flags:
            await clients.load(flag.prefix)
        mgr = Manager(
            main_client, ManagerOptions.from_common(common, app.name, **app.manager_overrides)
        )
        if on_manager is not None:
            on_manager(mgr)
        # From here on SIGTERM/SIGINT stop the component cleanly (exit 0), also while it
        # still waits for its servers.
        with mgr.signals_stop() if handle_signals else contextlib.nullcontext():
            await mgr.serve_endpoints()
            # Waiting for the servers and building may take long (building may wait for an
            # APIExport's view); a stop request must end that too.
            build = asyncio.create_task(_wait_and_build(app, mgr, args, clients))
            stop = asyncio.create_task(mgr.wait_for_stop_request())
            await asyncio.wait({build, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not build.done():
                build.cancel()
                await asyncio.gather(build, return_exceptions=True)
                return mgr.exit_code
            build.result()
            return await mgr.run_until_stopped(handle_signals=False)
    finally:
        if mgr is not None:
            await mgr.stop()  # closes the endpoints if it never ran (no-op after a run)
        await clients.close()


async def _wait_and_build(
    app: App, mgr: Manager, args: argparse.Namespace, clients: Clients
) -> None:
    await clients.get("main")  # the manager's server; `build` gets (and waits for) the rest
    await app.build(mgr, args, clients)


async def run(
    app: App,
    argv: Sequence[str] | None = None,
    *,
    handle_signals: bool = True,
    on_manager: Callable[[Manager], None] | None = None,
) -> int:
    """Parse `argv`, build the component and run it until stopped; returns the exit code.

    `-v` sets the process-wide klog verbosity (where the lines go is the caller's choice).
    """
    common, args = app.parse(argv)
    klog.set_verbosity(common.verbosity)
    return await _build_and_run(
        app, common, args, handle_signals=handle_signals, on_manager=on_manager
    )


def main(app: App, argv: Sequence[str] | None = None) -> int:
    """The process entry point: klog set-up, then `run` with signal handling.

    A start-up failure (a broken kubeconfig, a bad flag value) is one line on stderr,
    `error: NAME: ...`, and exit code 1; flags argparse rejects exit with code 2.
    """
    common, args = app.parse(argv)
    klog.configure(common.verbosity)
    try:
        return asyncio.run(_build_and_run(app, common, args, handle_signals=True, on_manager=None))
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a start-up failure: one clear line, not a traceback
        print(f"error: {app.name}: {describe_error(err)}", file=sys.stderr)
        return 1


@asynccontextmanager
async def running(app: App, argv: Sequence[str] | None = None) -> AsyncIterator[Manager]:
    """Run `app` in this event loop for the duration of the block; yields its Manager.

    The manager is yielded as soon as it exists (its controllers may still be starting);
    leaving the block requests a stop and waits for it. A component that fails re-raises here.
    """
    made: asyncio.Future[Manager] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run(app, argv, handle_signals=False, on_manager=made.set_result), name=app.name
    )
    done, _ = await asyncio.wait({task, made}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
        raise RuntimeError(f"{app.name} stopped before it started")
    mgr = made.result()
    try:
        yield mgr
    finally:
        mgr.request_stop()
        await task
