"""The embedded API server process: storage, types, admission, HTTP routing and authentication.

`ApiServer` serves one Kubernetes-compatible cluster (a simulated edge cluster) or, with the
kcp layer plugged in, kcp's logical clusters. Requests are authenticated by bearer token, put
into a `Scope` (which logical cluster, which types) and handed to discovery or the resource
handler.
"""

from __future__ import annotations

import asyncio.sslproto
import base64
import contextlib
import logging
import os
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from aiohttp import web

from edgemc.embedded.apiserver import discovery, errors
from edgemc.embedded.apiserver.admission import (
    default_admission,
    namespace_lifecycle,
    schema_admission,
)
from edgemc.embedded.apiserver.builtin import BUILTIN_TYPES
from edgemc.embedded.apiserver.crds import admit_crd, crd_provider, watch_crds
from edgemc.embedded.apiserver.faults import FaultConfig, Faults
from edgemc.embedded.apiserver.handlers import (
    ResourceHandler,
    json_response,
    parse_resource_path,
    status_response,
)
from edgemc.embedded.apiserver.lifecycle import SYSTEM_USER, Lifecycle, TokenMinter
from edgemc.embedded.apiserver.limits import LimitsConfig, RequestLimiter
from edgemc.embedded.apiserver.objects import NAMESPACES, ObjectService, Scope, User
from edgemc.embedded.apiserver.rbac import RbacAuthorizer
from edgemc.embedded.apiserver.registry import Registry
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.storage import DEFAULT_HISTORY, Store
from edgemc.embedded.apiserver.tls import Certificates, certificates
from edgemc.runtime.gctuning import calm_full_collections

log = logging.getLogger(__name__)

ADMIN_USER = User("admin", ("system:masters", "system:authenticated"))
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})

# Resolves the part of a URL before /api or /apis into a Scope, returning the remaining
# path segments; the kcp layer installs its own for /clusters/... and /services/... URLs.
ScopeResolver = Callable[[web.Request, list[str], User], tuple[Scope, list[str]]]
Authenticator = Callable[[str], User | None]
Authorizer = Callable[[Scope, str, ResourceType, str, str, str], None]
# Authorizes a non-resource request: (scope, lower-case HTTP method, path below the scope).
PathAuthorizer = Callable[[Scope, str, str], None]


@dataclass
class ServerConfig:
    port: int = 0
    host: str = "127.0.0.1"
    # None keeps everything in memory; otherwise objects live in DIR/etcd.sqlite.
    data_dir: Path | None = None
    kcp: bool = False
    # HTTPS with a CA kept in data_dir; plain HTTP only on explicit request (loopback only).
    tls: bool = True
    history: int = DEFAULT_HISTORY
    # Namespaces a new (plain) cluster starts with, like a kind cluster.
    initial_namespaces: tuple[str, ...] = (
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
    )
    builtin_types: tuple[ResourceType, ...] = field(default=BUILTIN_TYPES)
    # Kubernetes RBAC per logical cluster (rbac.py); off: every authenticated user may act
    # (admins - system:masters, kcp-admin - are never checked).
    rbac: bool = True
    # Body size, concurrent watches and request rate per identity (limits.py).
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    # Faults injected from the start (faults.py); `server.faults` changes them at run time.
    faults: FaultConfig = field(default_factory=FaultConfig)
    # Seconds a connection may stay without a complete request (idle between requests, or a
    # client sending its headers slowly or not at all) before it is closed: kube-apiserver's
    # IdleTimeout (its ReadHeaderTimeout is 32 s; aiohttp has one timer for both).
    idle_timeout: float = 90.0


# asyncio's TLS transport (Python 3.11+) gives every connection a 256 KiB read buffer that
# it fills with zeros at once, so each connection costs that much RSS. A watch holds its
# connection for minutes, and a kcp server has one per informer of every controller and
# syncer: 100 syncers made 1 GB of such buffers here. The buffer only bounds one socket
# read (a TLS record carries at most 16 KiB); 32 KiB made a 4 MB LIST no slower.
TLS_READ_BUFFER = 32 * 1024


def limit_tls_read_buffer(size: int = TLS_READ_BUFFER) -> None:
    """Cap asyncio's per-connection TLS read buffer at `size` (process-wide: it is a class
    attribute of `asyncio.sslproto.SSLProtocol`, read when a connection is made)."""
    if asyncio.sslproto.SSLProtocol.max_size > size:
        asyncio.sslproto.SSLProtocol.max_size = size


def _load_or_create_token(data_dir: Path | None, name: str) -> str:
    if data_dir is None:
        return secrets.token_hex(16)
    path = data_dir / f".{name}-token"
    if path.exists() and (token := path.read_text().strip()):
        return token
    # Written aside and renamed, so that a process killed half-way never leaves an empty token.
    token = secrets.token_hex(16)
    data_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(token)
    os.chmod(partial, 0o600)
    os.replace(partial, path)
    return token


class ApiServer:
    """One API server process on aiohttp."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        data_dir = self.config.data_dir
        self.store = Store(data_dir / "etcd.sqlite" if data_dir else None, self.config.history)
        self.registry = Registry(
            [lambda _cluster: self.config.builtin_types, crd_provider(self.store)]
        )
        watch_crds(self.store, self.registry)
        self.service = ObjectService(self.store)
        self.service.mutators += [default_admission, admit_crd]
        self.service.validators += [schema_admission, namespace_lifecycle]
        self.admin_token = _load_or_create_token(data_dir, "admin")
        self.authenticators: list[Authenticator] = [self._admin_authenticator]
        self.authorizer: Authorizer | None = None
        self.path_authorizer: PathAuthorizer | None = None
        if self.config.rbac:
            rbac = RbacAuthorizer(self.store, workspace_access=self.config.kcp)
            self.authorizer, self.path_authorizer = rbac.authorize, rbac.authorize_path
        self.limiter = RequestLimiter(self.config.limits)
        self.faults = Faults(self.config.faults)
        self.handler = ResourceHandler(self.store, self.service, self._authorize)
        self.handler.limits = self.config.limits
        self.resolve_scope: ScopeResolver = self._plain_scope
        self.mint_token: TokenMinter | None = None
        self.certs: Certificates | None = None
        self.ca_pem = ""
        if self.config.tls:
            self.certs = certificates(data_dir, self.config.host)
            self.ca_pem = self.certs.ca_pem.decode()
        elif self.config.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("plain HTTP is only served on a loopback address")
        self.lifecycle: Lifecycle | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = self.config.port
        self.on_start: list[Callable[[], Any]] = []

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.config.tls else "http"
        return f"{scheme}://{self.config.host}:{self.port}"

    async def start(self) -> None:
        limit_tls_read_buffer()
        calm_full_collections()  # a store of many objects: keep full collections short
        self.lifecycle = Lifecycle(
            self.store, self.service, self.registry, ca_pem=self.ca_pem, mint_token=self.mint_token
        )
        self.lifecycle.start()
        app = web.Application(client_max_size=8 * 1024 * 1024, middlewares=[self.faults.middleware])
        # Every path, including ones with a newline (a `.*` route answered those outside Status).
        app.router.add_route("*", r"/{tail:[\s\S]*}", self._entry)
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handler_cancellation=True,
            keepalive_timeout=self.config.idle_timeout,
        )
        await self._runner.setup()
        ssl_context = self.certs.server_context() if self.certs is not None else None
        self._site = web.TCPSite(
            self._runner, self.config.host, self.config.port, ssl_context=ssl_context
        )
        await self._site.start()
        server = self._site._server
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        self.faults.bind(self)
        # Bootstrapping needs the bound address (kcp writes URLs into objects).
        if not self.config.kcp:
            self._bootstrap_plain()
        for hook in self.on_start:
            result = hook()
            if hasattr(result, "__await__"):
                await result
        await self.wait_idle()
        log.info("API server listening on %s", self.url)

    async def wait_idle(self) -> None:
        """Wait until the server's own controllers have nothing left to do."""
        assert self.lifecycle is not None
        await self.lifecycle.wait_idle()

    async def stop(self) -> None:
        await self.faults.unbind()
        self.store.drop_watchers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.lifecycle is not None:
            await self.lifecycle.stop()
        self.store.close()

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _bootstrap_plain(self) -> None:
        scope = self.system_scope("")
        rt = scope.types.by_group_resource("", "namespaces")
        assert rt is not None
        for name in self.config.initial_namespaces:
            if self.store.get(NAMESPACES, "", "", name) is None:
                self.service.create(
                    scope,
                    rt,
                    "",
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                )

    def system_scope(self, cluster: str) -> Scope:
        return Scope(cluster, self.registry.types_for(cluster), SYSTEM_USER)

    # -- fault hooks for tests -----------------------------------------------------------

    def drop_watches(self) -> int:
        """Close every open watch stream, as a dropped connection would."""
        return self.store.drop_watchers()

    def compact(self) -> None:
        """Forget all watch history: watches from older revisions get 410 Expired."""
        self.store.compact()

    # -- kubeconfig ----------------------------------------------------------------------

    def kubeconfig(self, name: str = "edgemc", server_path: str = "") -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": self.cluster_entry(server_path)}],
            "users": [{"name": "admin", "user": {"token": self.admin_token}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": "admin"}}],
            "current-context": name,
            "preferences": {},
        }

    def cluster_entry(self, server_path: str = "") -> dict[str, Any]:
        """A kubeconfig `cluster` for this server: URL plus the CA that signed its cert."""
        entry: dict[str, Any] = {"server": self.url + server_path}
        if self.ca_pem:
            entry["certificate-authority-data"] = base64.b64encode(self.ca_pem.encode()).decode()
        return entry

    def client_ssl(self) -> ssl.SSLContext | None:
        """An SSL context trusting this server (for test and tool clients)."""
        return self.certs.client_context() if self.certs is not None else None

    def write_kubeconfig(self, path: Path | str, name: str = "edgemc") -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.kubeconfig(name), sort_keys=False))
        os.chmod(path, 0o600)
        return path

    # -- request handling ----------------------------------------------------------------

    def _admin_authenticator(self, token: str) -> User | None:
        if secrets.compare_digest(token, self.admin_token):
            return ADMIN_USER
        return None

    def authenticate(self, request: web.Request) -> User | None:
        if not _has_bearer_token(request):
            return None
        token = request.headers["Authorization"].strip().split(" ", 1)[1].strip()
        for authenticator in self.authenticators:
            user = authenticator(token)
            if user is not None:
                return user
        return None

    def _authorize(
        self, scope: Scope, verb: str, rt: ResourceType, ns: str, name: str, sub: str
    ) -> None:
        if self.authorizer is not None:
            self.authorizer(scope, verb, rt, ns, name, sub)

    def _plain_scope(
        self, request: web.Request, parts: list[str], user: User
    ) -> tuple[Scope, list[str]]:
        return Scope("", self.registry.types_for(""), user), parts

    async def _entry(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._serve(request)
        except errors.StatusError as exc:
            return status_response(exc)
        except (ConnectionResetError, web.HTTPException):
            raise
        except Exception as exc:
            log.exception("internal error serving %s %s", request.method, request.path)
            return status_response(errors.internal(str(exc)))

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        user = self.authenticate(request)
        if user is None:
            # Anonymous means no credentials: a token that fails authentication is a 401
            # even where anonymous requests are allowed (kube-apiserver's authn filter).
            if path in PUBLIC_PATHS and not _has_bearer_token(request):
                user = User("system:anonymous", ("system:unauthenticated",))
            else:
                raise errors.unauthorized()
        # Split before decoding: an encoded slash in a name (`.../configmaps/%2F`) must stay
        # in the name, not turn the URL into the collection's (DELETE would delete them all).
        raw = request.raw_path.split("?", 1)[0]
        parts = [unquote(p) for p in raw.split("/") if p]
        with self.limiter.admit(request, user):
            scope, parts = self.resolve_scope(request, parts, user)
            if self.path_authorizer is not None and not _is_resource_path(parts):
                self.path_authorizer(scope, request.method.lower(), "/" + "/".join(parts))
            return await self.route(request, scope, parts)

    async def route(
        self, request: web.Request, scope: Scope, parts: list[str]
    ) -> web.StreamResponse:
        """Serve the path below a scope: discovery, OpenAPI or a resource."""
        if not parts:
            return json_response(
                {"paths": ["/api", "/api/v1", "/apis", "/openapi/v2", "/openapi/v3", "/version"]}
            )
        head = parts[0]
        if head == "version" and len(parts) == 1:
            return json_response(discovery.version_info())
        if head in ("healthz", "livez", "readyz"):
            return web.Response(text="ok")
        if head == "openapi":
            return json_response(discovery.openapi(scope.types, parts[1:], scope.prefix))
        if head == "api":
            if len(parts) == 1:
                return json_response(discovery.api_versions(request.host))
            if parts[1] != "v1":
                raise errors.resource_not_found()
            if len(parts) == 2:
                return json_response(discovery.api_resource_list(scope.types, "", "v1"))
            return await self._resource(request, scope, "", "v1", parts[2:])
        if head == "apis":
            if len(parts) == 1:
                return json_response(discovery.api_group_list(scope.types))
            if len(parts) == 2:
                return json_response(discovery.api_group(scope.types, parts[1]))
            if len(parts) == 3:
                return json_response(discovery.api_resource_list(scope.types, parts[1], parts[2]))
            return await self._resource(request, scope, parts[1], parts[2], parts[3:])
        raise errors.resource_not_found()

    async def _resource(
        self, request: web.Request, scope: Scope, group: str, version: str, rest: list[str]
    ) -> web.StreamResponse:
        path = parse_resource_path(group, version, rest)
        if path is None:
            raise errors.resource_not_found()
        return await self.handler.handle(request, scope, path)


def _is_resource_path(parts: list[str]) -> bool:
    """Whether a path below a scope names a resource (else discovery, OpenAPI, /version...)."""
    return (parts[:1] == ["api"] and len(parts) > 2) or (parts[:1] == ["apis"] and len(parts) > 3)


@contextlib.asynccontextmanager
async def running(config: ServerConfig | None = None):  # type: ignore[no-untyped-def]
    """Start a server for the duration of a block (tests, benchmarks)."""
    server = ApiServer(config)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _has_bearer_token(request: web.Request) -> bool:
    """Whether the request presents a bearer token (an empty one counts as none, as upstream)."""
    parts = request.headers.get("Authorization", "").strip().split(" ", 1)
    return len(parts) == 2 and parts[0].lower() == "bearer" and bool(parts[1].strip())
