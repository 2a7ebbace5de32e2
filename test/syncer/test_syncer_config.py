"""SyncerConfig merging and resolution into lanes (pure; spec 7.2, 7.7)."""

from __future__ import annotations

from typing import Any

from edgemc.apis.edge import UpsyncSet
from edgemc.controllers.syncer.config import (
    Discovery,
    ResourceRef,
    SyncSpec,
    merge_configs,
    merge_edge_sync_configs,
    resolve,
)

ALL_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def discovery(*entries: tuple[str, str, str, str, bool], status: tuple[str, ...] = ()) -> Discovery:
    """Entries are (group, version, resource, kind, namespaced)."""
    groups: dict[str, list[str]] = {}
    lists: dict[str, dict[str, Any]] = {}
    for group, version, resource, kind, namespaced in entries:
        gv = f"{group}/{version}" if group else version
        if version not in groups.setdefault(group, []):
            groups[group].append(version)
        doc = lists.setdefault(gv, {"groupVersion": gv, "resources": []})
        doc["resources"].append(
            {"name": resource, "kind": kind, "namespaced": namespaced, "verbs": ALL_VERBS}
        )
        if resource in status:
            doc["resources"].append({"name": f"{resource}/status", "kind": kind, "verbs": []})
    group_list = {
        "groups": [
            {
                "name": g,
                "versions": [
                    {"groupVersion": f"{g}/{v}" if g else v, "version": v} for v in versions
                ],
                "preferredVersion": {"version": versions[0]},
            }
            for g, versions in groups.items()
        ]
    }
    return Discovery.from_lists(group_list, lists)


KUBE = (
    ("", "v1", "namespaces", "Namespace", False),
    ("", "v1", "configmaps", "ConfigMap", True),
    ("", "v1", "secrets", "Secret", True),
    ("apps", "v1", "deployments", "Deployment", True),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
)
CHEESE = (
    ("cheese.example", "v1", "cheddars", "Cheddar", False),
    ("cheese.example", "v27alpha15", "cheddars", "Cheddar", False),
    ("cheese.example", "v1", "goudas", "Gouda", True),
)


def config(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "SyncerConfig",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_merge_unions_every_config() -> None:
    spec, problems = merge_configs(
        [
            config(
                "the-one",
                {
                    "namespaceScope": {
                        "namespaces": ["commonstuff"],
                        "resources": [{"group": "", "apiVersion": "v1", "resource": "configmaps"}],
                    },
                    "clusterScope": [
                        {"group": "g", "apiVersion": "v1", "resource": "a", "objects": ["x"]},
                        {"group": "g", "apiVersion": "v1", "resource": "b", "objects": []},
                        {"group": "g", "apiVersion": "v1", "resource": "c"},
                    ],
                },
            ),
            config(
                "other",
                {
                    "namespaceScope": {"namespaces": ["specialstuff"]},
                    "clusterScope": [
                        {"group": "g", "apiVersion": "v1", "resource": "a", "objects": ["y"]},
                        {"group": "g", "apiVersion": "v1", "resource": "c", "objects": ["z"]},
                    ],
                    "upsync": [{"apiGroup": "g", "resources": ["r"], "names": ["*"]}],
                },
            ),
        ]
    )
    assert problems == []
    assert spec.namespaces == {"commonstuff", "specialstuff"}
    assert spec.namespaced == {ResourceRef("", "v1", "configmaps")}
    assert spec.cluster == {
        ResourceRef("g", "v1", "a"): frozenset({"x", "y"}),
        ResourceRef("g", "v1", "c"): None,  # absent objects = all, which wins
    }
    assert len(spec.upsync) == 1


def test_an_invalid_config_is_reported_and_the_rest_used() -> None:
    spec, problems = merge_configs(
        [
            config("bad", {"namespaceScope": {"resources": [{"group": ""}]}}),
            config("good", {"namespaceScope": {"namespaces": ["ns"]}}),
        ]
    )
    assert spec.namespaces == {"ns"}
    assert len(problems) == 1 and "SyncerConfig bad" in problems[0]


def test_resolve_namespaced_cluster_and_namespace_lanes() -> None:
    both = discovery(*KUBE, status=("deployments",))
    spec = SyncSpec(
        namespaces=frozenset({"commonstuff"}),
        namespaced=frozenset(
            {ResourceRef("", "v1", "configmaps"), ResourceRef("apps", "v1", "deployments")}
        ),
        cluster={
            ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions"): frozenset(
                {"a.b"}
            )
        },
    )
    plan = resolve(spec, both, both)
    assert set(plan.lanes) == {
        "down|v1/configmaps",
        "down|apps/v1/deployments",
        "down|apiextensions.k8s.io/v1/customresourcedefinitions",
        "down|v1/namespaces",
    }
    assert plan.pending == ()
    deployments = plan.lanes["down|apps/v1/deployments"]
    assert deployments.source.has_status
    assert deployments.selects("commonstuff", "anything")
    assert not deployments.selects("other", "anything")
    crds = plan.lanes["down|apiextensions.k8s.io/v1/customresourcedefinitions"]
    assert crds.selects("", "a.b") and not crds.selects("", "c.d")
    namespaces = plan.lanes["down|v1/namespaces"]
    assert namespaces.selects("", "commonstuff") and not namespaces.selects("", "default")
    assert namespaces.ensure == {"commonstuff"}


def test_a_resource_the_edge_lacks_is_pending_until_served() -> None:
    mailbox = discovery(*KUBE, *CHEESE)
    spec = SyncSpec(cluster={ResourceRef("cheese.example", "v1", "cheddars"): None})
    plan = resolve(spec, mailbox, discovery(*KUBE))
    assert plan.lanes == {}
    assert plan.pending == ("edge does not serve cheese.example/v1/cheddars yet",)
    plan = resolve(spec, mailbox, mailbox)
    assert list(plan.lanes) == ["down|cheese.example/v1/cheddars"]
    assert plan.lanes["down|cheese.example/v1/cheddars"].selects("", "any")


def test_wildcard_resource_expands_by_scope() -> None:
    both = discovery(*KUBE, *CHEESE)
    spec = SyncSpec(
        namespaces=frozenset({"ns"}),
        namespaced=frozenset(
            {ResourceRef("", "v1", "*"), ResourceRef("cheese.example", "v1", "*")}
        ),
    )
    plan = resolve(spec, both, both)
    assert set(plan.lanes) == {
        "down|v1/configmaps",
        "down|v1/secrets",
        "down|cheese.example/v1/goudas",
        "down|v1/namespaces",
    }


def test_scope_mismatch_is_reported() -> None:
    both = discovery(*KUBE)
    spec = SyncSpec(cluster={ResourceRef("", "v1", "configmaps"): None})
    plan = resolve(spec, both, both)
    assert plan.lanes == {}
    assert "namespaced" in plan.pending[0]


def test_upsync_wildcards_pick_one_version_per_resource() -> None:
    both = discovery(*KUBE, *CHEESE)
    rule = UpsyncSet(api_group="cheese.example", resources=["*"], namespaces=["*"], names=["*"])
    plan = resolve(SyncSpec(upsync=(rule,)), both, both)
    assert set(plan.lanes) == {"up|cheese.example/v1/cheddars", "up|cheese.example/v1/goudas"}
    goudas = plan.lanes["up|cheese.example/v1/goudas"]
    assert goudas.selects("any-ns", "any-name")
    named = UpsyncSet(
        api_group="cheese.example", resources=["goudas"], namespaces=["orbital"], names=["george"]
    )
    plan = resolve(SyncSpec(upsync=(named,)), both, both)
    lane = plan.lanes["up|cheese.example/v1/goudas"]
    assert lane.selects("orbital", "george")
    assert not lane.selects("orbital", "cosmo") and not lane.selects("other", "george")


def test_upsync_without_a_mailbox_resource_is_pending() -> None:
    rule = UpsyncSet(api_group="cheese.example", resources=["goudas"], names=["*"])
    plan = resolve(SyncSpec(upsync=(rule,)), discovery(*KUBE), discovery(*KUBE, *CHEESE))
    assert plan.lanes == {}
    assert plan.pending


def test_one_version_per_resource() -> None:
    both = discovery(*KUBE, ("apps", "v1beta1", "deployments", "Deployment", True))
    spec = SyncSpec(
        namespaces=frozenset({"ns"}),
        namespaced=frozenset(
            {
                ResourceRef("apps", "v1", "deployments"),
                ResourceRef("apps", "v1beta1", "deployments"),
            }
        ),
    )
    plan = resolve(spec, both, both)
    assert set(plan.lanes) == {"down|apps/v1/deployments", "down|v1/namespaces"}
    assert any("v1beta1" in p for p in plan.pending)


def test_edge_sync_config_picks() -> None:
    picks, problems = merge_edge_sync_configs(
        [
            {
                "apiVersion": "edge.kcp.io/v1alpha1",
                "kind": "EdgeSyncConfig",
                "metadata": {"name": "test"},
                "spec": {
                    "downSyncedResources": [
                        {"kind": "Namespace", "version": "v1", "name": "test"},
                        {"kind": "ConfigMap", "version": "v1", "namespace": "test", "name": "*"},
                        {"kind": "ConfigMap", "name": "no-version"},
                    ],
                    "upSyncedResources": [
                        {
                            "kind": "Gouda",
                            "group": "cheese.example",
                            "version": "v1",
                            "namespace": "*",
                            "name": "g",
                        }
                    ],
                },
            }
        ]
    )
    assert len(problems) == 1 and "lacks" in problems[0]
    both = discovery(*KUBE, *CHEESE)
    plan = resolve(SyncSpec(picks=picks), both, both)
    assert set(plan.lanes) == {
        "down|v1/namespaces",
        "down|v1/configmaps",
        "up|cheese.example/v1/goudas",
    }
    namespaces = plan.lanes["down|v1/namespaces"]
    assert namespaces.selects("", "test") and namespaces.explicitly_selects("test")
    assert not namespaces.selects("", "other")
    configmaps = plan.lanes["down|v1/configmaps"]
    assert configmaps.selects("test", "anything") and not configmaps.selects("other", "x")
    goudas = plan.lanes["up|cheese.example/v1/goudas"]
    assert goudas.selects("any", "g") and not goudas.selects("any", "h")
