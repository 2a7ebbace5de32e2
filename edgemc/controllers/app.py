"""How a component becomes a process: flags, kubeconfig clients, a Manager, start and stop.

A component declares an `App`: its name, the extra kubeconfig clients it needs (each gets
`--<prefix>-kubeconfig` and `--<prefix>-context` flags, defaulting to `--kubeconfig` and to a
named context such as kcp's `root`, `base` or `system:admin`), its own flags, and an async
`build(mgr, args, clients)` that registers informers and controllers on the manager.

`main(app, argv)` is what `python -m edgemc.cmd NAME` calls; `running(app, argv)` runs the
same component inside the current event loop (for `up` and for tests) and stops it cleanly
when the block ends.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from edgemc.runtime import Client, Manager, ManagerOptions
from edgemc.runtime import logging as klog
from edgemc.runtime.options import CommonOptions, add_common_flags, parse_args

log = klog.get_logger("edgemc.controllers.app")


@dataclass(frozen=True)
class ClientFlag:
    """One extra kubeconfig client of a component, e.g. prefix "root" with context "root"."""

    prefix: str
    # Context used when --<prefix>-context is not given; None = the kubeconfig's current one.
    default_context: str | None
    help: str


class Clients:
    """The clients named by a component's `ClientFlag`s plus `main` (the common flags')."""

    def __init__(self, args: argparse.Namespace, common: CommonOptions) -> None:
        self._args = args
        self._common = common
        self._clients: dict[str, Client] = {}

    async def get(self, prefix: str) -> Client:
        """The client for `prefix` ("main" = --kubeconfig/--context), made on first use."""
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

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


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
                help="kubeconfig for this client (default: --kubeconfig)",
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
    clients = Clients(args, common)
    try:
        mgr = Manager(
            await clients.get("main"),
            ManagerOptions.from_common(common, app.name, **app.manager_overrides),
        )
        if on_manager is not None:
            on_manager(mgr)
        # Building may wait (e.g. for an APIExport's view); a stop request must end that too.
        build = asyncio.create_task(app.build(mgr, args, clients))
        stop = asyncio.create_task(mgr.wait_for_stop_request())
        await asyncio.wait({build, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not build.done():
            build.cancel()
            await asyncio.gather(build, return_exceptions=True)
            return mgr.exit_code
        build.result()
        return await mgr.run_until_stopped(handle_signals=handle_signals)
    finally:
        await clients.close()


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
    """The process entry point: klog set-up, then `run` with signal handling."""
    common, args = app.parse(argv)
    klog.configure(common.verbosity)
    try:
        return asyncio.run(_build_and_run(app, common, args, handle_signals=True, on_manager=None))
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a start-up failure: one clear line, not a traceback
        log.error("Component failed", err, component=app.name)
        print(f"error: {app.name}: {err}", file=sys.stderr)
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
