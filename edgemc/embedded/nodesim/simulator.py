"""One simulated kind node with its control-plane controllers, driven through the API.

`NodeSimulator` connects to a cluster's API server with a `ClusterConfig` and runs the
simulated kube-controller-manager (`controllers`), the kubelet (`kubelet`) and the node's
published ports (`hostports`) against it. It only talks HTTP, so it survives a restart of
the server (informers reconnect and relist) and can be pointed at any plain server.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgemc.embedded.nodesim.containers import (
    ComponentContainer,
    ComponentResolver,
    RestartPolicy,
    default_resolver,
)
from edgemc.embedded.nodesim.controllers import ControllerManager, ControllerManagerOptions
from edgemc.embedded.nodesim.hostports import NodePorts
from edgemc.embedded.nodesim.kindconfig import KindConfig
from edgemc.embedded.nodesim.kinds import TokenMinter
from edgemc.embedded.nodesim.kubelet import Kubelet, KubeletOptions
from edgemc.runtime import Client, ClusterConfig, InformerFactory, InformerOptions
from edgemc.runtime.backoff import Backoff

log = logging.getLogger(__name__)


@dataclass
class NodeSimOptions:
    """Tunables of a simulated node; the defaults are the real components' timings."""

    heartbeat_interval: float = 10.0
    node_monitor_grace_period: float = 40.0
    node_monitor_period: float = 5.0
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    # Reconnect quickly after a server restart: a 2 s cap instead of the informer's 30 s.
    reconnect_backoff: Backoff = field(
        default_factory=lambda: Backoff(initial=0.05, factor=2.0, cap=2.0)
    )
    # Run edgemc components (the syncer) as child processes, which a SIGKILL can crash, instead
    # of in this event loop; their output goes to files_root/logs/NAMESPACE_POD_CONTAINER.log.
    component_processes: bool = False


class NodeSimulator:
    """The node `<cluster>-control-plane` of a simulated kind cluster."""

    def __init__(
        self,
        cluster_name: str,
        config: ClusterConfig,
        *,
        kind_config: KindConfig | None = None,
        host_ports: Mapping[int, int] | None = None,
        files_root: Path,
        cluster_entry: dict[str, Any],
        ca_pem: str = "",
        mint_token: TokenMinter | None = None,
        resolver: ComponentResolver = default_resolver,
        options: NodeSimOptions | None = None,
    ) -> None:
        self.cluster_name = cluster_name
        self.node_name = f"{cluster_name}-control-plane"
        self.options = options or NodeSimOptions()
        self._config = config
        self._token = config.headers.get("Authorization", "").removeprefix("Bearer ")
        self._files_root = files_root
        self._cluster_entry = cluster_entry
        self._ca_pem = ca_pem
        self._mint_token = mint_token
        self._resolver = resolver
        mappings = (kind_config or KindConfig()).port_mappings
        self.ports = NodePorts(self.node_name, mappings, host_ports)
        self.client: Client | None = None
        self.kubelet: Kubelet | None = None
        self.controllers: ControllerManager | None = None
        self._informers: InformerFactory | None = None

    async def start(self) -> None:
        """Publish the ports, then start the controllers and the kubelet (waits for sync)."""
        await self.ports.open()
        opts = self.options
        self.client = Client(self._config)
        self._informers = InformerFactory(
            self.client, InformerOptions(backoff=opts.reconnect_backoff)
        )
        self.controllers = ControllerManager(
            self.cluster_name,
            self.client,
            self._informers,
            ControllerManagerOptions(
                node_monitor_grace_period=opts.node_monitor_grace_period,
                node_monitor_period=opts.node_monitor_period,
            ),
            mint_token=self._mint_token,
            ca_pem=self._ca_pem,
        )
        self.kubelet = Kubelet(
            self.client,
            self._informers,
            KubeletOptions(
                node_name=self.node_name,
                cluster_name=self.cluster_name,
                heartbeat_interval=opts.heartbeat_interval,
                restart=opts.restart,
                files_root=self._files_root,
                component_processes=opts.component_processes,
            ),
            self.ports,
            cluster_entry=self._cluster_entry,
            mint_token=self._mint_token,
            fallback_token=self._token,
            ca_pem=self._ca_pem,
            resolver=self._resolver,
        )
        self._informers.start()
        await self.controllers.start()
        await self.kubelet.start()
        log.info("node %s: started", self.node_name)

    async def stop(self) -> None:
        """Stop the pods' components, the controllers, the informers and the ports."""
        if self.kubelet is not None:
            await self.kubelet.stop()
        if self.controllers is not None:
            await self.controllers.stop()
        if self._informers is not None:
            await self._informers.stop()
        if self.client is not None:
            await self.client.close()
        await self.ports.close()
        self.kubelet = self.controllers = self._informers = self.client = None

    def components(self) -> list[ComponentContainer]:
        """The edgemc components that the node's pods run now (see `containers`)."""
        if self.kubelet is None:
            return []
        return [c for runtime in self.kubelet.runtimes.values() for c in runtime.components]

    def stop_reporting(self) -> None:
        """Simulated node failure: the node stops writing status and renewing its Lease."""
        assert self.kubelet is not None, "node not started"
        self.kubelet.stop_reporting()

    def resume_reporting(self) -> None:
        assert self.kubelet is not None, "node not started"
        self.kubelet.resume_reporting()

    @property
    def reporting(self) -> bool:
        return self.kubelet is not None and self.kubelet.reporting
