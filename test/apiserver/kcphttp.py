"""A small raw-HTTP client for kcp-mode tests: any URL, any token, JSON in and out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson


class Http:
    """Requests against one server with one bearer token; answers (status, body)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session = session
        self.base = base
        self.token = token

    def as_token(self, token: str) -> Http:
        return Http(self.session, self.base, token)

    async def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = orjson.dumps(body)
        async with self.session.request(method, self.base + path, data=data, headers=headers) as r:
            raw = await r.read()
            return r.status, orjson.loads(raw) if raw.startswith(b"{") else raw.decode()

    async def get(self, path: str) -> tuple[int, Any]:
        return await self.request("GET", path)

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        return await self.request("POST", path, body)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = await self.request(method, path, body)
        assert status < 300, f"{method} {path}: {status} {answer}"
        return answer

    async def watch(
        self, path: str, stop: Callable[[list[dict]], bool], within: float = 10.0
    ) -> list[dict]:
        """Collect watch events from `path` until `stop(events)` holds."""
        events: list[dict] = []
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            asyncio.timeout(within),
            self.session.get(self.base + path, headers=headers) as r,
        ):
            assert r.status == 200, await r.text()
            async for line in r.content:
                if line.strip():
                    events.append(orjson.loads(line))
                    if stop(events):
                        break
        return events


async def wait_until(cond: Callable[[], Any], within: float = 10.0) -> Any:
    """Poll an async condition until it returns something truthy."""
    async with asyncio.timeout(within):
        while True:
            value = await cond()
            if value:
                return value
            await asyncio.sleep(0.01)


WS = "/apis/tenancy.kcp.io/v1alpha1/workspaces"


async def create_workspace(
    http: Http, parent: str, name: str, type_name: str | None = None
) -> dict[str, Any]:
    """Create a Workspace in `parent` (a path) and wait until it is Ready."""
    body: dict[str, Any] = {
        "apiVersion": "tenancy.kcp.io/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": name},
    }
    if type_name:
        body["spec"] = {"type": {"name": type_name, "path": "root"}}
    await http.ok("POST", f"/clusters/{parent}{WS}", body)

    async def ready() -> dict[str, Any] | None:
        status, ws = await http.get(f"/clusters/{parent}{WS}/{name}")
        if status == 200 and ws.get("status", {}).get("phase") == "Ready":
            return ws
        return None

    return await wait_until(ready)


async def bind_kube(admin: Http, workspace: str) -> str:
    """Bind `root:compute:kubernetes` in `workspace` (as `bind-kube`) and wait until it
    serves Deployments; the identity hash they are stored under."""
    await admin.ok(
        "POST",
        f"/clusters/{workspace}/apis/apis.kcp.io/v1alpha1/apibindings",
        {
            "apiVersion": "apis.kcp.io/v1alpha1",
            "kind": "APIBinding",
            "metadata": {"name": "bind-kube"},
            "spec": {"reference": {"export": {"path": "root:compute", "name": "kubernetes"}}},
        },
    )

    async def identity() -> str | None:
        status, _ = await admin.get(
            f"/clusters/{workspace}/apis/apps/v1/namespaces/default/deployments"
        )
        if status != 200:
            return None
        binding = await admin.ok(
            "GET", f"/clusters/{workspace}/apis/apis.kcp.io/v1alpha1/apibindings/bind-kube"
        )
        for bound in binding.get("status", {}).get("boundResources") or []:
            if bound["resource"] == "deployments":
                return bound["schema"]["identityHash"]
        return None

    return await wait_until(identity)
