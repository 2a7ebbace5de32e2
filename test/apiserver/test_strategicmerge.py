"""Strategic merge patch against the upstream built-in schemas shipped by kubernetes-validate."""

from __future__ import annotations

import copy
import functools
import importlib.resources
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgemc.embedded.apiserver.strategicmerge import PatchError, json_merge_patch, strategic_merge

DEFS_PREFIX = "#/$defs/"
DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
POD = "io.k8s.api.core.v1.Pod"


@functools.cache
def definitions() -> dict[str, Any]:
    root = importlib.resources.files("kubernetes_validate")
    path = root / "kubernetes-json-schema" / "v1.32.0-local" / "_definitions.json"
    return json.loads(path.read_text())["$defs"]


def resolve(ref: str) -> dict[str, Any]:
    assert ref.startswith(DEFS_PREFIX), ref
    return definitions()[ref[len(DEFS_PREFIX) :]]


def smp(original: dict, patch: dict, kind: str | None = DEPLOYMENT) -> dict:
    """Apply with the schema of `kind` (None: no schema) and check the inputs stay untouched."""
    before = copy.deepcopy((original, patch))
    schema = {"$ref": DEFS_PREFIX + kind} if kind else None
    result = strategic_merge(original, patch, schema, resolve)
    assert (original, patch) == before
    return result


def deployment(containers: list[dict], **spec: Any) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "fe"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers, **spec},
            },
        },
    }


def pod_spec_patch(**fields: Any) -> dict:
    return {"spec": {"template": {"spec": fields}}}


def containers_of(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def names(items: list[dict]) -> list[str]:
    return [i["name"] for i in items]


NGINX = {
    "name": "nginx",
    "image": "nginx:1.24",
    "ports": [{"containerPort": 80, "protocol": "TCP"}],
    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
    # Defaulted by the server, never in the user's manifest: a merge must keep it.
    "terminationMessagePath": "/dev/termination-log",
}
SIDECAR = {"name": "sidecar", "image": "busybox", "args": ["sleep", "1d"]}


# ---- the kubectl apply cases -------------------------------------------------------------


def test_container_image_change_merges_by_name() -> None:
    live = deployment([NGINX, SIDECAR])
    patch = pod_spec_patch(
        **{
            "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
            "containers": [{"name": "nginx", "image": "nginx:1.25"}],
        }
    )
    result = smp(live, patch)
    assert containers_of(result) == [{**NGINX, "image": "nginx:1.25"}, SIDECAR]
    assert result["metadata"] == live["metadata"]


def test_adding_a_container_follows_set_element_order() -> None:
    added = {"name": "logger", "image": "fluentd"}
    patch = pod_spec_patch(
        **{
            "$setElementOrder/containers": [
                {"name": "nginx"},
                {"name": "logger"},
                {"name": "sidecar"},
            ],
            "containers": [added],
        }
    )
    result = smp(deployment([NGINX, SIDECAR]), patch)
    assert containers_of(result) == [NGINX, added, SIDECAR]


def test_new_list_element_without_order_directive_is_appended() -> None:
    result = smp(
        deployment([NGINX, SIDECAR]), pod_spec_patch(containers=[{"name": "a", "image": "x"}])
    )
    assert names(containers_of(result)) == ["nginx", "sidecar", "a"]


def test_removing_a_container_with_patch_delete() -> None:
    patch = pod_spec_patch(
        **{
            "$setElementOrder/containers": [{"name": "nginx"}],
            "containers": [{"$patch": "delete", "name": "sidecar"}],
        }
    )
    assert containers_of(smp(deployment([NGINX, SIDECAR]), patch)) == [NGINX]
    # Deleting an element that is not there is a no-op.
    gone = pod_spec_patch(containers=[{"$patch": "delete", "name": "nope"}])
    assert containers_of(smp(deployment([NGINX]), gone)) == [NGINX]


def test_env_vars_merge_by_name() -> None:
    patch = pod_spec_patch(
        containers=[
            {
                "name": "nginx",
                "env": [
                    {"name": "B", "value": None, "valueFrom": {"fieldRef": {"fieldPath": "x"}}},
                    {"name": "C", "value": "3"},
                ],
            }
        ]
    )
    (nginx,) = containers_of(smp(deployment([NGINX]), patch))
    assert nginx["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "x"}}},
        {"name": "C", "value": "3"},
    ]
    assert nginx["image"] == "nginx:1.24"


def test_set_element_order_reorders_env_without_changes() -> None:
    patch = pod_spec_patch(
        **{
            "$setElementOrder/containers": [{"name": "nginx"}],
            "containers": [
                {"name": "nginx", "$setElementOrder/env": [{"name": "B"}, {"name": "A"}]}
            ],
        }
    )
    (nginx,) = containers_of(smp(deployment([NGINX]), patch))
    assert nginx["env"] == [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]


def test_ports_merge_by_container_port() -> None:
    live = deployment([{**NGINX, "ports": [{"containerPort": 80, "protocol": "TCP"}]}])
    patch = pod_spec_patch(
        containers=[
            {
                "name": "nginx",
                "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
            }
        ]
    )
    (nginx,) = containers_of(smp(live, patch))
    assert nginx["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "http"},
        {"containerPort": 443},
    ]
    # Upstream merges by containerPort alone (kubernetes#108255): a UDP twin merges too.
    udp = pod_spec_patch(
        containers=[{"name": "nginx", "ports": [{"containerPort": 80, "protocol": "UDP"}]}]
    )
    (nginx,) = containers_of(smp(live, udp))
    assert nginx["ports"] == [{"containerPort": 80, "protocol": "UDP"}]


def test_null_deletes_a_label() -> None:
    result = smp(deployment([NGINX]), {"metadata": {"labels": {"tier": None, "new": "x"}}})
    assert result["metadata"]["labels"] == {"app": "web", "new": "x"}
    assert smp(result, {"metadata": {"labels": None}})["metadata"] == {
        "name": "web",
        "namespace": "default",
    }


def test_volumes_merge_by_name_and_retain_keys() -> None:
    volumes = [
        {"name": "data", "emptyDir": {}},
        {"name": "conf", "configMap": {"name": "cm1"}},
    ]
    live = deployment([NGINX], volumes=volumes)
    patch = pod_spec_patch(
        volumes=[
            # kubectl switching a volume's source: $retainKeys drops the old source.
            {"$retainKeys": ["name", "secret"], "name": "data", "secret": {"secretName": "s"}},
            {"name": "conf", "configMap": {"name": "cm2"}},
            {"name": "cache", "emptyDir": {"medium": "Memory"}},
        ]
    )
    result = smp(live, patch)["spec"]["template"]["spec"]["volumes"]
    assert result == [
        {"name": "data", "secret": {"secretName": "s"}},
        {"name": "conf", "configMap": {"name": "cm2"}},
        {"name": "cache", "emptyDir": {"medium": "Memory"}},
    ]


def test_deployment_strategy_retain_keys() -> None:
    live = deployment([NGINX])
    live["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert smp(live, patch)["spec"]["strategy"] == {"type": "Recreate"}
    # Without the directive the map merges as usual.
    merged = smp(live, {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}})
    assert merged["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": "25%"}


def test_map_with_replace_strategy_is_replaced() -> None:
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "spec": {
            "minAvailable": 1,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "Exists"}],
            },
        },
    }
    patch = {"spec": {"selector": {"matchLabels": {"app": "api"}}}}
    result = smp(pdb, patch, "io.k8s.api.policy.v1.PodDisruptionBudget")
    assert result["spec"] == {"minAvailable": 1, "selector": {"matchLabels": {"app": "api"}}}


def test_finalizers_are_a_merged_primitive_list() -> None:
    live = {"metadata": {"name": "p", "finalizers": ["a", "b"]}}
    assert smp(live, {"metadata": {"finalizers": ["c", "a"]}}, POD)["metadata"]["finalizers"] == [
        "a",
        "b",
        "c",
    ]
    deleted = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "zz"]}}
    assert smp(live, deleted, POD)["metadata"]["finalizers"] == ["b"]
    reordered = {"metadata": {"$setElementOrder/finalizers": ["c", "b", "a"], "finalizers": ["c"]}}
    assert smp(live, reordered, POD)["metadata"]["finalizers"] == ["c", "b", "a"]
    # A list without merge strategy (container args) is replaced.
    result = smp(
        deployment([SIDECAR]), pod_spec_patch(containers=[{"name": "sidecar", "args": ["x"]}])
    )
    assert containers_of(result)[0]["args"] == ["x"]


def test_set_element_order_keeps_server_only_items_in_place() -> None:
    live = deployment([{"name": "a"}, {"name": "server-added"}, {"name": "b"}])
    patch = pod_spec_patch(
        **{
            "$setElementOrder/containers": [{"name": "a"}, {"name": "c"}, {"name": "b"}],
            "containers": [{"name": "c", "image": "c"}],
        }
    )
    assert names(containers_of(smp(live, patch))) == ["a", "c", "server-added", "b"]


def test_patch_replace_directives() -> None:
    live = deployment([NGINX, SIDECAR])
    patch = pod_spec_patch(containers=[{"$patch": "replace"}, {"name": "only", "image": "x"}])
    assert containers_of(smp(live, patch)) == [{"name": "only", "image": "x"}]

    labels = {"metadata": {"labels": {"$patch": "replace", "fresh": "1"}}}
    assert smp(live, labels)["metadata"]["labels"] == {"fresh": "1"}

    emptied = smp(live, {"metadata": {"labels": {"$patch": "delete"}}})
    assert emptied["metadata"]["labels"] == {}
    assert (
        "annotations"
        not in smp(live, {"metadata": {"annotations": {"$patch": "delete"}}})["metadata"]
    )
    # `merge` is the explicit default, in maps and lists.
    merged = smp(live, {"metadata": {"labels": {"$patch": "merge", "x": "y"}}})
    assert merged["metadata"]["labels"] == {"app": "web", "tier": "fe", "x": "y"}
    kept = pod_spec_patch(containers=[{"$patch": "merge"}, {"name": "nginx", "image": "n2"}])
    assert names(containers_of(smp(live, kept))) == ["nginx", "sidecar"]


def test_new_nested_values_are_cleaned_of_nulls_and_directives() -> None:
    patch = pod_spec_patch(
        containers=[
            {
                "name": "new",
                "image": "x",
                "command": None,
                "$setElementOrder/env": [{"name": "E"}],
                "env": [{"name": "E", "value": "1"}],
            }
        ]
    )
    assert containers_of(smp(deployment([]), patch))[-1] == {
        "name": "new",
        "image": "x",
        "env": [{"name": "E", "value": "1"}],
    }


def test_repeated_kubectl_apply_sequence() -> None:
    """Create, let the server add fields, then apply two edits as kubectl would send them."""
    live = deployment([NGINX, SIDECAR])
    live["status"] = {"replicas": 1}
    live["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    edit1 = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{1}"}},
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                            "env": [{"name": "A", "value": "10"}],
                            "image": "nginx:1.25",
                            "name": "nginx",
                        }
                    ],
                }
            },
        },
    }
    once = smp(live, edit1)
    assert smp(once, edit1) == once  # re-applying the same patch changes nothing
    edit2 = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{2}"}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}],
                    "containers": [{"$patch": "delete", "name": "sidecar"}],
                }
            }
        },
    }
    twice = smp(once, edit2)
    (nginx,) = containers_of(twice)
    assert nginx == {
        **NGINX,
        "image": "nginx:1.25",
        "env": [{"name": "A", "value": "10"}, {"name": "B", "value": "2"}],
    }
    assert twice["spec"]["replicas"] == 3
    assert twice["status"] == {"replicas": 1}
    assert twice["metadata"]["annotations"] == {
        "deployment.kubernetes.io/revision": "1",
        "kubectl.kubernetes.io/last-applied-configuration": "{2}",
    }


def test_crd_like_object_without_schema_is_a_merge_patch() -> None:
    obj = {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "EdgePlacement",
        "metadata": {"name": "ep", "labels": {"a": "1"}},
        "spec": {
            "locationSelectors": [{"matchLabels": {"env": "prod"}}],
            "namespaceSelector": {"matchLabels": {"common": "si"}},
            "upsync": [{"apiGroup": "x", "resources": ["r"]}],
        },
    }
    patch = {
        "metadata": {"labels": {"a": None, "b": "2"}},
        "spec": {
            "locationSelectors": [{"matchLabels": {"env": "dev"}}],
            "namespaceSelector": {"matchLabels": {"other": "x"}},
            "upsync": None,
        },
    }
    result = smp(obj, patch, kind=None)
    assert result == json_merge_patch(obj, patch)
    assert result["spec"] == {
        "locationSelectors": [{"matchLabels": {"env": "dev"}}],
        "namespaceSelector": {"matchLabels": {"common": "si", "other": "x"}},
    }
    # Unknown fields inside a built-in kind behave the same way.
    odd = smp(deployment([NGINX]), {"spec": {"extra": {"a": [1], "b": None}}})
    assert odd["spec"]["extra"] == {"a": [1]}


# ---- malformed patches ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "message", "status"),
    [
        (pod_spec_patch(containers=[{"image": "x"}]), "declared merge key: name", 400),
        (pod_spec_patch(containers=[{"$patch": "delete"}]), "merge key: name", 400),
        (pod_spec_patch(containers=[{"$patch": "bogus", "name": "a"}]), "unknown patch type", 400),
        ({"metadata": {"labels": {"$patch": "bogus"}}}, "unknown patch type", 400),
        ({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, "retain", 422),
        ({"spec": {"strategy": {"$retainKeys": "type"}}}, "$retainKeys must be a list", 400),
        (pod_spec_patch(**{"$setElementOrder/containers": [{"name": "a"}],
                           "containers": [{"name": "b"}]}), "missing from $setElementOrder", 400),
        (pod_spec_patch(**{"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                           "containers": [{"name": "b"}, {"name": "a"}]}), "order", 400),
        (pod_spec_patch(**{"$setElementOrder/containers": "a"}), "must be a list", 400),
        (pod_spec_patch(**{"$setElementOrder/containers": [{"image": "a"}]}), "merge key", 400),
        ({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, "must be a list", 400),
        ({"metadata": {"finalizers": [["a"]]}}, "lists of lists", 422),
        ({"metadata": {"finalizers": ["a", {"b": 1}]}}, "not identical", 400),
        ({"metadata": {"finalizers": [{"$patch": "delete", "x": "a"}]}}, "$patch: delete", 400),
    ],
)  # fmt: skip
def test_malformed_patches_raise_patch_error(patch: dict, message: str, status: int) -> None:
    live = deployment([{"name": "a"}, {"name": "b"}])
    live["metadata"]["finalizers"] = ["f"]
    with pytest.raises(PatchError) as excinfo:
        smp(live, patch)
    assert message in str(excinfo.value)
    assert excinfo.value.status == status
    assert isinstance(excinfo.value, ValueError)


def test_patch_must_be_an_object() -> None:
    with pytest.raises(PatchError):
        strategic_merge({}, [], None, resolve)  # type: ignore[arg-type]


def test_dollar_keys_that_are_not_directives_are_data() -> None:
    crd_schema = {"openAPIV3Schema": {"$ref": "#/definitions/x", "type": "object"}}
    result = smp({"spec": {}}, {"spec": {"validation": crd_schema}}, kind=None)
    assert result == {"spec": {"validation": crd_schema}}


# ---- properties -----------------------------------------------------------------------------

json_keys = st.text(alphabet="abcde", min_size=1, max_size=3)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text("xyz", max_size=3))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(json_keys, inner, max_size=4)
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(json_keys, json_values, max_size=5)


def rfc7386(target: Any, patch: Any) -> Any:
    """RFC 7386 section 2, transcribed independently of the module under test."""
    if isinstance(patch, dict):
        if not isinstance(target, dict):
            target = {}
        target = dict(target)
        for name, value in patch.items():
            if value is None:
                target.pop(name, None)
            else:
                target[name] = rfc7386(target.get(name), value)
        return target
    return patch


@settings(max_examples=300)
@given(original=json_objects, patch=json_objects)
def test_schemaless_strategic_merge_is_json_merge_patch(original: dict, patch: dict) -> None:
    expected = rfc7386(original, patch)
    assert smp(original, patch, kind=None) == expected
    assert json_merge_patch(original, patch) == expected
    # Below a field the built-in schema does not know, the same holds.
    wrapped = smp({"spec": {"unknownField": original}}, {"spec": {"unknownField": patch}})
    assert wrapped == {"spec": {"unknownField": expected}}


container_names = st.sampled_from(["a", "b", "c", "d"])
env_entries = st.builds(
    lambda n, v: {"name": n, "value": v},
    st.sampled_from(["X", "Y", "Z"]),
    st.text("123", max_size=2),
)


@st.composite
def live_deployments(draw: st.DrawFn) -> dict:
    chosen = draw(st.lists(container_names, unique=True, max_size=4))
    containers = [
        {
            "name": n,
            "image": draw(st.sampled_from(["i1", "i2"])),
            "env": draw(st.lists(env_entries, unique_by=lambda e: e["name"], max_size=3)),
        }
        for n in chosen
    ]
    return deployment(containers)


@st.composite
def kubectl_like_patches(draw: st.DrawFn) -> dict:
    """Element-wise container edits, deletions and an optional $setElementOrder."""
    edited = draw(st.lists(container_names, unique=True, max_size=3))
    others = [n for n in "abcd" if n not in edited] or ["z"]
    deleted = draw(st.lists(st.sampled_from(others), unique=True, max_size=2))
    elements: list[dict] = []
    for name in edited:
        element: dict = {"name": name}
        if draw(st.booleans()):
            element["image"] = draw(st.sampled_from(["i2", "i3"]))
        if draw(st.booleans()):
            element["env"] = draw(st.lists(env_entries, unique_by=lambda e: e["name"], max_size=2))
        elements.append(element)
    elements += [{"$patch": "delete", "name": n} for n in deleted]
    elements = draw(st.permutations(elements))
    fields: dict = {"containers": elements}
    if draw(st.booleans()):
        # kubectl lists every element it knows, patch elements in their patch order.
        order = [e["name"] for e in elements if "$patch" not in e]
        for extra in draw(st.lists(container_names, unique=True)):
            if extra not in order and extra not in deleted:
                order.insert(draw(st.integers(0, len(order))), extra)
        fields["$setElementOrder/containers"] = [{"name": n} for n in order]
    return pod_spec_patch(**fields)


@settings(max_examples=200)
@given(live=live_deployments(), patch=kubectl_like_patches())
def test_reapplying_a_patch_is_idempotent(live: dict, patch: dict) -> None:
    once = smp(live, patch)
    assert smp(once, patch) == once
    spec = patch["spec"]["template"]["spec"]
    result_names = names(containers_of(once))
    assert len(result_names) == len(set(result_names))
    deleted = {e["name"] for e in spec["containers"] if e.get("$patch") == "delete"}
    edited = [e["name"] for e in spec["containers"] if "$patch" not in e]
    assert not deleted & set(result_names)
    assert set(edited) <= set(result_names)
    if "$setElementOrder/containers" in spec:
        wanted = [o["name"] for o in spec["$setElementOrder/containers"]]
        present = [n for n in wanted if n in result_names]
        assert [n for n in result_names if n in wanted] == present
    else:
        before = [n for n in names(containers_of(live)) if n not in deleted]
        assert result_names[: len(before)] == before
