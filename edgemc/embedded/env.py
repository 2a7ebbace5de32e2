"""The local environment of `up`: the kcp-compatible server, simulated edge clusters and
the central controllers, all in one process.

Each edge cluster is an `EdgeCluster` (an embedded API server of its own, with its own port,
data directory and CA, plus a node simulator), reachable through
`DATA_DIR/edge-clusters.kubeconfig` with contexts `kind-NAME`, the way `kind create cluster`
names them; florin and guilder get the seed's kind port mappings unless a kind config is
given. The controllers run with `DATA_DIR/espw.kubeconfig`
(admin.kubeconfig with the current context on `root:espw`, as after `kubectl ws root:espw`);
they wait until the edge service provider workspace and its `edge.kcp.io` export exist, so
the seed's Stage 1 commands that make them work unchanged. `kcp_faults` and `edge_faults`
(`FaultConfig`s, see `edgemc.embedded.apiserver.faults`) are injected from the start by the
kcp server and by every edge cluster's server respectively.
"""

from __future__ import annotations

import importlib
import os
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgemc.cmd.components import find
from edgemc.controllers.app import running
from edgemc.embedded.apiserver.faults import FaultConfig
from edgemc.embedded.apiserver.kcp import KcpServer, build_kcp_server
from edgemc.embedded.apiserver.server import ServerConfig
from edgemc.embedded.bootstrap import ESPW_PATH, workspace_kubeconfig
from edgemc.embedded.edgecluster import SEED_CONFIGS, EdgeCluster

DEFAULT_EDGE_CLUSTERS = ("florin", "guilder")
CENTRAL_CONTROLLERS = (
    "mailbox-controller",
    "scheduler",
    "placement-translator",
    "status-summarizer",
)


@dataclass
class Environment:
    data_dir: Path
    kcp_port: int = 6443
    edge_clusters: tuple[str, ...] = DEFAULT_EDGE_CLUSTERS
    # Kind configs (port mappings) by cluster name; florin and guilder default to the seed's.
    kind_configs: dict[str, Path] = field(default_factory=dict)
    controllers: tuple[str, ...] = CENTRAL_CONTROLLERS
    verbosity: int = 2
    # Faults injected by the kcp server and by each edge cluster's server (none by default).
    kcp_faults: FaultConfig = field(default_factory=FaultConfig)
    edge_faults: FaultConfig = field(default_factory=FaultConfig)
    kcp: KcpServer | None = None
    edges: dict[str, EdgeCluster] = field(default_factory=dict)
    _running: AsyncExitStack = field(default_factory=AsyncExitStack)

    @property
    def admin_kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def edge_kubeconfig(self) -> Path:
        return self.data_dir / "edge-clusters.kubeconfig"

    @property
    def espw_kubeconfig(self) -> Path:
        return self.data_dir / "espw.kubeconfig"

    async def start(self) -> None:
        self.kcp = build_kcp_server(
            ServerConfig(port=self.kcp_port, data_dir=self.data_dir, faults=self.kcp_faults)
        )
        await self.kcp.start()
        self.kcp.write_kubeconfig(self.admin_kubeconfig)
        for name in self.edge_clusters:
            edge = EdgeCluster(
                name,
                kind_config=self.kind_configs.get(name) or SEED_CONFIGS.get(name),
                data_dir=self.data_dir / "edge" / name,
                faults=self.edge_faults,
            )
            self.edges[name] = edge
            await edge.start()
        self._write_edge_kubeconfig()
        if self.controllers:
            await self._start_controllers()

    async def _start_controllers(self) -> None:
        assert self.kcp is not None
        _write_private_yaml(
            self.espw_kubeconfig, workspace_kubeconfig(self.kcp.kubeconfig(), ESPW_PATH)
        )
        for name in self.controllers:
            component = find(name)
            if component is None:
                raise ValueError(f"unknown controller {name!r}")
            app = importlib.import_module(component.module).APP
            argv = [f"--kubeconfig={self.espw_kubeconfig}", f"-v={self.verbosity}"]
            await self._running.enter_async_context(running(app, argv))

    async def stop(self) -> None:
        await self._running.aclose()
        for edge in self.edges.values():
            await edge.stop()
        self.edges.clear()
        if self.kcp is not None:
            await self.kcp.stop()
            self.kcp = None

    def _write_edge_kubeconfig(self) -> None:
        config: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [],
            "users": [],
            "contexts": [],
            "current-context": f"kind-{self.edge_clusters[0]}" if self.edge_clusters else "",
            "preferences": {},
        }
        for name, edge in self.edges.items():
            context = f"kind-{name}"
            config["clusters"].append({"name": context, "cluster": edge.cluster_entry()})
            config["users"].append({"name": context, "user": {"token": edge.admin_token}})
            config["contexts"].append(
                {"name": context, "context": {"cluster": context, "user": context}}
            )
        _write_private_yaml(self.edge_kubeconfig, config)


def _write_private_yaml(path: Path, content: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    os.chmod(path, 0o600)
