"""The local environment of `up`: the kcp-compatible server and simulated edge clusters.

Each edge cluster is a plain embedded API server of its own (its own port, data directory and
CA), reachable through `DATA_DIR/edge-clusters.kubeconfig` with contexts `kind-NAME`, the way
`kind create cluster` names them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgemc.embedded.apiserver.kcp import KcpServer, build_kcp_server
from edgemc.embedded.apiserver.server import ApiServer, ServerConfig

DEFAULT_EDGE_CLUSTERS = ("florin", "guilder")


@dataclass
class Environment:
    data_dir: Path
    kcp_port: int = 6443
    edge_clusters: tuple[str, ...] = DEFAULT_EDGE_CLUSTERS
    kcp: KcpServer | None = None
    edges: dict[str, ApiServer] = field(default_factory=dict)

    @property
    def admin_kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def edge_kubeconfig(self) -> Path:
        return self.data_dir / "edge-clusters.kubeconfig"

    async def start(self) -> None:
        self.kcp = build_kcp_server(ServerConfig(port=self.kcp_port, data_dir=self.data_dir))
        await self.kcp.start()
        self.kcp.write_kubeconfig(self.admin_kubeconfig)
        for name in self.edge_clusters:
            edge = ApiServer(ServerConfig(port=0, data_dir=self.data_dir / "edge" / name))
            await edge.start()
            self.edges[name] = edge
        self._write_edge_kubeconfig()

    async def stop(self) -> None:
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
        self.edge_kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
        os.chmod(self.edge_kubeconfig, 0o600)
