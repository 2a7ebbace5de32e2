"""Chaos harness: the seed scenario plus a seeded churn, run once fault-free and once under
injected faults and SIGKILLs, and the comparison of the states both runs converge to.

One run (`run_scenario`) starts, in this process, the kcp-compatible server and a simulated
edge cluster per SyncTarget; the four central controllers run as child processes
(`python -m edgemc.cmd NAME --kubeconfig espw.kubeconfig`) and each edge cluster's syncer runs
as a child process of its simulated node (`NodeSimOptions(component_processes=True)`), so a
SIGKILL is a real crash: the harness restarts a killed controller after a random delay, the
simulated kubelet restarts a killed syncer (CrashLoopBackOff, shortened). The run plays the
seed's Stages 1-5 through the API (SyncTargets and Locations as `ensure-location.sh` makes
them, `syncer-gen` as `mailbox-prep.sh` runs it, the syncer manifest applied to the edge
cluster, the Stage 2 objects of `test/controllers/seed_example.py`), then `rounds` churn steps
chosen by a `random.Random(seed)`: workload edits (the web page, replicas, the pod template,
ConfigMaps added and deleted), EdgePlacement selector changes, Location relabels, SyncTargets
added (with a new edge cluster and syncer) and removed (with their cluster). The churn's
choices depend only on the seed, never on what the system did, so both runs ask for the same
end state.

With `chaos=True` the servers inject faults (`ChaosConfig.kcp_faults`, `edge_faults`) and a
killer task SIGKILLs a controller or syncer that has got to work (see `ChaosConfig`) about
every second (of the kinds killed least so far, a random one), from the first step to the
last. Then faults stop, dead controllers are
restarted, and the clock of convergence starts. A run has converged when the `Model` (what
the churn asked for) holds on every edge cluster and in the workload workspaces, and the
normalized `Snapshot` of every object in the inventory, edge service provider, workload and
mailbox workspaces and on every edge cluster has stopped changing (fault-free run) or equals
the fault-free run's (`compare`). Equality of the full object sets means no duplicates, no
orphans and no lost updates.

The harness's own writes are a user's: an injected 429/500 is retried (`persist`), as one
re-runs a failed kubectl command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import difflib
import importlib.util
import json
import logging
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import yaml

from edgemc.apis import edge as edgeapi
from edgemc.apis.kcp import ensure_location_objects
from edgemc.controllers import resources as r
from edgemc.controllers.syncergen import EDGEMC_IMAGE, generate, syncer_id
from edgemc.embedded.apiserver.faults import FaultConfig, FaultCounts
from edgemc.embedded.apiserver.kcp import KcpServer, build_kcp_server
from edgemc.embedded.apiserver.server import ServerConfig
from edgemc.embedded.bootstrap import (
    create_objects,
    ensure_espw,
    ensure_workspace,
    workspace_kubeconfig,
)
from edgemc.embedded.edgecluster import EdgeCluster
from edgemc.embedded.env import CENTRAL_CONTROLLERS
from edgemc.embedded.nodesim import NodeSimOptions, RestartPolicy
from edgemc.runtime import (
    AlreadyExists,
    ApiError,
    Client,
    ClusterConfig,
    Forbidden,
    GroupVersionResource,
    NotFound,
    ServerError,
    TooManyRequests,
)
from edgemc.runtime import logging as klog
from edgemc.runtime.backoff import Backoff

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]
STATUS_SUMMARIES = r.edge_resource("statussummaries")
IMW = "root:imw-1"
ESPW = "root:espw"
MY_ORG = "root:my-org"
Obj = dict[str, Any]
T = TypeVar("T")


def _load_seed_example() -> Any:
    """test/controllers/seed_example.py, where the seed's Stage 2 texts live once."""
    spec = importlib.util.spec_from_file_location(
        "chaos_seed_example", REPO / "test" / "controllers" / "seed_example.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SEED = _load_seed_example()


@dataclass(frozen=True)
class Workload:
    """One of the seed's two workloads: its workspace, namespace, Deployment, placement."""

    kind: str  # "common" or "special", as in the seed's texts
    workspace: str
    namespace: str
    deployment: str
    placement: str
    text: str  # the seed's Stage 2 YAML of the namespace, ConfigMap and Deployment
    placement_text: str


WORKLOADS = (
    Workload(
        "common",
        f"{MY_ORG}:wmw-c",
        "commonstuff",
        "commond",
        "edge-placement-c",
        SEED.workload("common", 8081),
        SEED.EP_C,
    ),
    Workload(
        "special",
        f"{MY_ORG}:wmw-s",
        "specialstuff",
        "speciald",
        "edge-placement-s",
        SEED.workload("special", 8082),
        SEED.EP_S,
    ),
)
# The seed's SyncTargets and their Location labels (Stage 1).
SEED_CLUSTERS = {"florin": {"env": "prod"}, "guilder": {"env": "prod", "extended": "si"}}
# Location selectors a placement change picks from (one list = the EdgePlacement's ORed terms).
SELECTOR_CHOICES: tuple[tuple[dict[str, str], ...], ...] = (
    ({"env": "prod"},),
    ({"env": "prod", "extended": "si"},),
    ({"extended": "si"},),
    ({"extended": "si"}, {"env": "test"}),
    ({"env": "test"},),
)
# Churn steps and how often each is drawn.
STEP_WEIGHTS = {
    "page": 3,
    "replicas": 2,
    "template": 1,
    "configmap-add": 2,
    "configmap-delete": 1,
    "selector": 2,
    "relabel": 1,
    "add-cluster": 1,
    "remove-cluster": 1,
}
# The web page a "page" step writes (the seed's, with the step's number).
PAGE = "<!DOCTYPE html>\n<html>\n  <body>\n    This is a {kind} web site, edit {step}.\n  </body>\n</html>\n"  # noqa: E501


# The faults of the chaos, on every server: per-request fractions and per-event watch drops.
CHAOS_FAULTS = FaultConfig(drop_watch=0.05, gone=0.2, too_many_requests=0.03, internal_error=0.03)
SYNCER_RESTART = Backoff(initial=0.2, factor=2.0, cap=2.0, jitter=0.5)


@dataclass(frozen=True)
class ChaosConfig:
    """One chaos experiment; the defaults are the short version run by `make test`."""

    seed: int = 1
    # Edge clusters of the seed stage: florin and guilder, then c1, c2, ... (env=prod, every
    # other one extended=si).
    clusters: int = 2
    # Churn steps after the seed scenario (at least one SyncTarget added and one removed).
    rounds: int = 10
    # Pause between churn steps, drawn uniformly from this range (seconds; the churn's pace).
    pace: tuple[float, float] = (0.1, 0.5)
    # Faults while the chaos lasts, on the kcp server and on every edge cluster's server.
    kcp_faults: FaultConfig = CHAOS_FAULTS
    edge_faults: FaultConfig = CHAOS_FAULTS
    # Time between two SIGKILLs, and how long a killed central controller stays dead (s).
    kill_every: tuple[float, float] = (0.3, 1.5)
    down_for: tuple[float, float] = (0.1, 1.5)
    # A killed syncer is restarted by the simulated kubelet after this backoff.
    syncer_restart: Backoff = SYNCER_RESTART
    # Only a process that has started its work is killed: a controller once its /readyz says
    # its caches have synced, a syncer after this many seconds (a process killed before it
    # gets anywhere, again and again on a busy machine, would only test the machine).
    syncer_min_uptime: float = 2.0
    # Bounds on waits: one churn step's own wait (a new mailbox), and convergence.
    step_within: float = 60.0
    converge_within: float = 90.0
    # The fault-free run has converged when its snapshot stays the same this long.
    quiet: float = 2.0
    # Controllers' and syncers' -v.
    verbosity: int = 2


# -- the user's retries ------------------------------------------------------------------


async def persist(action: Callable[[], Awaitable[T]], what: str, within: float = 60.0) -> T:
    """`action()` until it is not refused by an (injected) 429, 5xx or broken connection,
    nor cut short by a wait inside it that timed out; for at most `within` seconds."""
    deadline = time.monotonic() + within
    attempt = 0
    while True:
        try:
            return await action()
        except (TooManyRequests, ServerError, TimeoutError) as err:
            failure: Exception = err
        except ApiError as err:
            if err.code != 0:
                raise
            failure = err
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: still failing after {within:.0f}s: {failure}")
        # The pause of a user retrying a command, not a synchronisation.
        await asyncio.sleep(min(1.0, 0.05 * 2**attempt))
        attempt += 1


async def wait_for(
    check: Callable[[], Awaitable[T | None]], what: str, within: float, period: float = 0.2
) -> T:
    """Poll `check` until it returns something other than None/False; that value."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not within {within:.0f}s: {what}")
        await asyncio.sleep(period)


async def _create(client: Client, gvr: GroupVersionResource, obj: Obj) -> None:
    namespace = obj["metadata"].get("namespace")
    with contextlib.suppress(AlreadyExists):  # a retried create may find its own object
        await client.create(gvr, obj, namespace=namespace)


async def _get(client: Client, gvr: GroupVersionResource, name: str, ns: str | None = None) -> Any:
    try:
        return await client.get(gvr, name, ns)
    except NotFound:
        return None


async def _delete(
    client: Client, gvr: GroupVersionResource, name: str, ns: str | None = None
) -> None:
    with contextlib.suppress(NotFound):
        await client.delete(gvr, name, ns)


# -- processes ---------------------------------------------------------------------------


class ControllerProcess:
    """A central controller as a child process that can be SIGKILLed and started again; it
    serves /readyz on `health_port`."""

    def __init__(self, name: str, argv: list[str], log_path: Path, health_port: int) -> None:
        self.name = name
        self.argv = [*argv, f"--health-addr=127.0.0.1:{health_port}"]
        self.log_path = log_path
        self.health_port = health_port
        self.proc: asyncio.subprocess.Process | None = None
        self._killed = False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and not self._killed

    async def ready(self) -> bool:
        """Whether it runs and its /readyz says its caches have synced."""
        if not self.running:
            return False
        url = f"http://127.0.0.1:{self.health_port}/readyz"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
                session.get(url) as response,
            ):
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def start(self) -> None:
        """Start the process unless it runs (after a kill, once the killed one is gone)."""
        if self.proc is not None:
            if self.running:
                return
            await self.proc.wait()
        self._killed = False
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "edgemc.cmd",
                self.name,
                *self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye."""
        if self.proc is not None and self.proc.returncode is None:
            self._killed = True
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        """SIGTERM, and SIGKILL if it does not stop within 10 s."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            async with asyncio.timeout(10):
                await self.proc.wait()
        except TimeoutError:
            await self.kill()


# -- the system under test ---------------------------------------------------------------


class System:
    """The kcp server and edge clusters in this process, the controllers as children."""

    def __init__(self, workdir: Path, config: ChaosConfig) -> None:
        self.workdir = workdir
        self.config = config
        self.kcp: KcpServer | None = None
        self.admin: Client | None = None
        self.edges: dict[str, EdgeCluster] = {}
        self.removed: list[EdgeCluster] = []
        self.controllers: dict[str, ControllerProcess] = {}
        self.faulty = False

    @property
    def client(self) -> Client:
        assert self.admin is not None, "system not started"
        return self.admin

    @property
    def server(self) -> KcpServer:
        assert self.kcp is not None, "system not started"
        return self.kcp

    async def start(self) -> None:
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self.kcp = build_kcp_server(ServerConfig(port=0, data_dir=self.workdir / "kcp"))
        await self.kcp.start()
        config = ClusterConfig.for_server(self.kcp.url, self.kcp.kcp_admin_token)
        config.ssl = self.kcp.client_ssl()
        self.admin = Client(config)
        espw = self.workdir / "espw.kubeconfig"
        _write_private_yaml(espw, workspace_kubeconfig(self.kcp.kubeconfig(), ESPW))
        for name in CENTRAL_CONTROLLERS:
            proc = ControllerProcess(
                name,
                [f"--kubeconfig={espw}", f"-v={self.config.verbosity}"],
                self.workdir / "logs" / f"{name}.log",
                _free_port(),
            )
            self.controllers[name] = proc
            await proc.start()

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.controllers.values()))
        for edge in self.edges.values():
            await edge.stop()
        if self.admin is not None:
            await self.admin.close()
        if self.kcp is not None:
            await self.kcp.stop()

    def set_faults(self, on: bool) -> None:
        """Switch the configured faults on or off on the kcp server and every edge cluster."""
        self.faulty = on
        self.server.faults.configure(self.config.kcp_faults if on else FaultConfig())
        for edge in self.edges.values():
            edge.set_faults(self.config.edge_faults if on else FaultConfig())

    async def add_edge(self, name: str) -> EdgeCluster:
        """`kind create cluster --name NAME` (no port mappings)."""
        edge = EdgeCluster(
            name,
            data_dir=self.workdir / "edge" / name,
            node_options=NodeSimOptions(
                component_processes=True,
                restart=RestartPolicy(backoff=self.config.syncer_restart, stop_timeout=10.0),
            ),
            faults=self.config.edge_faults if self.faulty else FaultConfig(),
        )
        await edge.start()
        self.edges[name] = edge
        return edge

    async def remove_edge(self, name: str) -> None:
        """`kind delete cluster --name NAME`."""
        edge = self.edges.pop(name)
        await edge.stop()
        self.removed.append(edge)

    async def victims(self, seen: dict[int, float], min_uptime: float) -> list[tuple[str, int]]:
        """(name, pid) of the controllers that are ready and of the syncers that have run for
        `min_uptime` seconds (`seen`: when each syncer pid was first seen, kept up to date)."""
        found = [
            (name, proc.proc.pid)
            for name, proc in self.controllers.items()
            if proc.proc is not None and await proc.ready()
        ]
        now = time.monotonic()
        for cluster, edge in self.edges.items():
            for container in edge.node.components() if edge.node else ():
                if container.pid is not None:
                    first = seen.setdefault(container.pid, now)
                    if now - first >= min_uptime:
                        found.append((f"syncer@{cluster}", container.pid))
        return found

    def fault_counts(self) -> dict[str, FaultCounts]:
        counts = {"kcp": self.server.faults.counts}
        for edge in (*self.edges.values(), *self.removed):
            counts[f"edge {edge.name}"] = edge.fault_counts
        return counts


@contextlib.contextmanager
def _logging_to(path: Path) -> Iterator[None]:
    """Log records of this process (servers, simulated nodes) to `path` as klog lines."""
    root = logging.getLogger()
    handler = logging.FileHandler(path)
    handler.setFormatter(klog.KlogFormatter())
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_private_yaml(path: Path, content: Obj) -> None:
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    os.chmod(path, 0o600)


# -- what the churn asks for -------------------------------------------------------------


@dataclass
class Model:
    """What the seed and the churn have asked for so far; the expected end state."""

    clusters: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> Location labels
    selectors: dict[str, tuple[dict[str, str], ...]] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)
    extra_configmaps: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> name->v
    added: int = 0

    def selected(self, workload: Workload) -> list[str]:
        """The live clusters whose Location one of the placement's selectors matches."""
        terms = self.selectors[workload.placement]
        return sorted(
            name
            for name, labels in self.clusters.items()
            if any(all(labels.get(k) == v for k, v in t.items()) for t in terms)
        )


def seed_model() -> Model:
    model = Model()
    for workload in WORKLOADS:
        ep = yaml.safe_load(workload.placement_text)
        terms = tuple(s["matchLabels"] for s in ep["spec"]["locationSelectors"])
        model.selectors[workload.placement] = terms
        html = next(d for d in yaml.safe_load_all(workload.text) if d["kind"] == "ConfigMap")
        model.pages[workload.kind] = html["data"]["index.html"]
        model.replicas[workload.kind] = 1
        model.extra_configmaps[workload.kind] = {}
    return model


async def model_holds(system: System, model: Model) -> str | None:
    """None when every edge cluster and workload workspace shows what `model` asks for;
    otherwise the first difference found."""
    for name, edge in system.edges.items():
        async with Client(edge.client_config()) as client:
            for workload in WORKLOADS:
                placed = name in model.selected(workload)
                ns = await persist(
                    lambda c=client, w=workload: _get(c, r.NAMESPACES, w.namespace), "edge get"
                )
                if ns is None:
                    if placed:
                        return f"{name}: namespace {workload.namespace} missing"
                    continue
                cms = await persist(
                    lambda c=client, w=workload: c.list(r.CONFIGMAPS, w.namespace), "edge list"
                )
                data = {
                    cm["metadata"]["name"]: cm.get("data") or {}
                    for cm in cms["items"]
                    if cm["metadata"]["name"] != "kube-root-ca.crt"
                }
                deploys = await persist(
                    lambda c=client, w=workload: c.list(r.DEPLOYMENTS, w.namespace), "edge list"
                )
                if not placed:
                    # The syncer keeps a namespace it made (it may hold edge-born objects).
                    if data or deploys["items"]:
                        return f"{name}: objects left in {workload.namespace}, not placed there"
                    continue
                wanted = {"httpd-htdocs": {"index.html": model.pages[workload.kind]}}
                for extra, value in model.extra_configmaps[workload.kind].items():
                    wanted[extra] = {"step": value}
                if data != wanted:
                    return f"{name}: ConfigMaps in {workload.namespace} are {sorted(data)}"
                deploy = next(iter(deploys["items"]), None)
                replicas = model.replicas[workload.kind]
                if (
                    len(deploys["items"]) != 1
                    or deploy is None
                    or deploy["metadata"]["name"] != workload.deployment
                    or deploy["spec"].get("replicas") != replicas
                ):
                    return f"{name}: {workload.deployment} missing or not {replicas} replicas"
                if (deploy.get("status") or {}).get("readyReplicas") != replicas:
                    return f"{name}: {workload.deployment} not {replicas} ready"
    for workload in WORKLOADS:
        selected = model.selected(workload)
        source = await persist(
            lambda w=workload: system.client.cluster(w.workspace).get(
                r.DEPLOYMENTS, w.deployment, w.namespace
            ),
            "wmw get",
        )
        ready = (source.get("status") or {}).get("readyReplicas", 0)
        wanted = model.replicas[workload.kind] * len(selected)
        if selected and ready != wanted:
            return f"{workload.workspace}: {workload.deployment} shows {ready} ready, not {wanted}"
        summaries = await persist(
            lambda w=workload: system.client.cluster(w.workspace).list(
                STATUS_SUMMARIES, w.namespace
            ),
            "wmw list",
        )
        for summary in summaries["items"] if selected else ():
            status = summary.get("status") or {}
            if status.get("destinations") != len(selected) or status.get("brokenCount") != 0:
                return f"{workload.workspace}: {summary['metadata']['name']} says {status}"
    return None


# -- the churn ---------------------------------------------------------------------------


class Churn:
    """The seed scenario and the seeded churn, played against a `System`."""

    def __init__(self, system: System, config: ChaosConfig) -> None:
        self.system = system
        self.config = config
        self.rng = random.Random(config.seed)
        self.model = seed_model()
        self.steps: list[str] = []

    async def play_seed(self) -> None:
        """Stages 1 and 2 of the seed, with `config.clusters` edge clusters (Stages 3 to 5
        are the controllers', which run from the start)."""
        admin = self.system.client
        await persist(lambda: ensure_workspace(admin, IMW), "workspace imw-1")
        await persist(lambda: ensure_espw(admin, ESPW), "the edge service provider workspace")
        for name, labels in list(SEED_CLUSTERS.items())[: self.config.clusters]:
            await self.add_cluster(name, labels)
        for number in range(1, self.config.clusters - len(SEED_CLUSTERS) + 1):
            self.model.added = number
            labels = {"env": "prod", **({"extended": "si"} if number % 2 else {})}
            await self.add_cluster(f"c{number}", labels)
        for workload in WORKLOADS:
            await self.create_workload(workload)

    async def create_workload(self, workload: Workload) -> None:
        admin = self.system.client
        await persist(lambda: ensure_workspace(admin, workload.workspace), workload.workspace)
        ws = admin.cluster(workload.workspace)
        for text, served in (
            (SEED.BIND_KUBE, r.DEPLOYMENTS),
            (workload.text, None),
            (SEED.BIND_ESPW, r.EDGE_PLACEMENTS),
            (workload.placement_text, None),
        ):
            objects = [o for o in yaml.safe_load_all(text) if o]
            await persist(
                lambda o=objects: create_objects(ws, o), f"objects in {workload.workspace}"
            )
            if served is not None:
                await wait_for(
                    lambda g=served: _serves(ws, g),
                    f"{served.resource} served in {workload.workspace}",
                    self.config.step_within,
                )

    async def add_cluster(self, name: str, labels: dict[str, str]) -> None:
        """`ensure-location.sh NAME LABELS...`, `mailbox-prep.sh NAME`, the edge cluster and
        `kubectl apply -f NAME-syncer.yaml` in it."""
        imw = self.system.client.cluster(IMW)
        target, location = ensure_location_objects(name, labels)
        for gvr, obj in ((r.SYNC_TARGETS, target), (r.LOCATIONS, location)):
            await persist(lambda g=gvr, o=obj: _create(imw, g, o), f"{gvr.resource} {name}")

        async def defaults_done() -> bool:
            export = await _get(imw, r.API_EXPORTS, "kubernetes")
            annotations = (export or {}).get("metadata", {}).get("annotations") or {}
            return annotations.get("workload.kcp.io/skip-default-object-creation") == "true"

        await wait_for(defaults_done, "kcp's default Location", self.config.step_within)
        await persist(lambda: _delete(imw, r.LOCATIONS, "default"), "delete Location default")
        self.model.clusters[name] = dict(labels)
        mailbox = await wait_for(
            lambda: _ready_mailbox(self.system.client, name),
            f"the mailbox of {name}",
            self.config.step_within,
        )
        kubeconfig = self.system.workdir / f"{name}-mailbox.kubeconfig"
        _write_private_yaml(
            kubeconfig, workspace_kubeconfig(self.system.server.kubeconfig(), f"{ESPW}:{mailbox}")
        )
        gen_args = argparse.Namespace(
            kubeconfig=str(kubeconfig), context=None, sync_target=name, syncer_image=EDGEMC_IMAGE
        )
        with contextlib.redirect_stdout(None):  # syncer-gen's messages to the user
            _, manifest = await persist(lambda: generate(gen_args), f"syncer-gen {name}")
        edge = await self.system.add_edge(name)
        async with Client(edge.client_config()) as client:
            await persist(lambda: create_objects(client, manifest), f"apply {name}-syncer.yaml")

    async def remove_cluster(self, name: str) -> None:
        """`remove-location.sh NAME`, then `kind delete cluster --name NAME`."""
        imw = self.system.client.cluster(IMW)
        await persist(lambda: _delete(imw, r.SYNC_TARGETS, name), f"delete SyncTarget {name}")
        await persist(lambda: _delete(imw, r.LOCATIONS, name), f"delete Location {name}")
        del self.model.clusters[name]
        await self.system.remove_edge(name)

    def plan(self) -> list[str]:
        """The churn steps: one SyncTarget added and one removed, the rest drawn by weight."""
        kinds, weights = zip(*STEP_WEIGHTS.items(), strict=True)
        steps = ["add-cluster", "remove-cluster"]
        steps += self.rng.choices(kinds, weights, k=max(0, self.config.rounds - 2))
        self.rng.shuffle(steps)
        return steps

    async def play_churn(self) -> None:
        for number, kind in enumerate(self.plan(), start=1):
            await self.step(number, kind)
            await asyncio.sleep(self.rng.uniform(*self.config.pace))  # the churn's pace

    async def step(self, number: int, kind: str) -> None:
        """One churn step; what it does depends only on the model and the random draws."""
        rng, model = self.rng, self.model
        workload = rng.choice(WORKLOADS)
        ws = self.system.client.cluster(workload.workspace)
        ns = workload.namespace
        if kind == "remove-cluster" and len(model.clusters) < 2:
            kind = "add-cluster"
        if kind == "configmap-delete" and not model.extra_configmaps[workload.kind]:
            kind = "configmap-add"
        if kind == "page":
            page = PAGE.format(kind=workload.kind, step=number)
            patch = {"data": {"index.html": page}}
            await persist(
                lambda: ws.patch(r.CONFIGMAPS, "httpd-htdocs", patch, ns), f"step {number}"
            )
            model.pages[workload.kind] = page
        elif kind == "replicas":
            replicas = rng.choice([n for n in (1, 2, 3) if n != model.replicas[workload.kind]])
            patch = {"spec": {"replicas": replicas}}
            await persist(
                lambda: ws.patch(r.DEPLOYMENTS, workload.deployment, patch, ns), f"step {number}"
            )
            model.replicas[workload.kind] = replicas
        elif kind == "template":
            patch = {
                "spec": {"template": {"metadata": {"annotations": {"chaos/step": str(number)}}}}
            }
            await persist(
                lambda: ws.patch(r.DEPLOYMENTS, workload.deployment, patch, ns), f"step {number}"
            )
        elif kind == "configmap-add":
            name = f"extra-{number}"
            obj = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": ns},
                "data": {"step": str(number)},
            }
            await persist(lambda: _create(ws, r.CONFIGMAPS, obj), f"step {number}")
            model.extra_configmaps[workload.kind][name] = str(number)
        elif kind == "configmap-delete":
            name = rng.choice(sorted(model.extra_configmaps[workload.kind]))
            await persist(lambda: _delete(ws, r.CONFIGMAPS, name, ns), f"step {number}")
            del model.extra_configmaps[workload.kind][name]
        elif kind == "selector":
            current = model.selectors[workload.placement]
            terms = rng.choice([c for c in SELECTOR_CHOICES if c != current])
            patch = {"spec": {"locationSelectors": [{"matchLabels": t} for t in terms]}}
            await persist(
                lambda: ws.patch(r.EDGE_PLACEMENTS, workload.placement, patch), f"step {number}"
            )
            model.selectors[workload.placement] = terms
        elif kind == "relabel":
            name = rng.choice(sorted(model.clusters))
            labels = model.clusters[name]
            value = None if labels.get("extended") == "si" else "si"
            imw = self.system.client.cluster(IMW)
            for gvr in (r.SYNC_TARGETS, r.LOCATIONS):
                patch = {"metadata": {"labels": {"extended": value}}}
                await persist(lambda g=gvr, p=patch: imw.patch(g, name, p), f"step {number}")
            if value is None:
                labels.pop("extended", None)
            else:
                labels["extended"] = value
        elif kind == "add-cluster":
            model.added += 1
            labels = {"env": "prod"}
            if rng.random() < 0.5:
                labels["extended"] = "si"
            name = f"c{model.added}"
            await self.add_cluster(name, labels)
        elif kind == "remove-cluster":
            await self.remove_cluster(rng.choice(sorted(model.clusters)))
        else:
            raise ValueError(f"unknown churn step {kind!r}")
        self.steps.append(kind)


async def _serves(ws: Client, gvr: GroupVersionResource) -> bool:
    try:
        await ws.list(gvr, limit=1)
    except NotFound:
        return False
    return True


async def _ready_mailbox(admin: Client, target: str) -> str | None:
    """The name of `target`'s mailbox workspace once it is Ready."""
    workspaces = await admin.cluster(ESPW).list(r.WORKSPACES)
    for ws in workspaces["items"]:
        annotations = ws["metadata"].get("annotations") or {}
        ready = (ws.get("status") or {}).get("phase") == "Ready"
        if annotations.get(edgeapi.ANNOTATION_SYNC_TARGET_NAME) == target and ready:
            return str(ws["metadata"]["name"])
    return None


# -- the chaos ---------------------------------------------------------------------------


class Killer:
    """SIGKILLs a controller or syncer every `kill_every`; restarts the controllers."""

    def __init__(self, system: System, config: ChaosConfig) -> None:
        self.system = system
        self.config = config
        self.rng = random.Random(config.seed + 1)
        self.kills: Counter[str] = Counter()
        self._seen: dict[int, float] = {}
        self._restarts: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop killing; start every dead controller now."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in self._restarts:
            task.cancel()
        await asyncio.gather(*self._restarts, return_exceptions=True)
        for proc in self.system.controllers.values():
            await proc.start()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.rng.uniform(*self.config.kill_every))  # the chaos' pace
            victims = await self.system.victims(self._seen, self.config.syncer_min_uptime)
            if not victims:
                continue
            # Of the kinds (controllers, "syncer") killed least so far, a random victim: every
            # kind is killed, at random moments.
            kinds = {name.split("@")[0] for name, _ in victims}
            fewest = min(self.kills[kind] for kind in kinds)
            name, pid = self.rng.choice(
                [(n, p) for n, p in victims if self.kills[n.split("@")[0]] == fewest]
            )
            self.kills[name.split("@")[0]] += 1
            log.info("chaos: SIGKILL %s (pid %d)", name, pid)
            proc = self.system.controllers.get(name)
            if proc is None:  # a syncer: its simulated kubelet restarts it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                continue
            await proc.kill()
            task = asyncio.create_task(self._restart(proc))
            self._restarts.add(task)
            task.add_done_callback(self._restarts.discard)

    async def _restart(self, proc: ControllerProcess) -> None:
        await asyncio.sleep(self.rng.uniform(*self.config.down_for))  # how long it stays dead
        await proc.start()
        log.info("chaos: restarted %s (pid %d)", proc.name, proc.proc.pid if proc.proc else 0)


# -- snapshots ---------------------------------------------------------------------------

# Resources left out of snapshots: what the simulated node derives (pods, ReplicaSets, whose
# old generations a level-based sync may legitimately skip), and records of activity rather
# than of state (events, leases, node heartbeats).
SKIPPED_RESOURCES = frozenset(
    {
        ("", "pods"),
        ("apps", "replicasets"),
        ("", "events"),
        ("events.k8s.io", "events"),
        ("coordination.k8s.io", "leases"),
        ("", "nodes"),
    }
)
# Metadata that differs between any two runs, or counts writes (generation: a level-based
# sync that coalesces edits makes fewer of them).
DROPPED_METADATA = ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation")
# Counts Deployment templates applied; coalesced template edits legitimately make fewer.
DROPPED_ANNOTATIONS = ("deployment.kubernetes.io/revision",)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_IDENTITY_HASH = re.compile(r"\b[0-9a-f]{64}\b")  # APIExport identities: random per server
# A ReplicaSet named in a Deployment's conditions: its suffix hashes the pod template, which
# holds run-specific names (the syncer's identity) in the syncer's own Deployment.
_REPLICASET = re.compile(r'(ReplicaSet "[^"]+)-[0-9a-z]{1,10}"')
_SUFFIX = re.compile(r"^[0-9a-z]{1,5}$")  # what the server appends to a generated name


@dataclass
class Snapshot:
    """Every object of the system, normalized, by `place|group/resource|namespace/name`."""

    objects: dict[str, Obj] = field(default_factory=dict)
    # Keys that more than one object normalized to (two mailboxes of one SyncTarget, ...).
    duplicates: list[str] = field(default_factory=list)

    def add(self, key: str, obj: Obj) -> None:
        if key in self.objects:
            self.duplicates.append(key)
        self.objects[key] = obj


class Normalizer:
    """Replaces what differs between runs (see the module constants) by stable names."""

    def __init__(self, replacements: dict[str, str]) -> None:
        # Longest first, so a mailbox name is replaced before the cluster name it contains.
        self.replacements = sorted(replacements.items(), key=lambda kv: -len(kv[0]))

    def text(self, value: str) -> str:
        if _TIMESTAMP.match(value):
            return "<time>"
        for old, new in self.replacements:
            if old in value:
                value = value.replace(old, new)
        value = _UUID.sub("<uid>", value)
        value = _REPLICASET.sub(r'\1-<template hash>"', value)
        return _IDENTITY_HASH.sub("<identity>", value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {
                self.text(k): self.value(v) for k, v in value.items() if k != "observedGeneration"
            }
        return value

    def object(self, obj: Obj) -> Obj:
        obj = dict(obj)
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in DROPPED_METADATA}
        for kind in ("labels", "annotations"):
            # kcp's internal.* labels and annotations hash random identities (cluster names,
            # export identities) and differ in every run.
            values = {
                k: "<internal>" if k.startswith("internal.") else v
                for k, v in (meta.get(kind) or {}).items()
                if k not in DROPPED_ANNOTATIONS
            }
            if values:
                meta[kind] = values
            else:
                meta.pop(kind, None)
        obj["metadata"] = meta
        if obj.get("kind") == "Secret" and (
            obj.get("type") == "kubernetes.io/service-account-token"
            or str(meta.get("name", "")).startswith("kcp-edge-syncer-")
            or meta.get("namespace") == "kcp-system"  # APIExport identity keys
        ):
            obj["data"] = "<credentials>"  # tokens, keys and kubeconfigs are new in every run
        if obj.get("kind") == "ConfigMap" and meta.get("name") == "kube-root-ca.crt":
            obj["data"] = "<ca>"  # each server has its own CA
        return self.value(obj)


async def _places(system: System) -> tuple[dict[str, Client], dict[str, str]]:
    """The places to snapshot (name -> client) and the run-specific names to replace."""
    admin = system.client
    replacements = {system.server.url: "<kcp>"}
    places: dict[str, Client] = {}
    for parent in ("root", MY_ORG, ESPW):
        listing = await persist(lambda p=parent: admin.cluster(p).list(r.WORKSPACES), "list ws")
        for ws in listing["items"]:
            name = ws["metadata"]["name"]
            target = (ws["metadata"].get("annotations") or {}).get(
                edgeapi.ANNOTATION_SYNC_TARGET_NAME
            )
            path = f"{parent}:{name}"
            place = f"mailbox {target}" if target else path
            cluster = (ws.get("spec") or {}).get("cluster")
            if cluster:
                replacements[cluster] = f"<{place}>"
            if target:
                replacements[name] = f"<mailbox {target}>"
            if target or path in (IMW, ESPW) or parent == MY_ORG:
                places[place] = admin.cluster(path)
    targets = await persist(lambda: admin.cluster(IMW).list(r.SYNC_TARGETS), "list targets")
    for target in targets["items"]:
        name, uid = target["metadata"]["name"], target["metadata"]["uid"]
        ident = syncer_id(name, uid)
        replacements[ident] = f"kcp-edge-syncer-{name}-<id>"
        replacements[ident.replace("-syncer-", "-dns-", 1)] = f"kcp-edge-dns-{name}-<id>"
    for name, edge in system.edges.items():
        replacements[edge.url] = f"<edge {name}>"
        places[f"edge {name}"] = Client(edge.client_config())
    return places, replacements


async def _list_place(client: Client) -> list[tuple[str, Obj]]:
    """(group/resource, object) of every listable resource where `client` points."""
    found: list[tuple[str, Obj]] = []
    groups = await persist(client.server_groups, "discovery")
    for group in groups["groups"]:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        if not preferred:
            continue
        resources = await persist(lambda gv=preferred: client.server_resources(gv), "discovery")
        for res in resources.get("resources") or ():
            name = res["name"]
            if "/" in name or "list" not in (res.get("verbs") or ()):
                continue
            if (group["name"], name) in SKIPPED_RESOURCES:
                continue
            gvr = GroupVersionResource.parse(f"{preferred}/{name}")
            listing = await persist(lambda g=gvr: client.list(g), f"list {name}")
            for obj in listing.get("items") or ():
                found.append((f"{group['name']}/{name}", obj))
    return found


def _automatic(resource: str, obj: Obj) -> bool:
    """Whether the server puts `obj` in every namespace by itself."""
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if resource == "/secrets" and obj.get("type") == "kubernetes.io/service-account-token":
        return (meta.get("annotations") or {}).get("kubernetes.io/service-account.name") == (
            "default"
        )
    return (resource, name) in (
        ("/configmaps", "kube-root-ca.crt"),
        ("/serviceaccounts", "default"),
    )


def _made_by_edgemc(namespace: Obj) -> bool:
    """A Namespace the translator made in a mailbox or the syncer in an edge cluster."""
    meta = namespace.get("metadata") or {}
    return (meta.get("labels") or {}).get(edgeapi.LABEL_PROJECTED) == edgeapi.PROJECTED_VALUE or (
        meta.get("annotations") or {}
    ).get(edgeapi.ANNOTATION_DOWNSYNCED) == "true"


def _without_kept_namespaces(objects: list[tuple[str, Obj]]) -> list[tuple[str, Obj]]:
    """`objects` of a mailbox or edge cluster without the namespaces that the translator or
    the syncer made and keeps after their placement went away (neither deletes a namespace,
    which may hold edge-born objects), when they hold nothing but what the server puts in
    every namespace. Whether such an empty namespace exists depends on which placements were
    seen on the way, not on the end state: a run that coalesced a brief placement never
    made it."""
    occupied = {
        (obj.get("metadata") or {}).get("namespace")
        for resource, obj in objects
        if not _automatic(resource, obj)
    }
    kept = {
        obj["metadata"]["name"]
        for resource, obj in objects
        if resource == "/namespaces"
        and _made_by_edgemc(obj)
        and obj["metadata"]["name"] not in occupied
    }
    return [
        (resource, obj)
        for resource, obj in objects
        if (obj.get("metadata") or {}).get("namespace") not in kept
        and not (resource == "/namespaces" and obj["metadata"]["name"] in kept)
    ]


def _random_name_prefix(obj: Obj) -> str | None:
    """The fixed part of a name the server made with a random suffix (generateName, token
    Secrets `<account>-token-xxxxx`, kcp's system APIBindings `<export>-xxxxx`), else None."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    candidates = [meta.get("generateName")]
    if obj.get("type") == "kubernetes.io/service-account-token":
        account = (meta.get("annotations") or {}).get("kubernetes.io/service-account.name")
        candidates.append(f"{account}-token-")
    if obj.get("kind") == "APIBinding":
        export = ((obj.get("spec") or {}).get("reference") or {}).get("export") or {}
        candidates.append(f"{export.get('name')}-")
    for prefix in candidates:
        if prefix and name.startswith(prefix) and _SUFFIX.match(name[len(prefix) :]):
            return str(prefix)
    return None


async def take_snapshot(system: System) -> Snapshot:
    places, replacements = await _places(system)
    snapshot = Snapshot()
    try:
        listings = await asyncio.gather(*(_list_place(c) for c in places.values()))
        for objects in listings:
            for _, obj in objects:
                prefix = _random_name_prefix(obj)
                if prefix is not None:
                    replacements[obj["metadata"]["name"]] = f"{prefix}<random>"
        normalizer = Normalizer(replacements)
        for place, objects in zip(places, listings, strict=True):
            if place.startswith(("edge ", "mailbox ")):
                objects = _without_kept_namespaces(objects)
            for resource, obj in objects:
                meta = obj.get("metadata") or {}
                key = normalizer.text(
                    f"{place}|{resource}|{meta.get('namespace', '')}/{meta.get('name', '')}"
                )
                snapshot.add(key, normalizer.object(obj))
    finally:
        for place, client in places.items():
            if place.startswith("edge "):
                await client.close()
    return snapshot


def compare(expected: Snapshot, actual: Snapshot, limit: int = 5) -> list[str]:
    """The differences between two snapshots, as readable lines (empty when equal)."""
    lines = [f"duplicate: {key}" for key in actual.duplicates]
    lines += [f"missing: {k}" for k in sorted(expected.objects.keys() - actual.objects.keys())]
    lines += [f"orphan: {k}" for k in sorted(actual.objects.keys() - expected.objects.keys())]
    for key in sorted(expected.objects.keys() & actual.objects.keys()):
        if expected.objects[key] != actual.objects[key]:
            want = json.dumps(expected.objects[key], indent=1, sort_keys=True).splitlines()
            got = json.dumps(actual.objects[key], indent=1, sort_keys=True).splitlines()
            diff = difflib.unified_diff(want, got, "fault-free", "chaos", n=1, lineterm="")
            lines.append(f"differs: {key}\n" + "\n".join(list(diff)[2:40]))
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


# -- one run -----------------------------------------------------------------------------


@dataclass
class RunReport:
    """What one run did and where it ended."""

    chaos: bool
    snapshot: Snapshot
    steps: list[str]
    kills: Counter[str]
    faults: dict[str, FaultCounts]
    # Seconds spent starting, playing the seed, churning and converging.
    phases: dict[str, float]
    # With a reference: what differed from it last, before the run converged.
    last_difference: str = ""

    @property
    def converged_after(self) -> float:
        """Seconds from the end of the churn (and of all faults and kills) to convergence."""
        return self.phases["converge"]

    def fault_totals(self) -> dict[str, int]:
        """Faults injected by all servers together, by kind."""
        totals: Counter[str] = Counter()
        for counts in self.faults.values():
            for key, value in dataclasses.asdict(counts).items():
                if key != "requests" and value:
                    totals[key] += value
        return dict(totals)


async def run_scenario(
    workdir: Path, config: ChaosConfig, *, chaos: bool, reference: Snapshot | None = None
) -> RunReport:
    """One run in `workdir`: the seed, the churn (under chaos if asked), then convergence.

    Without `reference` the run has converged when its model holds and its snapshot stays
    unchanged for `config.quiet` seconds; with it, when its model holds and its snapshot
    equals `reference`. A TimeoutError says what did not converge. Logs: `workdir/logs/`.
    """
    system = System(workdir, config)
    killer = Killer(system, config)
    churn = Churn(system, config)
    phases: dict[str, float] = {}
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    with _logging_to(workdir / "logs" / "harness.log"):
        began = time.monotonic()
        await system.start()
        try:
            phases["start"] = time.monotonic() - began
            if chaos:
                system.set_faults(True)
                killer.start()
            try:
                began = time.monotonic()
                await churn.play_seed()
                phases["seed"] = time.monotonic() - began
                began = time.monotonic()
                await churn.play_churn()
                phases["churn"] = time.monotonic() - began
            finally:
                if chaos:
                    await killer.stop()
                    system.set_faults(False)
            began = time.monotonic()
            snapshot, last = await _converge(system, churn.model, config, reference)
            phases["converge"] = time.monotonic() - began
            faults = {k: dataclasses.replace(v) for k, v in system.fault_counts().items()}
        finally:
            await system.stop()
    return RunReport(chaos, snapshot, churn.steps, killer.kills, faults, phases, last)


async def _converge(
    system: System, model: Model, config: ChaosConfig, reference: Snapshot | None
) -> tuple[Snapshot, str]:
    """The converged snapshot, and the last difference from `reference` seen on the way."""
    deadline = time.monotonic() + config.converge_within
    last = ""
    while (problem := await model_holds(system, model)) is not None:
        last = problem
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the model does not hold: {problem}")
        await asyncio.sleep(0.2)  # polling the API, as `kubectl get` in a loop would
    previous: Snapshot | None = None
    since = time.monotonic()
    while True:
        try:
            snapshot = await take_snapshot(system)
        except (Forbidden, NotFound) as err:
            # A mailbox workspace listed a moment ago was deleted (its SyncTarget went away
            # in the churn) before it was read: not settled yet, look again.
            last = f"a place vanished while it was read: {err}"
            if time.monotonic() >= deadline:
                raise TimeoutError(f"not converged: {last}") from err
            previous = None
            await asyncio.sleep(0.2)  # polling the API, as `kubectl get` in a loop would
            continue
        now = time.monotonic()
        if reference is not None:
            differences = compare(reference, snapshot)
            if not differences:
                return snapshot, last
            last = differences[0]
            if now >= deadline:
                raise TimeoutError("not converged:\n" + "\n".join(differences))
        elif previous is not None and snapshot.objects == previous.objects:
            if now - since >= config.quiet:
                return snapshot, last
        else:
            previous, since = snapshot, now
        if now >= deadline:
            raise TimeoutError(f"the fault-free run did not settle in {config.converge_within}s")
        await asyncio.sleep(0.2)  # polling the API, as `kubectl get` in a loop would


# -- the experiment ----------------------------------------------------------------------


@dataclass
class ChaosResult:
    """A fault-free run and a chaos run of the same seeded churn."""

    config: ChaosConfig
    reference: RunReport
    chaos: RunReport

    @property
    def objects_compared(self) -> int:
        return len(self.reference.snapshot.objects)

    def figures(self) -> list[str]:
        """The experiment's figures, one per line."""
        ref, run = self.reference, self.chaos
        places = Counter(key.split("|", 1)[0].split(" ", 1)[0] for key in ref.snapshot.objects)
        requests = sum(c.requests for c in run.faults.values())
        totals = run.fault_totals()
        kills = ", ".join(f"{k}={v}" for k, v in sorted(run.kills.items()))
        slowest = run.last_difference.splitlines()[0] if run.last_difference else "-"
        return [
            f"seed {self.config.seed}: {self.config.clusters} edge clusters, "
            f"{len(run.steps)} churn steps ({', '.join(run.steps)})",
            f"objects compared: {self.objects_compared} "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(places.items()))}); "
            f"duplicates: {len(run.snapshot.duplicates)}",
            "faults injected: "
            + ", ".join(f"{k}={v}" for k, v in sorted(totals.items()))
            + f" (in {requests} requests)",
            f"SIGKILLs (each followed by a restart): {kills} ({sum(run.kills.values())} in all)",
            f"convergence after the last fault: {run.converged_after:.1f}s "
            f"(fault-free run after its churn: {ref.converged_after:.1f}s)",
            f"last to converge: {slowest}",
            "phases, fault-free / chaos: "
            + ", ".join(
                f"{k} {ref.phases.get(k, 0):.1f}s / {run.phases.get(k, 0):.1f}s" for k in run.phases
            ),
        ]


async def run_comparison(workdir: Path, config: ChaosConfig) -> ChaosResult:
    """The seeded churn fault-free (`workdir/fault-free`), then under chaos
    (`workdir/chaos`) until it converges to the fault-free run's state."""
    reference = await run_scenario(workdir / "fault-free", config, chaos=False)
    chaos = await run_scenario(workdir / "chaos", config, chaos=True, reference=reference.snapshot)
    return ChaosResult(config, reference, chaos)
