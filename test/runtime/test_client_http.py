"""Client behaviour at the HTTP level: retries, typed errors, watch framing, kubeconfig auth.

These drive the client against a tiny scripted aiohttp endpoint, because they need answers a
correct API server never gives on demand (503s, 429s, oddly split chunks). Everything about
API semantics is tested against the embedded server in test_client_apiserver.py.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest
import yaml
from aiohttp import web
from prometheus_client import REGISTRY

from edgemc.runtime import errors
from edgemc.runtime.backoff import Backoff
from edgemc.runtime.client import Client, ClusterConfig, GroupVersionResource, RetryPolicy

CM = GroupVersionResource("", "v1", "configmaps")
FAST = RetryPolicy(max_retries=3, backoff=Backoff(initial=0.001, cap=0.005))


def status(code: int, reason: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code}
    body |= {"reason": reason, "message": f"{reason}!"}
    return web.json_response(body, status=code)


class Scripted:
    """An HTTP endpoint answering each request with the next scripted response."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.bodies: list[bytes] = []
        self.script: list[Callable[[web.Request], object]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        self.bodies.append(await request.read())
        answer = self.script.pop(0)(request) if self.script else web.json_response({})
        if asyncio.iscoroutine(answer):
            answer = await answer
        return answer  # type: ignore[return-value]


@pytest.fixture
async def endpoint() -> AsyncIterator[Scripted]:
    scripted = Scripted()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", scripted.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scripted.url = f"http://127.0.0.1:{port}"
    yield scripted
    await runner.cleanup()


@pytest.fixture
async def client(endpoint: Scripted) -> AsyncIterator[Client]:
    c = Client(ClusterConfig.for_server(endpoint.url, token="t0k"), retry=FAST)
    yield c
    await c.close()


def ok(obj: dict) -> Callable[[web.Request], web.Response]:
    return lambda _r: web.json_response(obj)


async def test_get_retries_5xx_then_succeeds(endpoint: Scripted, client: Client) -> None:
    host = client.host
    before = REGISTRY.get_sample_value(
        "rest_client_requests_total", {"code": "503", "method": "GET", "host": host}
    )
    endpoint.script = [lambda _r: status(503, "ServiceUnavailable")] * 2 + [ok({"kind": "X"})]
    assert await client.get(CM, "a", "ns") == {"kind": "X"}
    assert len(endpoint.requests) == 3
    assert endpoint.requests[0].path == "/api/v1/namespaces/ns/configmaps/a"
    assert endpoint.requests[0].headers["Authorization"] == "Bearer t0k"
    after = REGISTRY.get_sample_value(
        "rest_client_requests_total", {"code": "503", "method": "GET", "host": host}
    )
    assert after == (before or 0) + 2


async def test_429_honours_retry_after(endpoint: Scripted, client: Client) -> None:
    def throttled(_r: web.Request) -> web.Response:
        resp = status(429, "TooManyRequests")
        resp.headers["Retry-After"] = "0"
        return resp

    endpoint.script = [throttled, ok({"items": []})]
    assert await client.list(CM) == {"items": []}
    assert len(endpoint.requests) == 2


async def test_non_idempotent_verbs_are_not_retried(endpoint: Scripted, client: Client) -> None:
    endpoint.script = [lambda _r: status(503, "ServiceUnavailable"), ok({})]
    with pytest.raises(errors.ServerError):
        await client.create(CM, {"metadata": {"name": "a", "namespace": "ns"}})
    assert len(endpoint.requests) == 1
    assert endpoint.requests[0].path == "/api/v1/namespaces/ns/configmaps"


async def test_retries_give_up_with_the_typed_error(endpoint: Scripted, client: Client) -> None:
    endpoint.script = [lambda _r: status(500, "InternalError")] * 10
    with pytest.raises(errors.ServerError):
        await client.delete(CM, "a", "ns")
    assert len(endpoint.requests) == 1 + FAST.max_retries


async def test_typed_errors_and_request_bodies(endpoint: Scripted, client: Client) -> None:
    endpoint.script = [lambda _r: status(409, "AlreadyExists"), lambda _r: status(409, "Conflict")]
    with pytest.raises(errors.AlreadyExists):
        await client.create(CM, {"metadata": {"name": "a"}}, "ns")
    with pytest.raises(errors.Conflict):
        await client.update(CM, {"metadata": {"name": "a", "namespace": "ns"}})
    endpoint.script = [ok({}), ok({}), ok({})]
    await client.patch(CM, "a", [{"op": "remove", "path": "/data/x"}], "ns", patch_type="json")
    await client.patch(CM, "a", {"data": {"x": None}}, "ns", patch_type="strategic")
    await client.delete(
        CM, "a", "ns", preconditions={"resourceVersion": "7"}, propagation_policy="Foreground"
    )
    patch_json, patch_smp, delete = endpoint.requests[2:]
    assert patch_json.method == "PATCH"
    assert patch_json.headers["Content-Type"] == "application/json-patch+json"
    assert patch_smp.headers["Content-Type"] == "application/strategic-merge-patch+json"
    assert orjson.loads(endpoint.bodies[-1]) == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "preconditions": {"resourceVersion": "7"},
        "propagationPolicy": "Foreground",
    }
    assert delete.method == "DELETE"


async def test_connection_refused_is_retried_then_raised() -> None:
    c = Client(ClusterConfig.for_server("http://127.0.0.1:9"), retry=FAST)
    try:
        with pytest.raises(errors.ApiError) as exc:
            await c.get(CM, "a", "ns")
        assert exc.value.code == 0
    finally:
        await c.close()


async def test_watch_frames_lines_across_chunks(endpoint: Scripted, client: Client) -> None:
    big = "x" * 300_000  # longer than aiohttp's default line limit
    events = [
        {"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "1"}}},
        {
            "type": "MODIFIED",
            "object": {"metadata": {"name": "a", "resourceVersion": "2"}, "d": big},
        },
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "3"}}},
        {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}},
    ]
    raw = b"".join(orjson.dumps(e) + b"\n" for e in events)

    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "application/json"
        await resp.prepare(request)
        for i in range(0, len(raw), 7777):  # chunk boundaries fall inside lines
            await resp.write(raw[i : i + 7777])
        return resp

    endpoint.script = [stream]
    seen: list[tuple[str, str]] = []
    with pytest.raises(errors.Gone):
        async with client.watch(CM, "ns", resource_version="0", timeout_seconds=30) as watch:
            async for kind, obj in watch:
                seen.append((kind, obj["metadata"]["resourceVersion"]))
    assert seen == [("ADDED", "1"), ("MODIFIED", "2"), ("BOOKMARK", "3")]
    query = endpoint.requests[0].query
    assert query["watch"] == "true" and query["allowWatchBookmarks"] == "true"
    assert query["resourceVersion"] == "0" and query["timeoutSeconds"] == "30"


async def test_watch_ends_cleanly_when_server_ends(endpoint: Scripted, client: Client) -> None:
    endpoint.script = [
        lambda _r: web.Response(
            body=b'{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n',
            content_type="application/json",
        )
    ]
    got = [kind async for kind, _ in client.watch(CM)]
    assert got == ["ADDED"]


# -- kubeconfig -------------------------------------------------------------------------


def write_kubeconfig(path: Path, cluster: dict, user: dict) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [
            {"name": "ctx", "context": {"cluster": "c", "user": "u"}},
            {"name": "other", "context": {"cluster": "c", "user": "u"}},
        ],
        "current-context": "ctx",
    }
    path.write_text(yaml.safe_dump(config))
    return path


async def test_kubeconfig_token_and_workspace_path(tmp_path: Path, endpoint: Scripted) -> None:
    kc = write_kubeconfig(
        tmp_path / "kc", {"server": endpoint.url + "/clusters/root"}, {"token": "abc"}
    )
    client = await Client.from_kubeconfig(str(kc), context="other")
    try:
        await client.get(CM, "a", "ns")
        assert endpoint.requests[-1].path == "/clusters/root/api/v1/namespaces/ns/configmaps/a"
        assert endpoint.requests[-1].headers["Authorization"] == "Bearer abc"
    finally:
        await client.close()


async def test_kubeconfig_exec_plugin_token(tmp_path: Path, endpoint: Scripted) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1',"
        " 'kind': 'ExecCredential', 'status': {'token': 'from-exec'}}))\n"
    )
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": sys.executable,
            "args": [str(plugin)],
        }
    }
    kc = write_kubeconfig(tmp_path / "kc", {"server": endpoint.url}, user)
    client = await Client.from_kubeconfig(str(kc))
    try:
        endpoint.script = [lambda _r: status(401, "Unauthorized"), ok({"ok": True})]
        assert await client.get(CM, "a", "ns") == {"ok": True}  # 401 -> plugin re-run -> retry
        assert [r.headers["Authorization"] for r in endpoint.requests] == ["Bearer from-exec"] * 2
    finally:
        await client.close()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not on PATH")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
             "-subj", "/CN=test-ca", cwd=tmp_path)  # fmt: skip
    (tmp_path / "ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=tmp_path)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "1",
                 "-extfile", "ext", cwd=tmp_path)  # fmt: skip
    return tmp_path


async def test_kubeconfig_tls_ca_and_client_cert(pki: Path) -> None:
    seen: list[object] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.transport.get_extra_info("peercert"))  # type: ignore[union-attr]
        return web.json_response({"kind": "ConfigMap"})

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.crt"))
    server_ctx.load_cert_chain(pki / "server.crt", pki / "server.key")
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        cluster = {"server": f"https://127.0.0.1:{port}", "certificate-authority": "ca.crt"}
        user = {"client-certificate": "client.crt", "client-key": "client.key"}
        kc = write_kubeconfig(pki / "kc", cluster, user)
        client = await Client.from_kubeconfig(str(kc))
        try:
            assert await client.get(CM, "a", "ns") == {"kind": "ConfigMap"}
        finally:
            await client.close()
        subject = dict(x[0] for x in seen[0]["subject"])  # type: ignore[index]
        assert subject["commonName"] == "client"

        insecure = write_kubeconfig(
            pki / "kc2",
            {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True},
            user,
        )
        client = await Client.from_kubeconfig(str(insecure))
        try:
            assert await client.get(CM, "a", "ns") == {"kind": "ConfigMap"}
        finally:
            await client.close()
    finally:
        await runner.cleanup()
