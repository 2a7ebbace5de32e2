"""Published node ports of a simulated kind node, serving ConfigMap files (a simulation).

On kind, `extraPortMappings` make Docker publish a node container's port on the host, and a
pod's `hostPort` opens that port on the node; so `curl localhost:<hostPort of the mapping>`
reaches the pod. Here no container runs: `NodePorts` binds every mapping's host port when the
node starts (as Docker does when it creates the node), and while a Ready pod declares a
`hostPort` equal to a mapping's `containerPort` and mounts a ConfigMap volume, requests on
that host port are answered with the ConfigMap's files, read at request time (so updates
show at once). That is what the seed's httpd workloads do with their `htdocs` ConfigMap;
`/` (and any path ending in `/`) serves `index.html`. With no such pod behind a port the
connection is closed without a reply, as Docker's proxy does when nothing listens in the
container. Nothing else of a real web server is simulated.
"""

from __future__ import annotations

import logging
import mimetypes
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from edgemc.embedded.nodesim.kindconfig import PortMapping

log = logging.getLogger(__name__)

# Looks a file up by its path relative to the document root; None = no such file.
FileLookup = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Backend:
    """What one pod serves on a node port."""

    pod: str  # namespace/name, for log lines
    uid: str
    lookup: FileLookup


@dataclass
class PublishedPort:
    """One extraPortMapping as bound on this machine."""

    mapping: PortMapping
    port: int | None = None  # the bound port; None when binding failed
    error: str = ""
    backend: Backend | None = None
    _runner: web.AppRunner | None = field(default=None, repr=False)


class NodePorts:
    """The host side of a node's port mappings; pods attach to and detach from them."""

    def __init__(
        self,
        node: str,
        mappings: Sequence[PortMapping],
        overrides: Mapping[int, int] | None = None,
    ) -> None:
        self.node = node
        self.ports = [PublishedPort(m) for m in mappings if m.protocol == "TCP"]
        self.overrides = dict(overrides or {})

    def chosen_port(self, host_port: int) -> int | None:
        """The port a mapping with `host_port` is bound to (after `open`), or None."""
        for published in self.ports:
            if published.mapping.host_port == host_port:
                return published.port
        return None

    async def open(self) -> None:
        """Bind every mapping; a port that cannot be bound is logged and left unbound."""
        for published in self.ports:
            if published._runner is not None:
                continue
            mapping = published.mapping
            # A bound port is kept across reopenings so a restarted node keeps its addresses.
            wanted = published.port or self.overrides.get(mapping.host_port, mapping.host_port)
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handler(published))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, mapping.listen_address, wanted)
            try:
                await site.start()
            except OSError as err:
                await runner.cleanup()
                published.error = err.strerror or str(err)
                log.error(
                    "node %s: cannot publish containerPort %d on %s:%d: %s; requests to that "
                    "port will not reach this node",
                    self.node,
                    mapping.container_port,
                    mapping.listen_address,
                    wanted,
                    published.error,
                )
                continue
            server = site._server
            sockets = getattr(server, "sockets", None) or ()
            published.port = sockets[0].getsockname()[1] if sockets else wanted
            published.error = ""
            published._runner = runner
            log.info(
                "node %s: containerPort %d published on %s:%d",
                self.node,
                mapping.container_port,
                mapping.listen_address,
                published.port,
            )

    async def close(self) -> None:
        for published in self.ports:
            if published._runner is not None:
                await published._runner.cleanup()
                published._runner = None
            published.backend = None

    def attach(self, container_port: int, backend: Backend) -> bool:
        """Route a node port to a pod; False if no mapping publishes it or another pod has it."""
        published = next(
            (p for p in self.ports if p.mapping.container_port == container_port), None
        )
        if published is None:
            log.info(
                "node %s: pod %s uses hostPort %d, which no extraPortMapping publishes",
                self.node,
                backend.pod,
                container_port,
            )
            return False
        current = published.backend
        if current is not None and current.uid != backend.uid:
            log.error(
                "node %s: hostPort %d is already used by pod %s; not serving pod %s on it",
                self.node,
                container_port,
                current.pod,
                backend.pod,
            )
            return False
        published.backend = backend
        return True

    def detach(self, uid: str) -> None:
        """Stop routing every port of the pod with `uid`."""
        for published in self.ports:
            if published.backend is not None and published.backend.uid == uid:
                published.backend = None

    def serving(self, container_port: int) -> str | None:
        """The pod (namespace/name) behind a node port, if any."""
        for published in self.ports:
            if published.mapping.container_port == container_port and published.backend:
                return published.backend.pod
        return None

    def _handler(self, published: PublishedPort) -> Callable[[web.Request], object]:
        async def handle(request: web.Request) -> web.StreamResponse:
            backend = published.backend
            if backend is None:
                # Nothing listens behind the published port: close the connection unanswered
                # (the response below is never written).
                request.protocol.force_close()
                return web.Response(status=503)
            if request.method not in ("GET", "HEAD"):
                return web.Response(status=405, headers={"Allow": "GET, HEAD"})
            path = document_path(request.path)
            content = backend.lookup(path) if path is not None else None
            if content is None:
                return web.Response(status=404, text="Not Found\n", content_type="text/plain")
            ctype = mimetypes.guess_type(path or "")[0] or "application/octet-stream"
            return web.Response(body=content, content_type=ctype)

        return handle


def document_path(url_path: str) -> str | None:
    """The file a URL path names below the document root (`/` -> index.html); None if outside."""
    if url_path.endswith("/"):
        url_path += "index.html"
    normal = posixpath.normpath("/" + url_path.lstrip("/"))
    if normal.startswith("/.."):
        return None
    return normal.lstrip("/")
