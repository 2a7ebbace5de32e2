"""The `placement-translator` component: flags, clients and the controllers' set-up (spec 6.1).

Clients: `main` (--kubeconfig/--context, the current context = the ESPW) reads the edge.kcp.io
APIExport view and the ESPW's Workspaces; `allclusters` (default context `system:admin`)
does discovery, wildcard and per-workspace reads and every write; `sspw` (default context
`root`) finds the scheduling.kcp.io view, whose Locations feed customization.
"""

from __future__ import annotations

import argparse

from edgemc.apis import edge
from edgemc.apis.kcp import SCHEDULING_EXPORT
from edgemc.controllers import app
from edgemc.controllers.placement.translator import Translator
from edgemc.runtime import Manager
from edgemc.runtime.kcp import wait_for_apiexport_view


def _add_flags(parser: argparse.ArgumentParser) -> None:
    # One change reaches many mailboxes (a copy and a SyncerConfig in each), and a worker
    # waits on one request at a time: with 4, 25 mailboxes took 7 round trips in a row.
    parser.add_argument(
        "--concurrency", type=int, default=16, help="workers per internal queue (default 16)"
    )


async def build(mgr: Manager, args: argparse.Namespace, clients: app.Clients) -> None:
    """Wait for the two APIExport views, then register the translator's caches and loops."""
    espw = await clients.get("main")
    allclusters = await clients.get("allclusters")
    sspw = await clients.get("sspw")
    edge_view = espw.with_base_url(await wait_for_apiexport_view(espw, edge.EXPORT_NAME))
    scheduling_view = sspw.with_base_url(await wait_for_apiexport_view(sspw, SCHEDULING_EXPORT))
    Translator(
        mgr,
        edge_view=edge_view,
        espw=espw,
        allclusters=allclusters,
        scheduling_view=scheduling_view,
        workers=args.concurrency,
    )


APP = app.App(
    name="placement-translator",
    description="Copy workloads selected by EdgePlacements into mailbox workspaces and "
    "maintain their SyncerConfig `the-one`.",
    build=build,
    client_flags=(
        app.ClientFlag(
            "allclusters", "system:admin", "all logical clusters: discovery, reads and writes"
        ),
        app.ClientFlag("sspw", "root", "workspace of the scheduling.kcp.io APIExport"),
    ),
    add_flags=_add_flags,
)


def main(argv: list[str] | None = None) -> int:
    return app.main(APP, argv)
