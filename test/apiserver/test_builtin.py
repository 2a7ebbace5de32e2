"""Built-in kinds: discovery facts as a v1.32 kube-apiserver shows them, and their schemas."""

from __future__ import annotations

import time

import pytest

from edgemc.embedded.apiserver import builtin
from edgemc.embedded.apiserver.builtin import (
    BUILTIN_TYPES,
    builtin_type,
    definition_name,
    definitions,
    resolve_schema,
)

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

# (group, resource): (kind, namespaced, shortNames, categories, subresources) as upstream's
# discovery lists them (kubectl api-resources -o wide against v1.31/v1.32).
EXPECTED = {
    ("", "namespaces"): ("Namespace", False, ("ns",), (), ("status",)),
    ("", "configmaps"): ("ConfigMap", True, ("cm",), (), ()),
    ("", "secrets"): ("Secret", True, (), (), ()),
    ("", "serviceaccounts"): ("ServiceAccount", True, ("sa",), (), ()),
    ("", "services"): ("Service", True, ("svc",), ("all",), ("status",)),
    ("", "pods"): ("Pod", True, ("po",), ("all",), ("status",)),
    ("", "events"): ("Event", True, ("ev",), (), ()),
    ("", "limitranges"): ("LimitRange", True, ("limits",), (), ()),
    ("", "resourcequotas"): ("ResourceQuota", True, ("quota",), (), ("status",)),
    ("rbac.authorization.k8s.io", "roles"): ("Role", True, (), (), ()),
    ("rbac.authorization.k8s.io", "rolebindings"): ("RoleBinding", True, (), (), ()),
    ("rbac.authorization.k8s.io", "clusterroles"): ("ClusterRole", False, (), (), ()),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): ("ClusterRoleBinding", False, (), (), ()),
    ("apps", "deployments"): ("Deployment", True, ("deploy",), ("all",), ("status", "scale")),
    ("apps", "replicasets"): ("ReplicaSet", True, ("rs",), ("all",), ("status", "scale")),
    ("coordination.k8s.io", "leases"): ("Lease", True, (), (), ()),
    ("networking.k8s.io", "ingresses"): ("Ingress", True, ("ing",), (), ("status",)),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        ("api-extensions",),
        ("status",),
    ),
}


def test_exactly_the_required_kinds_are_built_in() -> None:
    assert {(rt.group, rt.resource) for rt in BUILTIN_TYPES} == set(EXPECTED)
    assert len(BUILTIN_TYPES) == len(EXPECTED)


@pytest.mark.parametrize("key", sorted(EXPECTED), ids=lambda k: f"{k[1]}.{k[0] or 'core'}")
def test_discovery_facts(key: tuple[str, str]) -> None:
    kind, namespaced, short, categories, subresources = EXPECTED[key]
    rt = builtin_type(*key)
    assert rt is not None
    assert (rt.kind, rt.namespaced, rt.short_names, rt.categories, rt.subresources) == (
        kind,
        namespaced,
        short,
        categories,
        subresources,
    )
    assert rt.version == "v1"
    assert rt.singular == kind.lower()
    assert rt.list_kind == kind + "List"
    assert rt.builtin and rt.source == "builtin" and rt.identity == ""
    # Upstream: namespaces are the one kind here without deletecollection.
    expected_verbs = tuple(
        v for v in ALL_VERBS if key != ("", "namespaces") or v != "deletecollection"
    )
    assert tuple(sorted(rt.verbs)) == expected_verbs


def test_each_schema_is_the_upstream_definition_of_its_kind() -> None:
    for rt in BUILTIN_TYPES:
        name = definition_name(rt)
        assert name is not None and name.endswith("." + rt.kind)
        schema = resolve_schema(rt.schema)
        assert schema is not None
        gvks = schema["x-kubernetes-group-version-kind"]
        assert {"group": rt.group, "version": rt.version, "kind": rt.kind} in gvks
        assert {"apiVersion", "kind", "metadata"} <= set(schema["properties"])


def test_resolve_schema_follows_refs_and_leaves_inline_nodes() -> None:
    spec_ref = resolve_schema(builtin_type("apps", "deployments").schema)["properties"]["spec"]
    spec = resolve_schema(spec_ref)
    assert spec is definitions()["io.k8s.api.apps.v1.DeploymentSpec"]
    assert "replicas" in spec["properties"]
    inline = {"type": "string"}
    assert resolve_schema(inline) is inline
    assert resolve_schema(None) is None
    with pytest.raises(ValueError):
        resolve_schema({"$ref": "http://elsewhere/x"})


def test_lookup_misses_return_none() -> None:
    assert builtin_type("", "nodes") is None
    assert builtin_type("apps", "pods") is None


def test_definitions_load_once_and_fast() -> None:
    builtin.definitions.cache_clear()
    start = time.perf_counter()
    first = definitions()
    elapsed = time.perf_counter() - start
    assert definitions() is first
    assert len(first) > 500
    # The 1.3 MB document parses in well under a second with orjson (typically ~80 ms).
    assert elapsed < 1.0
