"""The table of runnable components: name -> (module providing `main(argv)`, one-line help).

Modules of long-running components also expose `APP` (an `edgemc.controllers.app.App`), so
`up` and the simulated edge clusters can run them inside their own event loop.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    name: str
    module: str
    summary: str


COMPONENTS: tuple[Component, ...] = (
    Component(
        "mailbox-controller",
        "edgemc.controllers.mailbox",
        "keep one mailbox workspace (with APIBinding bind-edge) per SyncTarget",
    ),
    Component(
        "scheduler",
        "edgemc.controllers.scheduler",
        "resolve EdgePlacements' Location selectors into SinglePlacementSlices",
    ),
    Component(
        "placement-translator",
        "edgemc.controllers.placement.app",
        "copy placed workload objects and SyncerConfig the-one into mailbox workspaces",
    ),
    Component(
        "syncer",
        "edgemc.controllers.syncer.app",
        "sync one edge cluster with its mailbox workspace (downsync, upsync, status)",
    ),
    Component(
        "status-summarizer",
        "edgemc.controllers.summarizer",
        "summarize edge status of placed objects back into workload workspaces",
    ),
    Component(
        "syncer-gen",
        "edgemc.controllers.syncergen",
        "create a syncer identity in a mailbox and write the edge cluster's syncer manifest",
    ),
    Component(
        "up",
        "edgemc.cmd.up",
        "the whole system on one machine: server, simulated edge clusters, controllers",
    ),
    Component(
        "server", "edgemc.cmd.server", "run the embedded Kubernetes/kcp-compatible API server"
    ),
)


def find(name: str) -> Component | None:
    return next((c for c in COMPONENTS if c.name == name), None)
