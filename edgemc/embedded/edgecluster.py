"""A simulated kind cluster: a plain embedded API server plus one simulated node.

`EdgeCluster("guilder", kind_config=GUILDER_CONFIG, data_dir=...)` stands for what `kind
create cluster --name guilder --config guilder-config.yaml` makes: its own API server (own
port, data directory and CA), reached through the kubeconfig context `kind-guilder`, with the
node `guilder-control-plane`, and on first start the namespaces and system Deployments a
fresh kind cluster shows (kube-system/coredns 2/2, local-path-storage/local-path-provisioner
1/1). The node is simulated (see `edgemc.embedded.nodesim`): Deployments get ReplicaSets
and Ready pods, edgemc components in pods run for real (in this process, or as child
processes with `NodeSimOptions(component_processes=True)`), and ConfigMap files
of `hostPort` pods are served on the host ports of the kind config's `extraPortMappings`.

Pods authenticate as their ServiceAccount with a signed token (the plain server knows only
its admin token; this cluster adds a ServiceAccount-token authenticator whose signing key
lives in the data directory). The plain server authorizes every authenticated user.

Stopping and starting again on the same data directory keeps every object, the port, the
CA and the tokens; `stop_server`/`start_server` restart only the API server while the node
keeps running (a control-plane outage). `faults` (see `edgemc.embedded.apiserver.faults`)
are injected by the cluster's API server from its start; `set_faults` changes them at run
time, and a restarted server carries on with the config and counts of the one it replaces
(`fault_counts`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from edgemc.embedded.apiserver.auth import ServiceAccountTokens
from edgemc.embedded.apiserver.builtin import BUILTIN_TYPES
from edgemc.embedded.apiserver.errors import StatusError
from edgemc.embedded.apiserver.faults import FaultConfig, FaultCounts
from edgemc.embedded.apiserver.objects import User
from edgemc.embedded.apiserver.server import ApiServer, ServerConfig
from edgemc.embedded.nodesim.containers import ComponentResolver, default_resolver
from edgemc.embedded.nodesim.kindconfig import (
    FLORIN_CONFIG,
    GUILDER_CONFIG,
    SEED_CONFIGS,
    KindConfig,
    load_kind_config,
)
from edgemc.embedded.nodesim.kinds import DEPLOYMENTS, NODE_TYPE
from edgemc.embedded.nodesim.simulator import NodeSimOptions, NodeSimulator
from edgemc.runtime import AlreadyExists, Client, ClusterConfig, ServerError, TooManyRequests
from edgemc.runtime.backoff import Backoff

log = logging.getLogger(__name__)

__all__ = [
    "FLORIN_CONFIG",
    "GUILDER_CONFIG",
    "KIND_NAMESPACES",
    "SEED_CONFIGS",
    "EdgeCluster",
]

# The namespaces of a fresh kind cluster.
KIND_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system", "local-path-storage")
_BOOTSTRAPPED = ".kind-bootstrapped"
# Tries of each system Deployment's create on a first start (a server injecting faults may
# refuse some); at a 10% refusal rate, 20 tries all fail with a chance of 1e-20.
_INSTALL_ATTEMPTS = 20
_SERVICEACCOUNTS = ("", "serviceaccounts", "")


def _system_deployment(namespace: str, name: str, labels: dict[str, str], replicas: int,
                       image: str) -> dict[str, Any]:  # fmt: skip
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name.split("-")[0], "image": image}]},
            },
        },
    }


# What kind v0.20 installs; their pods are simulated like any other.
SYSTEM_DEPLOYMENTS = (
    _system_deployment(
        "kube-system", "coredns", {"k8s-app": "kube-dns"}, 2,
        "registry.k8s.io/coredns/coredns:v1.10.1",
    ),
    _system_deployment(
        "local-path-storage", "local-path-provisioner", {"app": "local-path-provisioner"}, 1,
        "docker.io/kindest/local-path-provisioner:v20230511-dc714da8",
    ),
)  # fmt: skip


def _signing_key(data_dir: Path | None) -> str:
    if data_dir is None:
        return secrets.token_hex(32)
    path = data_dir / ".sa-signing-key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    os.chmod(path, 0o600)
    return key


def _refuse(request: web.Request, parts: list[str], user: User) -> Any:
    request.protocol.close()  # after this answer, so the client reconnects
    raise StatusError(503, "ServiceUnavailable", "the API server is shutting down")


class EdgeCluster:
    """A simulated kind cluster named `name` (see the module docstring).

    `host_ports` overrides where the kind config's mappings listen: {hostPort: port}, where
    port 0 picks a free port; `host_port(hostPort)` tells the chosen one after `start`.
    """

    def __init__(
        self,
        name: str,
        *,
        kind_config: KindConfig | Path | str | None = None,
        data_dir: Path | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        host_ports: Mapping[int, int] | None = None,
        resolver: ComponentResolver = default_resolver,
        node_options: NodeSimOptions | None = None,
        faults: FaultConfig | None = None,
    ) -> None:
        self.name = name
        if isinstance(kind_config, str | Path):
            kind_config = load_kind_config(kind_config)
        self.kind_config = kind_config or KindConfig()
        self.data_dir = data_dir
        self.port = port
        self.host = host
        self.host_ports = dict(host_ports or {})
        self.resolver = resolver
        self.node_options = node_options or NodeSimOptions()
        self.faults = faults or FaultConfig()
        self.fault_counts = FaultCounts()
        self.tokens = ServiceAccountTokens(_signing_key(data_dir))
        self.server: ApiServer | None = None
        self.node: NodeSimulator | None = None
        self._scratch: Path | None = None

    # -- identity -------------------------------------------------------------------------

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    @property
    def node_name(self) -> str:
        return f"{self.name}-control-plane"

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def admin_token(self) -> str:
        return self._server.admin_token

    @property
    def _server(self) -> ApiServer:
        if self.server is None:
            raise RuntimeError(f"edge cluster {self.name} is not running")
        return self.server

    def cluster_entry(self) -> dict[str, Any]:
        return self._server.cluster_entry()

    def client_ssl(self) -> ssl.SSLContext | None:
        return self._server.client_ssl()

    def kubeconfig(self) -> dict[str, Any]:
        """A kubeconfig with the context, cluster and user `kind-<name>`, as kind writes."""
        ctx = self.context
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": ctx, "cluster": self.cluster_entry()}],
            "users": [{"name": ctx, "user": {"token": self.admin_token}}],
            "contexts": [{"name": ctx, "context": {"cluster": ctx, "user": ctx}}],
            "current-context": ctx,
            "preferences": {},
        }

    def write_kubeconfig(self, path: Path | str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.kubeconfig(), sort_keys=False))
        os.chmod(path, 0o600)
        return path

    def client_config(self) -> ClusterConfig:
        """Admin connection settings for runtime clients."""
        config = ClusterConfig.for_server(self.url, self.admin_token)
        config.ssl = self.client_ssl()
        return config

    def host_port(self, host_port: int) -> int | None:
        """The port the mapping with `host_port` listens on (None if it could not bind)."""
        if self.node is None:
            return None
        return self.node.ports.chosen_port(host_port)

    def mint_token(self, namespace: str, name: str, uid: str) -> str:
        """A token authenticating as ServiceAccount namespace/name (while it exists)."""
        return self.tokens.mint("", namespace, name, uid)

    def set_faults(self, config: FaultConfig) -> None:
        """Inject `config` from now on (and after restarts); `FaultConfig()` stops injecting."""
        self.faults = config
        if self.server is not None:
            self.server.faults.configure(config)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the API server and the node; a first start also installs kind's system pods."""
        await self.start_server()
        marker = self.data_dir / _BOOTSTRAPPED if self.data_dir is not None else None
        first = marker is None or not await asyncio.to_thread(marker.exists)
        if self.node is None:
            if self.data_dir is not None:
                files_root = self.data_dir / "pods"
            else:
                scratch = await asyncio.to_thread(tempfile.mkdtemp, prefix=f"edgemc-{self.name}-")
                self._scratch = Path(scratch)
                files_root = self._scratch
            self.node = NodeSimulator(
                self.name,
                self.client_config(),
                kind_config=self.kind_config,
                host_ports=self.host_ports,
                files_root=files_root,
                cluster_entry=self.cluster_entry(),
                ca_pem=self._server.ca_pem,
                mint_token=self.mint_token,
                resolver=self.resolver,
                options=self.node_options,
            )
            await self.node.start()
            # Ports picked for 0 stay this cluster's across restarts, like Docker's mappings.
            for mapping in self.kind_config.port_mappings:
                chosen = self.node.ports.chosen_port(mapping.host_port)
                if chosen:
                    self.host_ports[mapping.host_port] = chosen
        if first:
            await self._install_system_deployments()
            if marker is not None:
                await asyncio.to_thread(marker.write_text, "")

    async def wait_for_system_pods(self, within: float = 30.0) -> None:
        """Wait until kind's system Deployments are fully ready (as after `kind create`)."""
        async with Client(self.client_config()) as client, asyncio.timeout(within):
            for deploy in SYSTEM_DEPLOYMENTS:
                meta = deploy["metadata"]
                while True:
                    current = await client.get(DEPLOYMENTS, meta["name"], meta["namespace"])
                    status = current.get("status") or {}
                    if status.get("readyReplicas") == deploy["spec"]["replicas"]:
                        break
                    await asyncio.sleep(0.05)  # polling the API, as `kubectl rollout status`

    async def stop(self) -> None:
        """Stop the node (and every component its pods run), then the API server."""
        if self.node is not None:
            await self.node.stop()
            self.node = None
        await self.stop_server()
        if self._scratch is not None:
            await asyncio.to_thread(shutil.rmtree, self._scratch, True)
            self._scratch = None

    async def start_server(self) -> None:
        """Start (or restart) only the API server, on the same port and data directory."""
        if self.server is not None:
            return
        server = ApiServer(
            ServerConfig(
                port=self.port,
                host=self.host,
                data_dir=self.data_dir,
                initial_namespaces=KIND_NAMESPACES,
                builtin_types=(*BUILTIN_TYPES, NODE_TYPE),
                faults=self.faults,
            )
        )
        server.faults.counts = self.fault_counts
        server.authenticators.append(self._service_account_user(server))
        await server.start()
        self.server = server
        self.port = server.port  # a restart must come back where clients look for it

    async def stop_server(self) -> None:
        """Stop only the API server (the node keeps running and reconnects later)."""
        if self.server is not None:
            self.faults = self.server.faults.config  # as changed at run time, for the restart
            # aiohttp keeps answering requests on keep-alive connections opened before the
            # stop; they must be refused and closed (clients then reconnect to the restarted
            # server), not served by a server whose store is closed.
            self.server.resolve_scope = _refuse
            await self.server.stop()
            self.server = None

    async def __aenter__(self) -> EdgeCluster:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _service_account_user(self, server: ApiServer) -> Any:
        def authenticate(token: str) -> User | None:
            claims = self.tokens.verify(token)
            if claims is None:
                return None
            namespace = claims.get("kubernetes.io/serviceaccount/namespace", "")
            name = claims.get("kubernetes.io/serviceaccount/service-account.name", "")
            uid = claims.get("kubernetes.io/serviceaccount/service-account.uid", "")
            account = server.store.get(_SERVICEACCOUNTS, "", namespace, name)
            # Valid while the ServiceAccount it was minted for exists.
            if account is None or account["metadata"].get("uid") != uid:
                return None
            return self.tokens.user_for(claims)

        return authenticate

    async def _install_system_deployments(self) -> None:
        # Creates are not retried by the client; a refusal that is safe to repeat (429, 5xx,
        # e.g. injected faults) is retried here, a bounded number of times.
        backoff = Backoff(initial=0.05, cap=1.0)
        async with Client(self.client_config()) as client:
            for deploy in SYSTEM_DEPLOYMENTS:
                for attempt in range(_INSTALL_ATTEMPTS):
                    try:
                        await client.create(DEPLOYMENTS, deploy)
                    except AlreadyExists:
                        pass
                    except (ServerError, TooManyRequests):
                        if attempt + 1 == _INSTALL_ATTEMPTS:
                            raise
                        await asyncio.sleep(backoff.delay(attempt))
                        continue
                    break
