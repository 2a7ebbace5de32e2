"""Bad input (issue #11): generated EdgePlacements, SyncerConfigs, Customizers and workload
objects sent through the API, first to the server alone, then to the running controllers.

Phase 1 (`test_server_answers_bad_input`): every object is POSTed to a workload workspace
that binds the edge API and root:compute's `kubernetes` export. The server answers 201, or
422 Invalid whose `details.causes` name each field the oracle of `bad_input_cases` knows to
be invalid; never a 5xx, never a hang, and never a 422 for an object real kcp accepts. The
hypothesis sweep runs against a server on its own event loop thread, so that hypothesis can
drive (and shrink) plain synchronous examples; fixed nasty cases (oversized bodies, deep
nesting, broken JSON) follow.

Phase 2 (`test_controllers_survive_bad_input`): with the mailbox controller, scheduler,
placement translator and status summarizer running, and a syncer serving florin's mailbox
on a plain API server as edge cluster, fixed unusable objects and seeded hypothesis objects
are created next to a good EdgePlacement and its workload (bad SyncerConfigs go into the
mailbox, and `the-one` is overwritten with nonsense). The good workload still reaches the
mailbox and the edge, `the-one` is put right, a placement made after the bad input is
served, no controller keeps failing, and each accepted-but-unusable object is reported: an
EdgePlacement with an invalid selector (location, namespace or object selector) by its
`Ready` condition (reason `InvalidSelector`, the parse error in a bounded message); a
Customizer that cannot be applied, a workload object naming a missing Customizer or whose
copy the mailbox refuses, and an EdgePlacement naming resources that are never propagated,
by a Warning Event whose involvedObject is that object.

The last tests pin the pure parts of the fixes and two server rules found on the way
(Warning headers bounded as kube-apiserver bounds them; ConfigMap key and size rules).
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import threading
from collections import Counter
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
import yaml
from bad_input_cases import (
    Drawn,
    Nasty,
    config_maps,
    covered,
    customizers,
    deployment_body,
    deployments,
    edge_placements,
    metadata_defects,
    nasty_cases,
    syncer_configs,
)
from edgeenv import ESPW, EdgeEnv, create_object, wait_for
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from seed_example import BIND_ESPW, BIND_KUBE

from edgemc.apis.meta import Selector, SelectorError, selector_from_label_selector
from edgemc.cmd.components import find
from edgemc.controllers import resources as r
from edgemc.controllers.app import running
from edgemc.controllers.placement.customize import CustomizationError, customize
from edgemc.controllers.scheduling import REASON_INVALID_SELECTOR, resolve
from edgemc.controllers.syncer.app import APP as SYNCER
from edgemc.controllers.syncer.config import merge_configs
from edgemc.embedded.apiserver.server import ApiServer, ServerConfig
from edgemc.runtime import (
    ApiError,
    Client,
    ClusterConfig,
    GroupVersionResource,
    Manager,
    NotFound,
    metrics,
)

T = TypeVar("T")
Obj = dict[str, Any]
WMW = "root:my-org:wmw-bad"
NS = "odd"
# No request may take longer than this (a hang is a failure, not a slow answer).
ANSWER_WITHIN = 20.0
# kube-apiserver's limit on request bodies; a larger one is refused with 413.
MAX_BODY = 3 * 1024 * 1024


class Tally:
    """Figures printed at the end of each phase."""

    def __init__(self) -> None:
        self.codes: Counter[tuple[str, int]] = Counter()
        self.fields: Counter[str] = Counter()

    def add(self, kind: str, code: int, causes: list[Obj]) -> None:
        self.codes[(kind, code)] += 1
        for cause in causes:
            self.fields[_shape(cause.get("field", ""))] += 1

    def lines(self) -> list[str]:
        total = sum(self.codes.values())
        accepted = sum(n for (_, code), n in self.codes.items() if code == 201)
        out = [f"{total} objects sent, {accepted} accepted, {total - accepted} rejected"]
        for (kind, code), n in sorted(self.codes.items()):
            out.append(f"  {kind:<14} {code}: {n}")
        top = ", ".join(f"{f} x{n}" for f, n in self.fields.most_common(8))
        out.append(f"  most named fields: {top}")
        return out


def _shape(field: str) -> str:
    """A cause field without list indexes and map keys (`a[3].b[k]` -> `a[].b[]`)."""
    out, depth = [], 0
    for ch in field:
        if ch == "[":
            depth += 1
            if depth == 1:
                out.append("[]")
        elif ch == "]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


async def prepare_workload_workspace(env: EdgeEnv, path: str = WMW) -> Client:
    """A workload workspace binding the edge API and root:compute's kubernetes export, with
    namespace NS; returns its admin client once both bindings serve."""
    await env.install_edge_api()
    await env.create_workspace(path)
    client = env.ws(path)
    for text in (BIND_ESPW, BIND_KUBE):
        await create_object(client, yaml.safe_load(text))

    async def served() -> bool:
        try:
            await client.list(r.EDGE_PLACEMENTS)
            await client.list(r.DEPLOYMENTS)
        except NotFound:
            return False
        return True

    await wait_for(served, 20, "the edge API and Deployments served")
    await create_object(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    return client


async def post(client: Client, resource: GroupVersionResource, obj: Obj) -> tuple[int, Obj]:
    """POST `obj`; (201, created object) or (error code, Status). Fails on a hang."""
    namespace = (obj.get("metadata") or {}).get("namespace")
    try:
        async with asyncio.timeout(ANSWER_WITHIN):
            return 201, await client.create(resource, obj, namespace)
    except TimeoutError:
        raise AssertionError(f"no answer within {ANSWER_WITHIN}s to {str(obj)[:300]}") from None
    except ApiError as err:
        return err.code, {**err.status, "details": err.details}


async def post_raw(client: Client, resource: GroupVersionResource, body: bytes) -> tuple[int, Obj]:
    """POST the raw `body` (cluster-scoped `resource`); like `post`."""
    try:
        async with asyncio.timeout(ANSWER_WITHIN):
            await client.request("POST", resource.path(None), data=body)
            return 201, {}
    except TimeoutError:
        raise AssertionError(f"no answer within {ANSWER_WITHIN}s to {body[:300]!r}") from None
    except ApiError as err:
        return err.code, {**err.status, "details": err.details}


def causes_of(status: Obj) -> list[Obj]:
    return list((status.get("details") or {}).get("causes") or [])


def check_answer(drawn: Drawn, code: int, status: Obj) -> None:
    """The phase 1 oracle (see the module docstring)."""
    defects = drawn.defects | metadata_defects(drawn.obj.get("metadata") or {})
    shown = str(drawn.obj)[:600]
    if len(orjson.dumps(drawn.obj)) > MAX_BODY:
        assert code == 413, f"a body over {MAX_BODY} bytes answered {code}: {shown}"
        return
    if code == 201:
        assert not defects, f"accepted although {sorted(defects)} are invalid: {shown}"
        return
    assert code == 422, f"answered {code} {status.get('message', '')[:300]}: {shown}"
    causes = causes_of(status)
    assert causes, f"422 without causes: {status}"
    fields = [c.get("field", "") for c in causes]
    assert all(fields) and all(c.get("message") for c in causes), f"bad causes {causes}"
    missing = [d for d in sorted(defects) if not covered(d, fields)]
    assert not missing, f"causes {fields} do not name {missing}: {shown}"
    assert defects or drawn.uncertain, f"rejected what kcp accepts ({fields}): {shown}"


class ServerThread:
    """An `EdgeEnv` on its own event loop thread, driven by synchronous code (hypothesis)."""

    def __init__(self, directory: Path) -> None:
        self.env = EdgeEnv(directory)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bad-input-server")

    def call(self, coro: Coroutine[Any, Any, T], within: float = 120.0) -> T:
        """Run `coro` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(within)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        self.call(self.env.start())
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self.call(self.env.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.close()


ANY_OBJECT = st.one_of(
    edge_placements(),
    syncer_configs(),
    customizers(namespace=NS),
    config_maps(namespace=NS, customizers=("c-1", "c-2")),
    deployments(namespace=NS, customizers=("c-1",)),
)


def test_server_answers_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tally = Tally()
    names = itertools.count()
    with ServerThread(tmp_path) as server:
        client = server.call(prepare_workload_workspace(server.env))

        @settings(
            max_examples=300,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(drawn=ANY_OBJECT)
        def answers(drawn: Drawn) -> None:
            meta = drawn.obj["metadata"]
            meta["name"] = f"h{next(names)}-{meta['name']}"  # unique; same validity class
            code, status = server.call(post(client, drawn.resource, drawn.obj))
            tally.add(drawn.kind, code, causes_of(status))
            check_answer(drawn, code, status)

        answers()
        for case in nasty_cases(NS):
            code, status = server.call(send_nasty(client, case))
            tally.add(f"fixed:{case.resource.resource}", code, causes_of(status))
            assert code in case.codes, f"{case.note}: {code} {status.get('message', '')[:300]}"
            fields = [c.get("field", "") for c in causes_of(status)]
            missing = [f for f in case.fields if not covered(f, fields)]
            assert not missing, f"{case.note}: causes {fields} do not name {missing}"
    with capsys.disabled():
        print("\nphase 1 (server):", *tally.lines(), sep="\n")


async def test_many_unknown_fields_answer_is_readable(env: EdgeEnv) -> None:
    client = await prepare_workload_workspace(env)
    selectors = [{"matchLabels": {"a": "b"}, "foo": 1}] * 500
    code, status = await post(
        client, r.EDGE_PLACEMENTS, placement("many-unknown", locationSelectors=selectors)
    )
    assert code == 201, status.get("message")


@pytest.mark.parametrize(
    ("data", "field"),
    # upstream names the whole object ("") when a ConfigMap is too big
    [({"not a key": "v"}, "data[not a key]"), ({"big": "x" * (1024 * 1024 + 1)}, "")],
    ids=["config-key", "over-1MiB"],
)
async def test_config_map_data_rules(env: EdgeEnv, data: dict[str, str], field: str) -> None:
    client = await prepare_workload_workspace(env)
    obj = {**config_map("cm"), "metadata": {"name": "cm", "namespace": NS}, "data": data}
    code, status = await post(client, r.CONFIGMAPS, obj)
    assert code == 422 and covered(field, [c.get("field", "") for c in causes_of(status)])


async def send_nasty(client: Client, case: Nasty) -> tuple[int, Obj]:
    if case.raw is not None:
        return await post_raw(client, case.resource, case.raw)
    assert case.obj is not None
    return await post(client, case.resource, case.obj)


# -- phase 2: the controllers ---------------------------------------------------------------

IMW = "root:imw-bad"
GOOD_NS = "good"
# How many objects of each kind phase 2 draws, and from which seed (the same every run).
SWEEP = {
    "placements": 30,
    "customizers": 10,
    "configmaps": 15,
    "deployments": 8,
    "syncerconfigs": 10,
}
SEED = 1
CENTRAL = ("mailbox-controller", "scheduler", "placement-translator", "status-summarizer")


def draw_examples(strategy: st.SearchStrategy[Drawn], count: int, seed_value: int) -> list[Drawn]:
    """`count` examples of `strategy`, the same ones on every run (no shrinking here: a
    failure names the object it is about)."""
    found: list[Drawn] = []

    @seed(seed_value)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(drawn: Drawn) -> None:
        found.append(drawn)

    collect()
    return found


def customizer(name: str, path: str, value: str) -> Obj:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "Customizer",
        "metadata": {"name": name, "namespace": GOOD_NS},
        "replacements": [{"path": path, "value": value}],
    }


def config_map(name: str, namespace: str = GOOD_NS, customizer: str | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace}
    if customizer is not None:
        meta["annotations"] = {"edge.kcp.io/customizer": customizer}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def placement(name: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "EdgePlacement",
        "metadata": {"name": name},
        "spec": spec,
    }


PROD = [{"matchLabels": {"env": "prod"}}]
# The seed's way to give a mailbox the kube kinds: the workload workspace's bind-kube.
BIND_KUBE_REF = [
    {"apiGroup": "apis.kcp.io", "resources": ["apibindings"], "resourceNames": ["bind-kube"]}
]
NOTHING = {"matchLabels": {"selects": "nothing"}}
# Accepted by the server, unusable by the controllers: (object, reason expected).
UNUSABLE: list[tuple[GroupVersionResource, Obj, str]] = [
    (
        r.EDGE_PLACEMENTS,
        placement(
            "bad-operator",
            locationSelectors=[{"matchExpressions": [{"key": "env", "operator": "Near"}]}],
        ),
        "InvalidSelector",
    ),
    (
        r.EDGE_PLACEMENTS,
        placement(
            "bad-namespace-selector",
            locationSelectors=PROD,
            namespaceSelector={"matchExpressions": [{"key": "not a key!", "operator": "Exists"}]},
        ),
        "InvalidSelector",
    ),
    (
        r.EDGE_PLACEMENTS,
        placement(
            "bad-object-selector",
            locationSelectors=PROD,
            namespaceSelector=NOTHING,
            nonNamespacedObjects=[
                {
                    "apiGroup": "apis.kcp.io",
                    "resources": ["apibindings"],
                    "labelSelectors": [
                        {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["x"]}]}
                    ],
                }
            ],
        ),
        "InvalidSelector",
    ),
    (
        r.EDGE_PLACEMENTS,
        placement(
            "bad-huge",
            locationSelectors=[{"matchLabels": {f"k {i}": "v"}} for i in range(20_000)],
        ),
        "InvalidSelector",
    ),
    (
        r.EDGE_PLACEMENTS,
        placement(
            "bad-unsupported",
            locationSelectors=PROD,
            namespaceSelector=NOTHING,
            nonNamespacedObjects=[
                {
                    "apiGroup": "apiregistration.k8s.io",
                    "resources": ["apiservices"],
                    "resourceNames": ["*"],
                }
            ],
        ),
        "UnsupportedResource",
    ),
    (r.CUSTOMIZERS, customizer("c-deep", "$" + ".a" * 300, '"x"'), "CustomizationFailed"),
    (r.CUSTOMIZERS, customizer("c-rename", "$.metadata.name", '"other"'), "CustomizationFailed"),
    (r.CUSTOMIZERS, customizer("c-root", "$", "3"), "CustomizationFailed"),
    (r.CUSTOMIZERS, customizer("c-not-json", "$.data.x", "{"), "CustomizationFailed"),
    (
        r.CUSTOMIZERS,
        customizer("c-deep-value", "$.data.x", "[" * 5000 + "]" * 5000),
        "CustomizationFailed",
    ),
    (r.CUSTOMIZERS, customizer("c-typed", "$.data.x", "5"), ""),
    # Sorted before the good ConfigMap, so a wedged projection would hold it back.
    (r.CONFIGMAPS, config_map("a-refused", customizer="c-typed"), "CopyRefused"),
    (r.CONFIGMAPS, config_map("a-missing", customizer="missing"), "CustomizerNotFound"),
    *(
        (r.CONFIGMAPS, config_map(f"a-{name}", customizer=f"c-{name}"), "")
        for name in ("deep", "rename", "root", "not-json", "deep-value")
    ),
    (
        r.EDGE_PLACEMENTS,
        placement(
            "odd-upsync",
            locationSelectors=PROD,
            namespaceSelector=NOTHING,
            upsync=[
                {"apiGroup": "ü.test", "resources": ["*"], "namespaces": ["*"], "names": ["*"]},
                {
                    "apiGroup": "g.test",
                    "resources": ["r"],
                    "names": [f"n{i}" for i in range(30_000)],
                },
            ],
        ),
        "",
    ),
]


def selector_problems(placement_obj: Obj) -> list[str]:
    """The selectors of an EdgePlacement that cannot be compiled (the test's reading)."""
    spec = placement_obj.get("spec") or {}
    selectors = list(spec.get("locationSelectors") or ())
    selectors.append(spec.get("namespaceSelector"))
    for ref in spec.get("nonNamespacedObjects") or ():
        selectors.extend(ref.get("labelSelectors") or ())
    problems = []
    for sel in selectors:
        if sel is None:
            continue
        try:
            selector_from_label_selector(sel)
        except SelectorError as err:
            problems.append(str(err))
    return problems


@asynccontextmanager
async def central_controllers(env: EdgeEnv) -> AsyncIterator[list[Manager]]:
    """The four central controllers running against `env`; yields their Managers."""
    kubeconfig = env.kubeconfig(ESPW, "controllers.kubeconfig")
    async with AsyncExitStack() as stack:
        managers = []
        for name in CENTRAL:
            component = find(name)
            assert component is not None
            app = importlib.import_module(component.module).APP
            managers.append(
                await stack.enter_async_context(running(app, [f"--kubeconfig={kubeconfig}"]))
            )
        yield managers


async def mailbox_workspace(env: EdgeEnv, target: str = "florin") -> Obj:
    """`target`'s mailbox Workspace, once it is Ready."""

    async def probe() -> Obj | None:
        for ws in (await env.ws(ESPW).list(r.WORKSPACES))["items"]:
            annotations = ws["metadata"].get("annotations") or {}
            ready = (ws.get("status") or {}).get("phase") == "Ready"
            if annotations.get("edge.kcp.io/sync-target-name") == target and ready:
                return ws
        return None

    return await wait_for(probe, 30, f"{target}'s mailbox workspace")


@asynccontextmanager
async def edge_cluster(
    env: EdgeEnv, mailbox_path: str, directory: Path
) -> AsyncIterator[tuple[Client, Manager]]:
    """A plain API server as florin's edge cluster, with the syncer of `mailbox_path`
    running against it; yields the edge's admin client and the syncer's Manager."""
    server = ApiServer(ServerConfig(port=0, data_dir=directory))
    await server.start()
    config = ClusterConfig.for_server(server.url, server.admin_token)
    config.ssl = server.client_ssl()
    client = Client(config)
    edge_kubeconfig = server.write_kubeconfig(directory / "edge.kubeconfig", "edge")
    argv = [
        f"--kubeconfig={edge_kubeconfig}",
        f"--from-kubeconfig={env.kubeconfig(mailbox_path, 'mailbox.kubeconfig')}",
        f"--to-kubeconfig={edge_kubeconfig}",
        f"--from-cluster={mailbox_path}",
        "--sync-target-name=florin",
        "--qps=0",
    ]
    try:
        async with running(SYNCER, argv) as mgr:
            yield client, mgr
    finally:
        await client.close()
        await server.stop()


async def get_or_none(
    client: Client, resource: GroupVersionResource, name: str, namespace: str | None = None
) -> Obj | None:
    try:
        return await client.get(resource, name, namespace)
    except NotFound:
        return None


async def wait_copied(mailbox: Client, resource: GroupVersionResource, ns: str, name: str) -> Obj:
    async def probe() -> Obj | None:
        copy = await get_or_none(mailbox, resource, name, ns)
        labels = ((copy or {}).get("metadata") or {}).get("labels") or {}
        return copy if labels.get("edge.kcp.io/projected") == "yes" else None

    return await wait_for(probe, 30, f"{resource.resource} {ns}/{name} in the mailbox")


async def wait_ready_condition(client: Client, name: str) -> Obj:
    """The `Ready` condition of EdgePlacement `name` once it describes its generation."""

    async def probe() -> Obj | None:
        ep = await client.get(r.EDGE_PLACEMENTS, name)
        for cond in (ep.get("status") or {}).get("conditions") or ():
            current = cond.get("observedGeneration") == ep["metadata"].get("generation")
            if cond["type"] == "Ready" and current:
                return cond
        return None

    return await wait_for(probe, 30, f"EdgePlacement {name}'s Ready condition")


def reconcile_errors(managers: list[Manager]) -> dict[str, int]:
    """Reconcile errors so far, by controller (the counters are process-wide: use deltas)."""
    return {
        c.name: metrics.controller_stats(c.name).errors for mgr in managers for c in mgr.controllers
    }


async def wait_downsynced(edge: Client, resource: GroupVersionResource, ns: str, name: str) -> None:
    async def probe() -> bool:
        copy = await get_or_none(edge, resource, name, ns)
        annotations = ((copy or {}).get("metadata") or {}).get("annotations") or {}
        return annotations.get("edge.kcp.io/downsynced") == "true"

    await wait_for(probe, 30, f"{resource.resource} {ns}/{name} at the edge")


async def test_controllers_survive_bad_input(
    env: EdgeEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally()
    await env.create_workspace(IMW)
    await env.ensure_location(IMW, "florin", {"env": "prod"})
    wmw = await prepare_workload_workspace(env)
    await wmw.create(
        r.NAMESPACES,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": GOOD_NS, "labels": {"app": "good"}},
        },
    )
    await wmw.create(r.CONFIGMAPS, config_map("good-cm"))
    await wmw.create(r.DEPLOYMENTS, deployment_body("good-d", GOOD_NS, "good"))
    named = tuple(f"hc{i}" for i in range(SWEEP["customizers"]))
    generated = (
        draw_examples(edge_placements(), SWEEP["placements"], SEED)
        + draw_examples(customizers(namespace=NS), SWEEP["customizers"], SEED + 1)
        + draw_examples(config_maps(namespace=NS, customizers=named), SWEEP["configmaps"], SEED + 2)
        + draw_examples(
            deployments(namespace=NS, customizers=named), SWEEP["deployments"], SEED + 3
        )
    )
    configs = draw_examples(syncer_configs(), SWEEP["syncerconfigs"], SEED + 4)

    async with AsyncExitStack() as stack:
        managers = await stack.enter_async_context(central_controllers(env))
        ws = await mailbox_workspace(env)
        mailbox = env.ws(ws["spec"]["cluster"])
        edge, syncer = await stack.enter_async_context(
            edge_cluster(env, f"{ESPW}:{ws['metadata']['name']}", tmp_path / "edge")
        )
        managers.append(syncer)
        start = reconcile_errors(managers)
        await wmw.create(
            r.EDGE_PLACEMENTS,
            placement(
                "good-1",
                locationSelectors=PROD,
                namespaceSelector={"matchLabels": {"app": "good"}},
                nonNamespacedObjects=BIND_KUBE_REF,
            ),
        )
        placements = ["good-1"]
        expected_events: list[tuple[str, str, str]] = []  # (reason, kind, name)
        for resource, obj, reason in UNUSABLE:
            code, status = await post(wmw, resource, obj)
            tally.add(obj["kind"], code, causes_of(status))
            assert code == 201, f"{obj['metadata']['name']}: {code} {status.get('message')}"
            if resource == r.EDGE_PLACEMENTS:
                placements.append(obj["metadata"]["name"])
            if reason and reason != "InvalidSelector":
                expected_events.append((reason, obj["kind"], obj["metadata"]["name"]))
        customizer_names = iter(named)
        for i, drawn in enumerate(generated):
            spec = drawn.obj.get("spec")
            if drawn.kind == "EdgePlacement" and i % 2 and isinstance(spec, dict):
                # Half of them reach florin, so the translator and syncer get their odd parts.
                chosen = spec.get("locationSelectors")
                spec["locationSelectors"] = PROD + (chosen if isinstance(chosen, list) else [])
            meta = drawn.obj["metadata"]
            if drawn.kind == "Customizer":  # the names the drawn workload objects refer to
                meta["name"] = next(customizer_names)
            else:
                meta["name"] = f"h{i}-{meta['name']}"
            code, status = await post(wmw, drawn.resource, drawn.obj)
            tally.add(drawn.kind, code, causes_of(status))
            assert code in (201, 422), f"{code} {status.get('message')}"
            if code == 201 and drawn.kind == "EdgePlacement":
                placements.append(meta["name"])
        for i, drawn in enumerate(configs):
            drawn.obj["metadata"]["name"] = f"h{i}-{drawn.obj['metadata']['name']}"
            code, status = await post(mailbox, drawn.resource, drawn.obj)
            tally.add(drawn.kind, code, causes_of(status))
            assert code in (201, 422), f"{code} {status.get('message')}"

        # A SyncerConfig the-one made nonsense is put right again.
        the_one = await wait_for(
            lambda: get_or_none(mailbox, r.SYNCER_CONFIGS, "the-one"), 30, "SyncerConfig the-one"
        )
        the_one["spec"] = {
            "namespaceScope": {
                "namespaces": ["ü", "*", ""],
                "resources": [{"group": "ü", "apiVersion": "", "resource": "*"}],
            },
            "clusterScope": [
                {"group": "", "apiVersion": "v1", "resource": "namespaces", "objects": ["*"]}
            ],
        }
        await mailbox.update(r.SYNCER_CONFIGS, the_one)

        # The good workload arrives (mailbox, then edge) whatever else the workspaces hold.
        await wait_copied(mailbox, r.CONFIGMAPS, GOOD_NS, "good-cm")
        await wait_copied(mailbox, r.DEPLOYMENTS, GOOD_NS, "good-d")

        async def the_one_right() -> bool:
            spec = (await mailbox.get(r.SYNCER_CONFIGS, "the-one")).get("spec") or {}
            scope = spec.get("namespaceScope") or {}
            return GOOD_NS in scope.get("namespaces", []) and "ü" not in scope["namespaces"]

        await wait_for(the_one_right, 30, "SyncerConfig the-one put right")
        await wait_downsynced(edge, r.CONFIGMAPS, GOOD_NS, "good-cm")

        # A placement made after all the bad input is served as well.
        await wmw.create(
            r.NAMESPACES,
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "fresh", "labels": {"fresh": "yes"}},
            },
        )
        await wmw.create(r.CONFIGMAPS, config_map("fresh-cm", "fresh"))
        await wmw.create(
            r.EDGE_PLACEMENTS,
            placement(
                "good-2",
                locationSelectors=PROD,
                namespaceSelector={"matchLabels": {"fresh": "yes"}},
            ),
        )
        placements.append("good-2")
        await wait_copied(mailbox, r.CONFIGMAPS, "fresh", "fresh-cm")
        ready = await wait_ready_condition(wmw, "good-2")
        assert ready["status"] == "True", ready

        async def summarized() -> bool:
            items = (await wmw.list(r.edge_resource("statussummaries"), GOOD_NS))["items"]
            return any(s.get("subject", {}).get("name") == "good-d" for s in items)

        await wait_for(summarized, 30, "the StatusSummary of good-d")

        # Every EdgePlacement is judged; an invalid selector is reported with its error.
        reasons: Counter[str] = Counter()
        for name in placements:
            ep = await wmw.get(r.EDGE_PLACEMENTS, name)
            cond = await wait_ready_condition(wmw, name)
            reasons[cond["reason"]] += 1
            problems = selector_problems(ep)
            message = cond.get("message", "")
            assert len(message) < 4096, f"{name}: a message of {len(message)} characters"
            if problems:
                assert (cond["status"], cond["reason"]) == ("False", "InvalidSelector"), name
                assert problems[0][:100] in message, f"{name}: {message[:300]}"
            else:
                assert cond["reason"] != "InvalidSelector", f"{name}: {message[:300]}"

        # Every other unusable object is named by a Warning Event.
        seen: Counter[str] = Counter()

        async def all_events() -> bool:
            events = (await wmw.list(r.EVENTS))["items"]
            found = {
                (e.get("reason"), e["involvedObject"].get("kind"), e["involvedObject"].get("name"))
                for e in events
                if e.get("type") == "Warning"
            }
            seen.clear()
            seen.update(reason for reason, _, _ in found)
            return all(want in found for want in expected_events)

        await wait_for(all_events, 30, f"Warning Events {expected_events}")

        # The controllers settled: a last object goes through without new reconcile errors.
        before = reconcile_errors(managers)
        await wmw.create(r.CONFIGMAPS, config_map("fresh-cm-2", "fresh"))
        await wait_copied(mailbox, r.CONFIGMAPS, "fresh", "fresh-cm-2")
        await wait_downsynced(edge, r.CONFIGMAPS, "fresh", "fresh-cm-2")
        after = reconcile_errors(managers)
        grown = {name: after[name] - before.get(name, 0) for name in after}
        total = {name: after[name] - start.get(name, 0) for name in after}
        assert all(mgr.ready() for mgr in managers)
    with capsys.disabled():
        print(
            "\nphase 2 (controllers):",
            *tally.lines(),
            f"  Ready reasons of {len(placements)} EdgePlacements: {dict(reasons)}",
            f"  Warning Events by reason: {dict(seen)}",
            f"  reconcile errors in all: {total}",
            f"  reconcile errors in the last window: {grown}",
            sep="\n",
        )
    assert all(n <= 5 for n in grown.values()), grown


# -- the pure parts of the fixes ------------------------------------------------------------


class EmptyInventory:
    """An inventory without Locations or SyncTargets."""

    def candidate_locations(self, selector: Selector) -> list[Obj]:
        return []

    def candidate_sync_targets(self, cluster: str, selector: Selector) -> list[Obj]:
        return []


def test_scheduler_reports_what_selectors_in_a_bounded_message() -> None:
    bad_namespaces = placement(
        "p", locationSelectors=PROD, namespaceSelector={"matchLabels": {"a b": "c"}}
    )
    got = resolve(bad_namespaces, EmptyInventory())
    assert got.reason == REASON_INVALID_SELECTOR and "spec.namespaceSelector" in got.message
    bad_objects = placement(
        "p",
        nonNamespacedObjects=[
            {"resources": ["*"], "labelSelectors": [None, {"matchLabels": {"x": "-"}}]}
        ],
    )
    got = resolve(bad_objects, EmptyInventory())
    assert "spec.nonNamespacedObjects[0].labelSelectors[1]" in got.message
    huge = placement(
        "p", locationSelectors=[{"matchLabels": {f"k {i}": "v" * 5000}} for i in range(3000)]
    )
    got = resolve(huge, EmptyInventory())
    assert got.reason == REASON_INVALID_SELECTOR and len(got.message) < 4096
    assert "and 2995 more invalid selector(s)" in got.message


@pytest.mark.parametrize(
    ("path", "value", "why"),
    [
        ("$.metadata.name", '"other"', "metadata.name may not be changed"),
        ("$.metadata.namespace", '"elsewhere"', "metadata.namespace may not be changed"),
        ("$.kind", '"Secret"', "kind may not be changed"),
        ("$", "3", "not an object"),
        ("$" + ".a" * 300, '"x"', "more than 100 steps"),
        ("$.data.x", "[" * 5000 + "]" * 5000, "nested too deeply"),
    ],
)
def test_customize_refuses_what_is_not_a_copy(path: str, value: str, why: str) -> None:
    obj = config_map("cm")
    custom = customizer("c", path, value)
    with pytest.raises(CustomizationError, match=why):
        customize(obj, custom, None)


def test_syncer_config_ignores_impossible_namespaces() -> None:
    config = {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "SyncerConfig",
        "metadata": {"name": "odd"},
        "spec": {"namespaceScope": {"namespaces": ["good", "ü", "*", "", "x" * 64]}},
    }
    spec, problems = merge_configs([config])
    assert spec.namespaces == frozenset({"good"})
    assert len(problems) == 3 and all("cannot be a namespace" in p for p in problems)
