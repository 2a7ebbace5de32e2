"""What resolution, the join and SyncerConfig content (no server), incl. event-order properties."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edgemc.apis.edge import Destination, EdgePlacement
from edgemc.controllers.placement.plan import (
    WorkloadInputs,
    normalize_spec,
    plan_mailboxes,
    route_namespaces,
    syncer_config_spec,
)
from edgemc.controllers.placement.what import (
    ApiResource,
    ClusterObject,
    ClusterPart,
    parse_discovery,
    resolve_what,
)

VERBS = frozenset({"get", "list", "watch", "create"})


def api(group: str, resource: str, namespaced: bool = True, version: str = "v1") -> ApiResource:
    return ApiResource(group, version, resource, resource.title(), namespaced, VERBS)


# What discovery shows in the seed's workload workspaces after bind-kube and bind-espw.
SEED_DISCOVERY = {
    a.gr: a
    for a in [
        api("", "namespaces", False),
        *(
            api("", r)
            for r in (
                "configmaps secrets serviceaccounts events limitranges resourcequotas services pods"
            ).split()
        ),
        api("rbac.authorization.k8s.io", "roles"),
        api("rbac.authorization.k8s.io", "rolebindings"),
        api("rbac.authorization.k8s.io", "clusterroles", False),
        api("coordination.k8s.io", "leases"),
        api("apiextensions.k8s.io", "customresourcedefinitions", False),
        api("apis.kcp.io", "apibindings", False, "v1alpha1"),
        api("edge.kcp.io", "customizers", True, "v1alpha1"),
        api("edge.kcp.io", "edgeplacements", False, "v1alpha1"),
        api("networking.k8s.io", "ingresses"),
        api("apps", "deployments"),
        api("apps", "controllerrevisions"),
        ApiResource("", "v1", "bindings", "Binding", True, frozenset({"create"})),
    ]
}
SEED_RESOURCES = {
    ("networking.k8s.io", "ingresses"),
    ("rbac.authorization.k8s.io", "roles"),
    ("", "configmaps"),
    ("", "limitranges"),
    ("", "secrets"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("apps", "deployments"),
    ("", "pods"),
    ("", "serviceaccounts"),
    ("", "services"),
    ("", "resourcequotas"),
    ("coordination.k8s.io", "leases"),
}
FLORIN = Destination(
    cluster="imw", locationName="florin", syncTargetName="florin", syncTargetUID="f"
)
GUILDER = Destination(
    cluster="imw", locationName="guilder", syncTargetName="guilder", syncTargetUID="g"
)
BIND_KUBE = ClusterObject("apis.kcp.io", "apibindings", "bind-kube")
UP1 = {
    "apiGroup": "group1.test",
    "resources": ["sprockets", "flanges"],
    "namespaces": ["orbital"],
    "names": ["george", "cosmo"],
}
UP2 = {"apiGroup": "group2.test", "resources": ["cogs"], "names": ["william"]}
UP3 = {"apiGroup": "group3.test", "resources": ["widgets"], "names": ["*"]}


def placement(name: str, ns_labels: dict[str, str] | None, upsync: list[Any]) -> EdgePlacement:
    spec: dict[str, Any] = {
        "locationSelectors": [{"matchLabels": {"env": "prod"}}],
        "nonNamespacedObjects": [
            {
                "apiGroup": "apis.kcp.io",
                "resources": ["apibindings"],
                "resourceNames": ["bind-kube"],
            }
        ],
        "upsync": upsync,
    }
    if ns_labels is not None:
        spec["namespaceSelector"] = {"matchLabels": ns_labels}
    return EdgePlacement.model_validate({"metadata": {"name": name}, "spec": spec})


def seed_inputs() -> list[WorkloadInputs]:
    common = WorkloadInputs(
        "wmwc",
        [placement("edge-placement-c", {"common": "si"}, [UP1, UP2])],
        {"edge-placement-c": [FLORIN, GUILDER]},
        {"default": {}, "commonstuff": {"common": "si"}},
        SEED_DISCOVERY,
        [BIND_KUBE],
    )
    special = WorkloadInputs(
        "wmws",
        [placement("edge-placement-s", {"special": "si"}, [UP1, UP3])],
        {"edge-placement-s": [GUILDER]},
        {"default": {}, "specialstuff": {"special": "si"}},
        SEED_DISCOVERY,
        [BIND_KUBE],
    )
    return [common, special]


def as_sets(spec: dict[str, Any]) -> dict[str, Any]:
    scope = spec.get("namespaceScope") or {}
    return {
        "namespaces": set(scope.get("namespaces") or []),
        "resources": {
            (r["group"], r["resource"], r["apiVersion"]) for r in scope.get("resources") or []
        },
        "clusterScope": spec.get("clusterScope"),
        "upsync": {json.dumps(u, sort_keys=True) for u in spec.get("upsync") or []},
    }


def test_seed_stage3_syncer_configs() -> None:
    plans = plan_mailboxes(seed_inputs())
    assert set(plans) == {"imw-mb-f", "imw-mb-g"}
    resources = {(g, r, "v1") for g, r in SEED_RESOURCES}
    assert as_sets(syncer_config_spec(plans["imw-mb-f"])) == {
        "namespaces": {"commonstuff"},
        "resources": resources,
        "clusterScope": None,
        "upsync": {json.dumps(u, sort_keys=True) for u in (UP1, UP2)},
    }
    assert as_sets(syncer_config_spec(plans["imw-mb-g"])) == {
        "namespaces": {"commonstuff", "specialstuff"},
        "resources": resources,
        "clusterScope": None,
        "upsync": {json.dumps(u, sort_keys=True) for u in (UP1, UP2, UP3)},
    }
    # bind-kube goes to both mailboxes, but only there.
    assert plans["imw-mb-f"].cluster_objects == {
        ("apis.kcp.io", "apibindings", "bind-kube"): {"wmwc"}
    }
    assert plans["imw-mb-g"].cluster_details[("apis.kcp.io", "apibindings", "bind-kube")] == (
        "v1alpha1",
        False,
    )
    assert route_namespaces(plans)[("wmwc", "commonstuff")] == {"imw-mb-f", "imw-mb-g"}


def test_no_destinations_or_no_plan() -> None:
    assert syncer_config_spec(None) == {"namespaceScope": {}}
    inputs = seed_inputs()
    inputs[1].destinations = {}
    assert set(plan_mailboxes(inputs)) == {"imw-mb-f", "imw-mb-g"}
    assert "specialstuff" not in plan_mailboxes(inputs)["imw-mb-g"].namespaces


def test_resolve_what_namespace_details_and_selectors() -> None:
    ep = EdgePlacement.model_validate(
        {
            "metadata": {"name": "p"},
            "spec": {
                "namespaceSelector": {"matchExpressions": [{"key": "t", "operator": "Exists"}]},
                "nonNamespacedObjects": [
                    {"apiGroup": "", "resources": ["namespaces"], "resourceNames": ["a", "z"]},
                    {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "resources": ["*"],
                        "labelSelectors": [{"matchLabels": {"edge": "yes"}}],
                    },
                ],
            },
        }
    )
    namespaces = {"a": {"t": "1"}, "b": {"t": "2"}, "z": {}}
    objects = [
        ClusterObject("rbac.authorization.k8s.io", "clusterroles", "r1", (("edge", "yes"),)),
        ClusterObject("rbac.authorization.k8s.io", "clusterroles", "r2"),
    ]
    what = resolve_what(ep, namespaces, objects, SEED_DISCOVERY)
    assert what.namespaces == {"a", "b"}  # z matches only by name: not selected (spec 6.3)
    assert what.cluster_parts == {
        ClusterPart("", "v1", "namespaces", "a", True),
        ClusterPart("rbac.authorization.k8s.io", "v1", "clusterroles", "r1", True),
    }
    plans = plan_mailboxes(
        [WorkloadInputs("w", [ep], {"p": [FLORIN]}, namespaces, SEED_DISCOVERY, objects)]
    )
    spec = syncer_config_spec(plans["imw-mb-f"])
    assert spec["clusterScope"] == [
        {"apiVersion": "v1", "group": "", "objects": ["a"], "resource": "namespaces"},
        {
            "apiVersion": "v1",
            "group": "rbac.authorization.k8s.io",
            "objects": ["r1"],
            "resource": "clusterroles",
        },
    ]


def test_invalid_selector_selects_nothing() -> None:
    ep = EdgePlacement.model_validate(
        {
            "metadata": {"name": "p"},
            "spec": {"namespaceSelector": {"matchExpressions": [{"key": "t", "operator": "Nope"}]}},
        }
    )
    assert resolve_what(ep, {"a": {"t": "1"}}, [], SEED_DISCOVERY).namespaces == frozenset()


def test_absent_namespace_selector_selects_all() -> None:
    ep = EdgePlacement.model_validate({"metadata": {"name": "p"}, "spec": {}})
    assert resolve_what(ep, {"a": {}, "b": {}}, [], SEED_DISCOVERY).namespaces == {"a", "b"}


def test_parse_discovery_preferred_versions() -> None:
    groups = {
        "groups": [
            {
                "name": "",
                "versions": [{"groupVersion": "v1"}],
                "preferredVersion": {"groupVersion": "v1"},
            },
            {
                "name": "g.test",
                "versions": [{"groupVersion": "g.test/v2"}, {"groupVersion": "g.test/v1"}],
                "preferredVersion": {"groupVersion": "g.test/v2"},
            },
        ]
    }
    lists = {
        "v1": {
            "resources": [
                {"name": "pods", "kind": "Pod", "namespaced": True, "verbs": ["list", "watch"]},
                {"name": "pods/status", "kind": "Pod"},
            ]
        },
        "g.test/v2": {
            "resources": [
                {"name": "things", "kind": "Thing", "namespaced": False, "verbs": ["get"]}
            ]
        },
        "g.test/v1": {"resources": [{"name": "old", "kind": "Old"}]},
    }
    found = parse_discovery(groups, lists)
    assert set(found) == {("", "pods"), ("g.test", "things")}
    assert found[("g.test", "things")].version == "v2"
    assert not found[("g.test", "things")].listable


def test_version_disagreement_is_reported_and_stable() -> None:
    inputs = seed_inputs()
    other = dict(SEED_DISCOVERY)
    other[("apps", "deployments")] = api("apps", "deployments", version="v1beta1")
    inputs[1].resources = other
    plan = plan_mailboxes(inputs)["imw-mb-g"]
    assert plan.resources[("apps", "deployments")] == "v1"
    assert plan.warnings and "deployments.apps" in plan.warnings[0]


# -- event-order independence --------------------------------------------------------------

NS_NAMES = ["n1", "n2", "n3"]
LABELS = st.dictionaries(st.sampled_from(["a", "b"]), st.sampled_from(["1", "2"]), max_size=2)
DESTS = [FLORIN, GUILDER]


@st.composite
def workspace_events(draw: st.DrawFn) -> list[tuple[str, str, Any]]:
    """A history of writes: (kind, key, value or None for a delete)."""
    events = []
    for _ in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(["ns", "ep", "sps"]))
        if kind == "ns":
            value = draw(st.none() | LABELS)
            events.append(("ns", draw(st.sampled_from(NS_NAMES)), value))
        elif kind == "ep":
            value = draw(
                st.none()
                | st.fixed_dictionaries(
                    {
                        "sel": LABELS,
                        "upsync": st.lists(st.sampled_from([UP1, UP2, UP3]), max_size=2),
                    }
                )
            )
            events.append(("ep", draw(st.sampled_from(["p", "q"])), value))
        else:
            value = draw(st.none() | st.lists(st.sampled_from(DESTS), max_size=2, unique=True))
            events.append(("sps", draw(st.sampled_from(["p", "q"])), value))
    return events


def state_after(events: list[tuple[str, str, Any]]) -> dict[tuple[str, str], Any]:
    state: dict[tuple[str, str], Any] = {}
    for kind, key, value in events:
        if value is None:
            state.pop((kind, key), None)
        else:
            state[(kind, key)] = value
    return state


def inputs_of(
    state: dict[tuple[str, str], Any], shuffle: random.Random | None
) -> list[WorkloadInputs]:
    items = list(state.items())
    if shuffle is not None:
        shuffle.shuffle(items)
    namespaces = {k: v for (kind, k), v in items if kind == "ns"}
    placements = [
        EdgePlacement.model_validate(
            {
                "metadata": {"name": k},
                "spec": {"namespaceSelector": {"matchLabels": v["sel"]}, "upsync": v["upsync"]},
            }
        )
        for (kind, k), v in items
        if kind == "ep"
    ]
    slices = {k: v for (kind, k), v in items if kind == "sps"}
    return [WorkloadInputs("w", placements, slices, namespaces, SEED_DISCOVERY)]


def rendered(state: dict[tuple[str, str], Any], shuffle: random.Random | None) -> dict[str, bytes]:
    plans = plan_mailboxes(inputs_of(state, shuffle))
    return {mb: json.dumps(syncer_config_spec(p)).encode() for mb, p in plans.items()}


@settings(max_examples=200, deadline=None)
@given(workspace_events(), st.randoms(use_true_random=False))
def test_syncer_config_is_independent_of_event_order(
    events: list[tuple[str, str, Any]], rnd: random.Random
) -> None:
    """Any delivery order of the same final writes per object gives byte-identical configs.

    Events for different objects may be reordered (informers of different resources race);
    events for one object keep their order (a watch delivers them in order).
    """
    final = rendered(state_after(events), None)
    per_key: dict[tuple[str, str], list[tuple[str, str, Any]]] = {}
    for event in events:
        per_key.setdefault((event[0], event[1]), []).append(event)
    queues = list(per_key.values())
    interleaved: list[tuple[str, str, Any]] = []
    while queues:
        queue = rnd.choice(queues)
        interleaved.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    assert rendered(state_after(interleaved), rnd) == final


@given(workspace_events(), st.randoms(use_true_random=False))
def test_normalized_spec_ignores_list_order(
    events: list[tuple[str, str, Any]], rnd: random.Random
) -> None:
    for plan in plan_mailboxes(inputs_of(state_after(events), None)).values():
        spec = syncer_config_spec(plan)
        shuffled = json.loads(json.dumps(spec))
        for key in ("namespaces", "resources"):
            rnd.shuffle(shuffled["namespaceScope"].get(key) or [])
        rnd.shuffle(shuffled.get("upsync") or [])
        assert normalize_spec(shuffled) == normalize_spec(spec)
