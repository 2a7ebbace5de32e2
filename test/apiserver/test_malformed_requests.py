"""Malformed requests never change stored state and never take the server down.

Beyond test_bad_input.py (undecodable bodies, wrong types, oversized bodies): bodies cut off
or trickled over raw sockets, a watcher that never reads, invalid UTF-8, bodies that are not
objects, YAML alias bombs and deep nesting, unencodable numbers, wrong content types and
broken HTTP framing. Every case checks that the list revision did not move (no write
happened), that the server still answers, and, at the end, that the sentinel objects stored
first are exactly as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest
from polling import wait_for

from edgemc.embedded.apiserver.limits import MAX_NESTING, LimitsConfig
from edgemc.embedded.apiserver.server import ApiServer, ServerConfig

# Short limits so that the timeouts can be seen within a test.
BODY_TIMEOUT = 1.0
SEND_TIMEOUT = 1.0
CM = "/api/v1/namespaces/default/configmaps"
WIDGETS = "/apis/demo.io/v1/namespaces/default/widgets"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.demo.io"},
    "spec": {
        "group": "demo.io",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                # Keeps whatever it is given: nothing is pruned away before storage.
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}}


def widget(name: str, spec: Any = None) -> dict[str, Any]:
    return {
        "apiVersion": "demo.io/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": 1} if spec is None else spec,
    }


class Api:
    """Requests as the admin, through aiohttp or raw TLS sockets."""

    def __init__(self, session: aiohttp.ClientSession, server: ApiServer) -> None:
        self.session = session
        self.server = server

    async def send(
        self, method: str, path: str, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, Any]:
        headers = {"Content-Type": content_type} if content_type else {}
        async with (
            asyncio.timeout(10),
            self.session.request(method, self.server.url + path, data=body, headers=headers) as r,
        ):
            raw = await r.read()
            return r.status, orjson.loads(raw) if raw.startswith(b"{") else raw.decode()

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = await self.send(method, path, orjson.dumps(body), "application/json")
        assert status < 300, answer
        return answer

    async def revision(self) -> int:
        """The store's revision, as a list reports it (any write moves it)."""
        status, listing = await self.send("GET", CM)
        assert status == 200, listing
        return int(listing["metadata"]["resourceVersion"])

    @contextlib.asynccontextmanager
    async def changes_nothing(self) -> AsyncIterator[None]:
        """No write happens in the block; afterwards the server still answers."""
        before = await self.revision()
        yield
        assert await self.revision() == before
        status, _ = await self.send("GET", "/readyz")
        assert status == 200

    async def rejected(
        self, method: str, path: str, body: bytes, content_type: str, code: int
    ) -> dict[str, Any]:
        async with self.changes_nothing():
            status, answer = await self.send(method, path, body, content_type)
        assert status == code, answer
        assert isinstance(answer, dict), answer
        assert (answer["kind"], answer["status"], answer["code"]) == ("Status", "Failure", code)
        return answer

    # -- raw sockets ------------------------------------------------------------------------

    async def connect(self, rcvbuf: int = 0) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        url = urlsplit(self.server.url)
        sock = socket.socket()
        if rcvbuf:  # a small receive window: the server's writes back up quickly
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (url.hostname, url.port))
        return await asyncio.open_connection(
            sock=sock, ssl=self.server.client_ssl(), server_hostname=url.hostname
        )

    def head(self, method: str, path: str, *headers: str) -> bytes:
        """A request line and headers (with the admin token), up to the blank line."""
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {urlsplit(self.server.url).netloc}",
            f"Authorization: Bearer {self.server.admin_token}",
            *headers,
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, Any]:
    """Status code and body (JSON when it is) of one raw HTTP response with a Content-Length,
    read without waiting for the connection to end."""
    async with asyncio.timeout(10):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        body = await reader.readexactly(int(headers["content-length"]))
    code = int(lines[0].split(" ", 2)[1])
    return code, orjson.loads(body) if body.startswith(b"{") else body


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    limits = LimitsConfig(body_timeout=BODY_TIMEOUT, watch_send_timeout=SEND_TIMEOUT)
    server = ApiServer(ServerConfig(port=0, limits=limits, history=200))
    await server.start()
    try:
        async with aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {server.admin_token}"},
            connector=aiohttp.TCPConnector(ssl=server.client_ssl()),
        ) as session:
            api = Api(session, server)
            await api.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)

            async def served() -> bool:
                return (await api.send("GET", WIDGETS))[0] == 200

            await wait_for(served, 10, "the widgets resource")
            sentinels = {
                CM: await api.ok("POST", CM, configmap("sentinel")),
                WIDGETS: await api.ok("POST", WIDGETS, widget("sentinel")),
            }
            yield api
            for collection, stored in sentinels.items():
                assert await api.ok("GET", f"{collection}/sentinel") == stored
    finally:
        await server.stop()


# -- bodies cut off, trickled, or never read ------------------------------------------------

# A complete object followed by padding: a server that took the end of the connection for
# the end of the body would find valid JSON in what arrived, and store it.
PADDED = orjson.dumps(configmap("cut")) + b" " * 64
TARGETS = {
    "POST": (CM, "application/json"),
    "PUT": (f"{CM}/sentinel", "application/json"),
    "PATCH": (f"{CM}/sentinel", "application/merge-patch+json"),
}


def cut_request(api: Api, method: str, framing: str) -> bytes:
    """A request whose body stops short of what its framing announces."""
    path, content_type = TARGETS[method]
    body = PADDED.replace(b'"cut"', b'"sentinel"') if method != "POST" else PADDED
    body = body.replace(b'"b"', b'"changed"')
    if framing == "length":
        head = api.head(
            method, path, f"Content-Type: {content_type}", f"Content-Length: {len(body)}"
        )
        return head + body.rstrip()
    # One whole chunk holding the object, but no last (empty) chunk.
    head = api.head(method, path, f"Content-Type: {content_type}", "Transfer-Encoding: chunked")
    return head + f"{len(body):x}\r\n".encode() + body + b"\r\n"


@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_a_body_cut_off_by_a_closed_connection_changes_nothing(
    api: Api, method: str, framing: str
) -> None:
    async with api.changes_nothing():
        _, writer = await api.connect()
        writer.write(cut_request(api, method, framing))
        await writer.drain()
        writer.close()  # the revision is read over a new connection, after this one's end
    status, _ = await api.send("GET", f"{CM}/cut")
    assert status == 404


@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_a_body_that_stops_coming_is_answered_408(
    api: Api, method: str, framing: str
) -> None:
    async with api.changes_nothing():
        reader, writer = await api.connect()
        try:
            started = time.monotonic()
            writer.write(cut_request(api, method, framing))
            await writer.drain()
            code, status = await read_response(reader)
            waited = time.monotonic() - started
        finally:
            writer.close()
    assert code == 408 and (status["kind"], status["reason"]) == ("Status", "Timeout"), status
    assert waited >= BODY_TIMEOUT  # answered by the body timeout, not by a parse of the stub


async def test_a_trickled_body_does_not_hold_up_other_clients(api: Api) -> None:
    body = orjson.dumps(configmap("trickled"))
    reader, writer = await api.connect()
    head = api.head("POST", CM, "Content-Type: application/json", f"Content-Length: {len(body)}")
    writer.write(head)

    async def trickle() -> None:
        """A byte every 50 ms, for longer than the server waits for the whole body."""
        with contextlib.suppress(ConnectionError):
            for i in range(int(2 * BODY_TIMEOUT / 0.05)):
                writer.write(body[i : i + 1])
                await writer.drain()
                await asyncio.sleep(0.05)

    slow = asyncio.create_task(trickle())
    try:
        answer = asyncio.create_task(read_response(reader))
        served = 0
        while not answer.done():  # meanwhile, everyone else is served promptly
            await api.ok("POST", CM, configmap(f"quick-{served}"))
            await api.ok("GET", f"{CM}/quick-{served}")
            served += 1
        code, status = await answer
    finally:
        slow.cancel()
        writer.close()
    assert code == 408 and status["reason"] == "Timeout", status
    assert served >= 5
    assert (await api.send("GET", f"{CM}/trickled"))[0] == 404


async def test_a_watcher_that_never_reads_is_cut_and_holds_up_nothing(api: Api) -> None:
    server = api.server
    big = await api.ok("POST", CM, configmap("big"))
    rv = big["metadata"]["resourceVersion"]
    # One watcher reads everything; the other never reads a byte.
    versions: list[str] = []

    async def read_all() -> None:
        url = f"{server.url}{CM}?watch=1&resourceVersion={rv}&fieldSelector=metadata.name=big"
        async with api.session.get(url) as resp:
            async for line in resp.content:
                versions.append(orjson.loads(line)["object"]["data"]["n"])

    reading = asyncio.create_task(read_all())
    _, stuck = await api.connect(rcvbuf=4096)
    stuck.write(api.head("GET", f"{CM}?watch=1&resourceVersion={rv}"))
    await stuck.drain()

    async def both_open() -> bool:
        return server.store.watch_count == 2

    try:
        await wait_for(both_open, 5, "both watches to be subscribed")
        payload = "x" * (128 * 1024)
        n = 0
        # Writes go on at full speed while the stuck stream backs up, until it is cut.
        async with asyncio.timeout(SEND_TIMEOUT + 10):
            while server.store.watch_count == 2:
                n += 1
                await api.ok(
                    "PUT", f"{CM}/big", {**configmap("big"), "data": {"x": payload, "n": str(n)}}
                )

        async def reader_caught_up() -> bool:
            return versions[-1:] == [str(n)]

        # The stuck stream, its subscription and its queue are gone; the reader has it all.
        assert server.store.watch_count == 1
        await wait_for(reader_caught_up, 10, "the reading watcher to see every write")
        assert versions == [str(i) for i in range(1, n + 1)]
        assert n >= 5, "writes waited for the stuck watcher"
    finally:
        reading.cancel()
        stuck.close()


# -- bodies that decode to nothing storable ---------------------------------------------------

NOT_OBJECTS = {
    "invalid UTF-8 in JSON": b'{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"\xff\xfe"}}',
    "invalid UTF-8 alone": b"\xc3\x28\xa0\xa1",
    "an array": b'[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"in-array"}}]',
    "a number": b"42",
    "a string": b'"configmap"',
    "null": b"null",
    "true": b"true",
    "a cut-off object": b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":',
    "a NUL byte": b'{"apiVersion":"v1",\x00"kind":"ConfigMap"}',
}


@pytest.mark.parametrize("body", NOT_OBJECTS.values(), ids=NOT_OBJECTS.keys())
@pytest.mark.parametrize("content_type", ["application/json", "application/yaml"])
async def test_bodies_that_are_not_objects_are_400(
    api: Api, body: bytes, content_type: str
) -> None:
    for method, path in (("POST", CM), ("PUT", f"{CM}/sentinel"), ("POST", WIDGETS)):
        answer = await api.rejected(method, path, body, content_type, 400)
        assert answer["reason"] == "BadRequest", answer
    if body.startswith(b"["):
        return  # a JSON patch is an array (of operations)
    for patch_type in ("application/merge-patch+json", "application/json-patch+json"):
        await api.rejected("PATCH", f"{CM}/sentinel", body, patch_type, 400)


def alias_bomb(levels: int) -> bytes:
    """A Widget whose spec nests `levels` lists of ten aliases of the one before."""
    lines = [
        b"apiVersion: demo.io/v1",
        b"kind: Widget",
        b"metadata: {name: bomb}",
        b"spec:",
        b"  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    ]
    for i in range(1, levels + 1):
        lines.append(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]".encode())
    return b"\n".join(lines) + b"\n"


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


EXPLOSIVE = {
    # 10**9 values from a few hundred bytes; expanding it would take gigabytes.
    "alias bomb": (alias_bomb(9), "application/yaml"),
    "alias bomb as JSON": (alias_bomb(9), "application/json"),
    "alias cycle": (
        b"apiVersion: demo.io/v1\nkind: Widget\nspec: &s {self: *s}\n",
        "application/yaml",
    ),
    "nested too deep": (
        b'{"kind":"Widget","spec":' + nested(MAX_NESTING) + b"}",
        "application/json",
    ),
    "nested beyond the JSON parser": (b'{"spec":' + nested(5000) + b"}", "application/json"),
    "nested YAML": (b"spec: " + b"[" * 5000 + b"]" * 5000, "application/yaml"),
    "integer beyond 64 bits": (
        b"kind: Widget\nspec: {n: " + b"9" * 30 + b"}\n",
        "application/yaml",
    ),
}


@pytest.mark.parametrize("body,content_type", EXPLOSIVE.values(), ids=EXPLOSIVE.keys())
async def test_explosive_bodies_are_400_at_once(api: Api, body: bytes, content_type: str) -> None:
    """Refused on decoding, before anything walks, copies or encodes the value."""
    for method, path in (("POST", WIDGETS), ("PUT", f"{WIDGETS}/sentinel")):
        answer = await api.rejected(method, path, body, content_type, 400)
        assert answer["reason"] == "BadRequest", answer


async def test_modest_aliases_and_nesting_are_stored(api: Api) -> None:
    body = (
        b"apiVersion: demo.io/v1\nkind: Widget\nmetadata: {name: aliased}\n"
        b"spec:\n  base: &b {cpu: 1, memory: 2}\n  copies: [*b, *b, *b]\n"
    )
    status, created = await api.send("POST", WIDGETS, body, "application/yaml")
    assert status == 201, created
    assert created["spec"]["copies"] == [{"cpu": 1, "memory": 2}] * 3
    deep = widget("deep", orjson.loads(nested(MAX_NESTING - 2)))
    created = await api.ok("POST", WIDGETS, deep)
    assert created["spec"] == deep["spec"]
    listing = await api.ok("GET", WIDGETS)  # lists nest it deeper still: still encodable
    assert {item["metadata"]["name"] for item in listing["items"]} >= {"aliased", "deep"}


# -- content types and HTTP framing -------------------------------------------------------------

WRONG_CONTENT_TYPES = [
    ("POST", CM, "text/plain"),
    ("POST", CM, "application/xml"),
    ("POST", CM, "multipart/form-data; boundary=x"),
    ("POST", CM, "application/x-www-form-urlencoded"),
    ("POST", CM, "application/vnd.kubernetes.protobuf"),
    ("POST", CM, "application/merge-patch+json"),
    ("PUT", f"{CM}/sentinel", "application/json-patch+json"),
    ("PUT", f"{CM}/sentinel", "text/html"),
    ("PATCH", f"{CM}/sentinel", "application/json"),
    ("PATCH", f"{CM}/sentinel", "application/yaml"),
    ("PATCH", f"{CM}/sentinel", "text/plain"),
    ("POST", WIDGETS, "application/octet-stream"),
]


@pytest.mark.parametrize("method,path,content_type", WRONG_CONTENT_TYPES)
async def test_wrong_content_types_are_415(
    api: Api, method: str, path: str, content_type: str
) -> None:
    body = orjson.dumps(configmap("sentinel") if path != WIDGETS else widget("typed"))
    answer = await api.rejected(method, path, body, content_type, 415)
    assert answer["reason"] == "UnsupportedMediaType", answer


BROKEN_FRAMING = {
    "bad chunk size": ("Transfer-Encoding: chunked", b"zz\r\n{}\r\n0\r\n\r\n"),
    "negative length": ("Content-Length: -5", b"{}"),
    "length not a number": ("Content-Length: abc", b"{}"),
    "length and chunked": ("Content-Length: 2\r\nTransfer-Encoding: chunked", b"{}"),
}


@pytest.mark.parametrize("header,body", BROKEN_FRAMING.values(), ids=BROKEN_FRAMING.keys())
async def test_broken_http_framing_is_400(api: Api, header: str, body: bytes) -> None:
    """The HTTP parser answers (plain text, before any handler) and the server goes on."""
    async with api.changes_nothing():
        reader, writer = await api.connect()
        try:
            writer.write(api.head("POST", CM, "Content-Type: application/json", header) + body)
            await writer.drain()
            code, _ = await read_response(reader)
        finally:
            writer.close()
    assert code == 400


# -- headers that never end -----------------------------------------------------------------


@pytest.mark.parametrize("sent", [b"", b"GET /api HTTP/1.1\r\nHost: x\r\nX-Slow: "])
async def test_a_request_whose_headers_never_end_is_disconnected(sent: bytes) -> None:
    """Nothing, or half a request head (a slowloris client): the server closes the
    connection after its idle timeout instead of holding it (and a descriptor) for good."""
    server = ApiServer(ServerConfig(port=0, idle_timeout=0.5))
    await server.start()
    try:
        api = Api(None, server)  # type: ignore[arg-type]  # raw sockets only
        reader, writer = await api.connect()
        writer.write(sent)
        await writer.drain()
        try:
            async with asyncio.timeout(10):  # a bound on the test, far above the idle timeout
                assert await reader.read() == b""  # closed by the server
        finally:
            writer.close()
    finally:
        await server.stop()
