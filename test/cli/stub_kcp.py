"""A tiny kcp look-alike for the CLI's own tests (not the API server under test).

Serves, under `/clusters/<path>/`, Workspaces (GET/LIST/POST), APIBindings (LIST) and
`/api` + `/apis` discovery. Paths resolve like kcp: the first segment is a logical cluster
name, each later one a Workspace in the previous cluster. A new Workspace gets kcp's type
defaulting (children of root: `root:organization`, deeper: `root:universal`) and starts in
phase Scheduling; each GET of it moves it one phase on (Scheduling -> Initializing ->
Ready), so readiness is deterministic without timers. `hold_phases` keeps it unready.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

GROUP_RESOURCE = "workspaces.tenancy.kcp.io"
NEXT_PHASE = {"Scheduling": "Initializing", "Initializing": "Ready"}


def status(code: int, reason: str, message: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return web.json_response(body, status=code)


@dataclass
class LogicalCluster:
    name: str
    type_path: str  # the type of this cluster, e.g. "root:root", "root:organization"
    workspaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    apibindings: list[dict[str, Any]] = field(default_factory=list)
    forbidden: bool = False  # 403 on everything (like a workspace one may not access)
    no_groups: bool = False  # discovery shows nothing
    no_apibindings: bool = False  # the apibindings resource is not served (404)


class StubKcp:
    """In-memory logical clusters and workspaces behind an aiohttp TestServer."""

    def __init__(self, token: str = "stub-token") -> None:
        self.token = token
        self.clusters: dict[str, LogicalCluster] = {"root": LogicalCluster("root", "root:root")}
        self.requests: list[tuple[str, str]] = []
        self.hold_phases = False
        self.ready_on_create = False  # POST answers with a Ready workspace already
        self.server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/clusters/{path}{rest:.*}", self._handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()

    # --- state helpers for tests ---------------------------------------------------------

    def resolve(self, path: str) -> LogicalCluster | None:
        segments = path.split(":")
        cluster = self.clusters.get(segments[0])
        for name in segments[1:]:
            if cluster is None:
                return None
            workspace = cluster.workspaces.get(name)
            if workspace is None or not workspace["spec"].get("cluster"):
                return None
            cluster = self.clusters.get(workspace["spec"]["cluster"])
        return cluster

    def add_workspace(
        self, parent_path: str, name: str, *, phase: str = "Ready", type_path: str = ""
    ) -> dict[str, Any]:
        parent = self.resolve(parent_path)
        assert parent is not None, parent_path
        workspace = self._new_workspace(parent, name, {}, type_path)
        while workspace["status"]["phase"] != phase:
            self._advance(workspace)
        return workspace

    def _new_workspace(
        self, parent: LogicalCluster, name: str, spec: dict[str, Any], type_path: str
    ) -> dict[str, Any]:
        type_ref = dict(spec.get("type") or {})
        if not type_ref.get("name"):
            default = type_path or (
                "root:organization" if parent.type_path == "root:root" else "root:universal"
            )
            path, _, type_name = default.rpartition(":")
            type_ref = {"name": type_name, "path": path}
        type_ref.setdefault("path", "root")
        workspace = {
            "apiVersion": "tenancy.kcp.io/v1alpha1",
            "kind": "Workspace",
            "metadata": {
                "name": name,
                "annotations": {"kcp.io/cluster": parent.name},
                "labels": {"tenancy.kcp.io/phase": "Scheduling"},
            },
            "spec": {**spec, "type": type_ref},
            "status": {"phase": "Scheduling"},
        }
        parent.workspaces[name] = workspace
        return workspace

    def _advance(self, workspace: dict[str, Any]) -> None:
        phase = workspace["status"]["phase"]
        if phase == "Scheduling":
            parent = workspace["metadata"]["annotations"]["kcp.io/cluster"]
            cluster = hashlib.sha224(f"{parent}/{workspace['metadata']['name']}".encode())
            name = cluster.hexdigest()[:16]
            type_ref = workspace["spec"]["type"]
            self.clusters[name] = LogicalCluster(name, f"{type_ref['path']}:{type_ref['name']}")
            workspace["spec"]["cluster"] = name
            workspace["spec"]["URL"] = f"{self.url}/clusters/{name}"
        next_phase = NEXT_PHASE.get(phase)
        if next_phase:
            workspace["status"]["phase"] = next_phase
            workspace["metadata"]["labels"]["tenancy.kcp.io/phase"] = next_phase

    # --- HTTP ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path, rest = request.match_info["path"], request.match_info["rest"]
        self.requests.append((request.method, f"/clusters/{path}{rest}"))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return status(401, "Unauthorized", "Unauthorized")
        cluster = self.resolve(path)
        if cluster is None or cluster.forbidden:
            return status(
                403, "Forbidden", f'access to "{path}" is forbidden: LogicalCluster not found'
            )
        if rest == "/api" and request.method == "GET":
            versions = [] if cluster.no_groups else ["v1"]
            return web.json_response({"kind": "APIVersions", "versions": versions})
        if rest == "/apis" and request.method == "GET":
            groups = [] if cluster.no_groups else [{"name": "tenancy.kcp.io"}]
            return web.json_response({"kind": "APIGroupList", "groups": groups})
        bindings = rest == "/apis/apis.kcp.io/v1alpha1/apibindings"
        if bindings and request.method == "GET" and not cluster.no_apibindings:
            return web.json_response({"kind": "APIBindingList", "items": cluster.apibindings})
        prefix = "/apis/tenancy.kcp.io/v1alpha1/workspaces"
        if rest == prefix and request.method == "GET":
            items = [cluster.workspaces[n] for n in sorted(cluster.workspaces)]
            return web.json_response({"kind": "WorkspaceList", "items": items})
        if rest == prefix and request.method == "POST":
            body = await request.json()
            name = body["metadata"]["name"]
            if name in cluster.workspaces:
                return status(409, "AlreadyExists", f'{GROUP_RESOURCE} "{name}" already exists')
            workspace = self._new_workspace(cluster, name, body.get("spec") or {}, "")
            while self.ready_on_create and workspace["status"]["phase"] != "Ready":
                self._advance(workspace)
            return web.json_response(workspace, status=201)
        if rest.startswith(prefix + "/") and request.method == "GET":
            name = rest[len(prefix) + 1 :]
            workspace = cluster.workspaces.get(name)
            if workspace is None:
                return status(404, "NotFound", f'{GROUP_RESOURCE} "{name}" not found')
            if not self.hold_phases:
                self._advance(workspace)
            return web.json_response(workspace)
        return status(404, "NotFound", "the server could not find the requested resource")
