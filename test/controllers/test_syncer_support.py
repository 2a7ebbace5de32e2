"""Shared rig of the syncer tests: a mailbox workspace on the kcp-mode server, a plain
embedded API server as the edge cluster, an optional TCP proxy in front of the mailbox (to
cut the link), and the syncer component running in this event loop. No tests here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml
from edgeenv import EdgeEnv, wait_for

from edgemc.controllers import app
from edgemc.controllers import resources as r
from edgemc.controllers.syncer.app import APP
from edgemc.embedded.apiserver.server import ApiServer, ServerConfig
from edgemc.runtime import Client, ClusterConfig, GroupVersionResource, Manager, NotFound

MAILBOX = "root:espw:mb-test"
Obj = dict[str, Any]


def binding(name: str, path: str, export: str) -> Obj:
    return {
        "apiVersion": "apis.kcp.io/v1alpha1",
        "kind": "APIBinding",
        "metadata": {"name": name},
        "spec": {"reference": {"export": {"path": path, "name": export}}},
    }


class Proxy:
    """A TCP relay that can cut every connection and refuse new ones (an unreachable link)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Close the listener and every relayed connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._writers -= {writer, up_writer}


class Rig:
    """Mailbox workspace + edge server + kubeconfigs for the syncer."""

    def __init__(self, env: EdgeEnv, directory: Path) -> None:
        self.env = env
        self.dir = directory
        self.edge_dir = directory / "edge"
        self.edge_server: ApiServer | None = None
        self.proxy: Proxy | None = None
        self.mailbox: Client = env.ws(MAILBOX)
        self._edge_client: Client | None = None

    @property
    def edge(self) -> Client:
        assert self._edge_client is not None
        return self._edge_client

    async def start(self, *, proxy: bool = False) -> None:
        env = self.env
        await env.install_edge_api()
        await env.create_workspace(MAILBOX)
        for obj in (
            binding("bind-edge", "root:espw", "edge.kcp.io"),
            binding("bind-kube", "root:compute", "kubernetes"),
        ):
            await self.mailbox.create(r.API_BINDINGS, obj)

        async def bound() -> bool:
            try:
                await self.mailbox.list(r.SYNCER_CONFIGS)
                await self.mailbox.list(r.DEPLOYMENTS)
            except NotFound:
                return False
            return True

        await wait_for(bound, 15, "mailbox bindings")
        await self.start_edge()
        if proxy:
            self.proxy = Proxy(env.server.port)
            await self.proxy.start()

    async def start_edge(self) -> None:
        """Start (or restart, same data dir and port) the edge cluster's server."""
        port = self.edge_server.port if self.edge_server is not None else 0
        self.edge_server = ApiServer(ServerConfig(port=port, data_dir=self.edge_dir))
        await self.edge_server.start()
        if self._edge_client is None:
            config = ClusterConfig.for_server(self.edge_server.url, self.edge_server.admin_token)
            config.ssl = self.edge_server.client_ssl()
            self._edge_client = Client(config)

    async def stop_edge(self) -> None:
        assert self.edge_server is not None
        await self.edge_server.stop()

    async def stop(self) -> None:
        if self.proxy is not None:
            await self.proxy.cut()
        if self._edge_client is not None:
            await self._edge_client.close()
        if self.edge_server is not None:
            await self.edge_server.stop()

    def kubeconfigs(self) -> tuple[Path, Path]:
        """(mailbox kubeconfig - through the proxy if there is one, edge kubeconfig)."""
        mailbox = self.env.kubeconfig(MAILBOX, name="mailbox.kubeconfig")
        if self.proxy is not None:
            doc = yaml.safe_load(mailbox.read_text())
            real = f":{self.env.server.port}"
            for cluster in doc["clusters"]:
                cluster["cluster"]["server"] = cluster["cluster"]["server"].replace(
                    real, f":{self.proxy.port}"
                )
            mailbox.write_text(yaml.safe_dump(doc, sort_keys=False))
        assert self.edge_server is not None
        edge = self.edge_server.write_kubeconfig(self.dir / "edge.kubeconfig", "edge")
        return mailbox, edge

    @contextlib.asynccontextmanager
    async def syncer(self, *extra: str) -> AsyncIterator[Manager]:
        mailbox, edge = self.kubeconfigs()
        argv = [
            f"--kubeconfig={edge}",
            f"--from-kubeconfig={mailbox}",
            f"--to-kubeconfig={edge}",
            f"--from-cluster={MAILBOX}",
            "--sync-target-name=test",
            "--sync-target-uid=0000",
            "--qps=0",
            "--resync-period=5",
            "--heartbeat-period=0.5",
            "--v=3",
            *extra,
        ]
        async with app.running(APP, argv) as mgr:
            yield mgr


async def get_or_none(
    client: Client, gvr: GroupVersionResource, name: str, namespace: str | None = None
) -> Obj | None:
    try:
        return await client.get(gvr, name, namespace)
    except NotFound:
        return None


async def wait_gone(
    client: Client, gvr: GroupVersionResource, name: str, namespace: str | None = None
) -> None:
    async def gone() -> bool:
        return await get_or_none(client, gvr, name, namespace) is None

    await wait_for(gone, 15, f"{gvr} {namespace}/{name} to go")


async def wait_present(
    client: Client, gvr: GroupVersionResource, name: str, namespace: str | None = None
) -> Obj:
    return await wait_for(
        lambda: get_or_none(client, gvr, name, namespace), 15, f"{gvr} {namespace}/{name}"
    )
