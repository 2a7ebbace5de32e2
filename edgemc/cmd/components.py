"""The table of runnable components: name -> (module providing `main(argv)`, one-line help)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    name: str
    module: str
    summary: str


COMPONENTS: tuple[Component, ...] = (
    Component("up", "edgemc.cmd.up", "start the kcp-compatible server and simulated edge clusters"),
    Component(
        "server", "edgemc.cmd.server", "run the embedded Kubernetes/kcp-compatible API server"
    ),
)


def find(name: str) -> Component | None:
    return next((c for c in COMPONENTS if c.name == name), None)
