"""Durability of the embedded server: a SIGKILL in a write burst loses nothing acknowledged.

The server runs as a real process (`python -m edgemc.cmd server --kcp`) on a data directory.
Concurrent writers create, update and delete ConfigMaps, Secrets and a CRD-backed kind in
three workspaces and keep a ledger of every acknowledged write. Each object has one writer,
so its expected state is the one its last acknowledged write left, or the one its single
in-flight write would leave if it landed before the process died. The process is killed with
SIGKILL right after a random number of acknowledged writes, then restarted on the same data
directory and port, and:

- every object is as its last acknowledged write left it (same content and resourceVersion),
  or as its in-flight write would have left it (with a later resourceVersion);
- the first write after the restart gets a resourceVersion above every acknowledged one;
- a watch resumed from the last revision a watcher saw before the kill delivers exactly the
  changes it missed, in order, none twice, or answers 410 Gone, after which a relist works.

Five kill points run one after another on the same directory. The figures (writes acked,
kill point, objects checked, restart time) are printed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import re
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from kcphttp import Http, create_workspace, wait_until

WORKSPACES = ("root:dur-a", "root:dur-b", "root:dur-c")
CRD_GROUP = "durability.example.com"
# resource -> (collection path below /clusters/<ws>, the field holding an object's content)
RESOURCES = {
    "configmaps": ("/api/v1/namespaces/default/configmaps", "data"),
    "secrets": ("/api/v1/namespaces/default/secrets", "data"),
    "widgets": (f"/apis/{CRD_GROUP}/v1/namespaces/default/widgets", "spec"),
}
KINDS = {
    "configmaps": ("v1", "ConfigMap"),
    "secrets": ("v1", "Secret"),
    "widgets": (f"{CRD_GROUP}/v1", "Widget"),
}
WRITERS = 12
OBJECTS_PER_WRITER = 3
ROUNDS = 5
READY = re.compile(r"API server ready at (https://[^;\s]+)")


@dataclass(frozen=True)
class Key:
    ws: str
    resource: str
    name: str

    @property
    def collection(self) -> str:
        return f"/clusters/{self.ws}{RESOURCES[self.resource][0]}"

    @property
    def path(self) -> str:
        return f"{self.collection}/{self.name}"

    def content(self, gen: int) -> dict[str, str]:
        """What generation `gen` of the object holds in its content field."""
        if self.resource == "secrets":
            return {"gen": base64.b64encode(str(gen).encode()).decode()}
        return {"gen": str(gen), "by": self.name}

    def body(self, gen: int) -> dict[str, Any]:
        api_version, kind = KINDS[self.resource]
        return {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": self.name, "namespace": "default"},
            RESOURCES[self.resource][1]: self.content(gen),
        }


@dataclass(frozen=True)
class State:
    """An object as a write leaves it: content None means absent; rv None means unknown."""

    content: dict[str, str] | None
    rv: int | None


ABSENT = State(None, None)


@dataclass
class Ledger:
    """Acknowledged writes, the write in flight per object, and the kill trigger."""

    kill_after: int
    kill: Callable[[], None]
    state: dict[Key, State] = field(default_factory=dict)
    inflight: dict[Key, State] = field(default_factory=dict)
    acked: list[tuple[Key, int]] = field(default_factory=list)  # (object, resourceVersion)

    def ack(self, key: Key, state: State, rv: int) -> None:
        self.state[key] = state
        self.inflight.pop(key, None)
        self.acked.append((key, rv))
        if len(self.acked) == self.kill_after:
            self.kill()

    @property
    def max_rv(self) -> int:
        return max((rv for _, rv in self.acked), default=0)


class ServerProcess:
    """`python -m edgemc.cmd server --kcp` on one data directory, started and SIGKILLed."""

    def __init__(self, data_dir: Path, history: int | None = None) -> None:
        self.data_dir = data_dir
        self.history = history
        self.port = 0
        self.url = ""
        self.proc: asyncio.subprocess.Process | None = None
        self.token = ""
        self.ssl: ssl.SSLContext | None = None

    async def start(self) -> float:
        """Start on the data directory (and the first start's port); seconds until ready."""
        started = time.monotonic()
        with (self.data_dir.parent / "server.log").open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "edgemc.cmd",
                "server",
                "--kcp",
                f"--port={self.port}",
                f"--data-dir={self.data_dir}",
                *([f"--history={self.history}"] if self.history else []),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self.proc.stdout is not None
        async with asyncio.timeout(60):
            while not (ready := READY.search((await self.proc.stdout.readline()).decode())):
                assert self.proc.returncode is None, "the server exited before it was ready"
        elapsed = time.monotonic() - started
        self.url = ready.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])
        kubeconfig = yaml.safe_load((self.data_dir / "admin.kubeconfig").read_text())
        users = {u["name"]: u["user"] for u in kubeconfig["users"]}
        self.token = users["kcp-admin"]["token"]
        ca = base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"])
        self.ssl = ssl.create_default_context(cadata=ca.decode())
        return elapsed

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()

    async def wait_for_exit(self) -> None:
        if self.proc is not None:
            await self.proc.wait()

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[Http]:
        connector = aiohttp.TCPConnector(ssl=self.ssl, limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            yield Http(session, self.url, self.token)


# The server's default history lets every watch resume; a history of 5 events makes resumes
# from before the kill answer 410 Gone, so the relist path is exercised too.
@pytest.fixture(params=[None, 5], ids=["default-history", "history-5"])
async def server(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data", request.param)
    try:
        yield proc
    finally:
        proc.kill()
        await proc.wait_for_exit()


def rv_of(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


async def prepare_workspaces(http: Http) -> None:
    for ws in WORKSPACES:
        await create_workspace(http, "root", ws.split(":")[1])
        crd = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{CRD_GROUP}"},
            "spec": {
                "group": CRD_GROUP,
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "scope": "Namespaced",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
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
        await http.ok(
            "POST", f"/clusters/{ws}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd
        )

        async def served(ws: str = ws) -> bool:
            status, _ = await http.get(f"/clusters/{ws}{RESOURCES['widgets'][0]}")
            return status == 200

        await wait_until(served)


async def write(http: Http, key: Key, ledger: Ledger, rng: random.Random) -> bool:
    """One write to `key`, chosen from its state; False once the server is gone."""
    gen = rng.randrange(10**9)
    before = ledger.state.get(key, ABSENT)
    body: dict[str, Any] | None = key.body(gen)
    after: dict[str, str] | None = key.content(gen)
    if before.content is None:
        method, path = "POST", key.collection
    elif rng.random() < 0.25:
        method, path, body, after = "DELETE", key.path, None, None
    else:  # an update conditional on the acknowledged revision
        method, path = "PUT", key.path
        body["metadata"]["resourceVersion"] = str(before.rv)
    ledger.inflight[key] = State(after, None)
    try:
        status, answer = await http.request(method, path, body)
    except (aiohttp.ClientError, OSError):
        return False
    assert status in (200, 201), f"{method} {path}: {status} {answer}"
    rv = rv_of(answer)
    ledger.ack(key, State(after, None if after is None else rv), rv)
    return True


async def writer(http: Http, keys: list[Key], ledger: Ledger, rng: random.Random) -> None:
    while await write(http, rng.choice(keys), ledger, rng):
        pass


@dataclass
class Watcher:
    """A list+watch of one resource in one workspace, mirroring name -> resourceVersion."""

    ws: str
    resource: str
    mirror: dict[str, int] = field(default_factory=dict)
    last_rv: int = 0
    events: int = 0

    @property
    def collection(self) -> str:
        return f"/clusters/{self.ws}{RESOURCES[self.resource][0]}"

    async def relist(self, http: Http) -> dict[str, int]:
        listing = await http.ok("GET", self.collection)
        self.last_rv = rv_of(listing)
        return {item["metadata"]["name"]: rv_of(item) for item in listing["items"]}

    def apply(self, event: dict[str, Any]) -> None:
        obj = event["object"]
        rv = rv_of(obj)
        assert rv > self.last_rv, f"{self.collection}: event {rv} after {self.last_rv}"
        self.last_rv = rv
        self.events += 1
        if event["type"] == "DELETED":
            del self.mirror[obj["metadata"]["name"]]
        else:
            assert event["type"] in ("ADDED", "MODIFIED"), event
            self.mirror[obj["metadata"]["name"]] = rv

    async def follow(self, http: Http, opened: asyncio.Event) -> None:
        """Mirror the resource until the connection breaks (the server is killed)."""
        self.mirror = await self.relist(http)
        headers = {"Authorization": f"Bearer {http.token}"}
        url = f"{http.base}{self.collection}?watch=1&resourceVersion={self.last_rv}"
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with http.session.get(url, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
                opened.set()
                async for line in resp.content:
                    if line.strip():
                        self.apply(orjson.loads(line))

    async def resume(self, http: Http, ledger: Ledger, marker: Key) -> str:
        """Resume after a restart, writing `marker` to see the watch reach the present;
        'resumed' or 'relisted' (after 410 Gone)."""
        missed = {rv for key, rv in ledger.acked if self._covers(key) and rv > self.last_rv}
        seen: set[int] = set()
        headers = {"Authorization": f"Bearer {http.token}"}
        url = f"{http.base}{self.collection}?watch=1&resourceVersion={self.last_rv}"
        async with asyncio.timeout(20), http.session.get(url, headers=headers) as resp:
            if resp.status == 410:
                return await self._relisted(http, await resp.json())
            assert resp.status == 200, await resp.text()
            created = await http.ok("POST", marker.collection, marker.body(0))
            async for line in resp.content:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if event["type"] == "ERROR":
                    assert not seen, f"410 after events: {event}"
                    return await self._relisted(http, event["object"])
                self.apply(event)
                seen.add(self.last_rv)
                if self.last_rv == rv_of(created):
                    break
        assert missed <= seen, f"{self.collection}: acked writes not replayed: {missed - seen}"
        assert self.mirror == await self.relist(http), f"{self.collection}: watch != list"
        return "resumed"

    async def _relisted(self, http: Http, status: dict[str, Any]) -> str:
        assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
        self.mirror = await self.relist(http)
        return "relisted"

    def _covers(self, key: Key) -> bool:
        return (key.ws, key.resource) == (self.ws, self.resource)


async def check_objects(http: Http, ledger: Ledger) -> int:
    """Every written object is as acknowledged (or as its in-flight write); the ledger is
    then brought up to what is stored. Returns how many in-flight writes had landed."""
    landed_writes = 0
    for key in sorted(ledger.state.keys() | ledger.inflight.keys(), key=str):
        acked = ledger.state.get(key, ABSENT)
        maybe = ledger.inflight.pop(key, None)
        status, got = await http.get(key.path)
        assert status in (200, 404), f"{key}: {status} {got}"
        now = State(got[RESOURCES[key.resource][1]], rv_of(got)) if status == 200 else ABSENT
        landed = maybe is not None and now.content == maybe.content
        if not landed:
            assert now == acked, f"{key}: acknowledged {acked}, stored {now}"
        elif now.rv is not None:
            assert acked.rv is None or now.rv > acked.rv, f"{key}: {now} not after {acked}"
        landed_writes += landed and now != acked
        ledger.state[key] = now
    return landed_writes


async def test_sigkill_mid_burst_loses_no_acknowledged_write(
    server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    report = [f"\ndurability (seed {seed}, history {server.history or 'default'}):"]
    first_start = await server.start()
    async with server.client() as http:
        await prepare_workspaces(http)
    # Consecutive objects go round every workspace and resource.
    kinds = [(ws, resource) for resource in sorted(RESOURCES) for ws in WORKSPACES]
    keys = [Key(*kinds[n % len(kinds)], f"o{n}") for n in range(WRITERS * OBJECTS_PER_WRITER)]
    owned = [keys[w * OBJECTS_PER_WRITER : (w + 1) * OBJECTS_PER_WRITER] for w in range(WRITERS)]
    ledger = Ledger(0, server.kill)
    relisted = 0
    for round_no in range(ROUNDS):
        kill_point = rng.randint(30, 600)
        ledger.kill_after = len(ledger.acked) + kill_point
        watchers = [Watcher(ws, resource) for ws in WORKSPACES for resource in RESOURCES]
        async with server.client() as http:
            opened = [asyncio.Event() for _ in watchers]
            following = [
                asyncio.create_task(w.follow(http, ev))
                for w, ev in zip(watchers, opened, strict=True)
            ]
            async with asyncio.timeout(10):
                for ev in opened:
                    await ev.wait()
            writers = [
                writer(http, owned[w], ledger, random.Random(rng.random())) for w in range(WRITERS)
            ]
            async with asyncio.timeout(60):
                await asyncio.gather(*writers)
                await asyncio.gather(*following)
        await server.wait_for_exit()
        acked_before, inflight = len(ledger.acked), len(ledger.inflight)
        restart = await server.start()
        async with server.client() as http:
            landed = await check_objects(http, ledger)
            # The first write after the restart comes after everything written before.
            stored = max(s.rv or 0 for s in ledger.state.values())
            probe = Key(WORKSPACES[0], "configmaps", f"probe-{round_no}")
            first = rv_of(await http.ok("POST", probe.collection, probe.body(0)))
            assert first > max(ledger.max_rv, stored), "resourceVersions went back"
            outcomes = []
            for w in watchers:
                marker = Key(w.ws, w.resource, f"marker-{round_no}")
                outcomes.append(await w.resume(http, ledger, marker))
        relisted += outcomes.count("relisted")
        report.append(
            f"  round {round_no}: SIGKILL after {kill_point} acked writes "
            f"({acked_before} acked in all, {inflight} in flight, {landed} of those landed), "
            f"{len(ledger.state)} objects checked, restart {restart:.2f}s, "
            f"watches {outcomes.count('resumed')} resumed / {outcomes.count('relisted')} "
            f"relisted ({sum(w.events for w in watchers)} events)"
        )
    with capsys.disabled():
        print("\n".join([*report, f"  first start {first_start:.2f}s"]))
    if server.history is not None:
        assert relisted > 0, "a 5-event history should have made some resumes answer 410"
