"""Defaulting: upstream's built-in defaults and apiextensions' structural-schema defaults."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from edgemc.embedded.apiserver.builtin import builtin_type
from edgemc.embedded.apiserver.defaults import apply_defaults, pull_policy_for
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.validation import validate_object


def _container(image: str = "nginx:1.25", **extra: Any) -> dict[str, Any]:
    return {"name": "c", "image": image, **extra}


def test_deployment_defaults() -> None:
    rt = builtin_type("apps", "deployments")
    obj = {
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [_container(ports=[{"containerPort": 80}])]},
            },
        },
    }
    apply_defaults(rt, obj)
    assert obj["apiVersion"] == "apps/v1" and obj["kind"] == "Deployment"
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Always"
    assert pod["dnsPolicy"] == "ClusterFirst"
    assert pod["schedulerName"] == "default-scheduler"
    assert pod["terminationGracePeriodSeconds"] == 30
    assert pod["securityContext"] == {}
    assert "enableServiceLinks" not in pod  # set on Pods only, as upstream
    [container] = pod["containers"]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"
    assert container["resources"] == {}
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    # The defaulted object is still valid.
    assert validate_object(rt, obj).ok


def test_explicit_values_are_kept_and_recreate_gets_no_rolling_update() -> None:
    rt = builtin_type("apps", "deployments")
    obj = {"spec": {"replicas": 0, "strategy": {"type": "Recreate"}, "revisionHistoryLimit": 3}}
    apply_defaults(rt, obj)
    assert obj["spec"]["replicas"] == 0
    assert obj["spec"]["strategy"] == {"type": "Recreate"}
    assert obj["spec"]["revisionHistoryLimit"] == 3


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("registry:5000/nginx", "Always"),
        ("registry:5000/nginx:1.2", "IfNotPresent"),
        ("nginx:1.25", "IfNotPresent"),
        ("nginx@sha256:abc", "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    assert pull_policy_for(image) == policy


def test_replicaset_and_pod_defaults() -> None:
    rs = {"spec": {"template": {"spec": {"containers": [_container("busybox")]}}}}
    apply_defaults(builtin_type("apps", "replicasets"), rs)
    assert rs["spec"]["replicas"] == 1
    assert rs["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    pod = {"spec": {"containers": [_container()], "initContainers": [_container("init:1")]}}
    apply_defaults(builtin_type("", "pods"), pod)
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["enableServiceLinks"] is True
    assert pod["spec"]["initContainers"][0]["terminationMessagePolicy"] == "File"
    empty = {"spec": {"restartPolicy": "", "containers": [_container(imagePullPolicy="")]}}
    apply_defaults(builtin_type("", "pods"), empty)
    assert empty["spec"]["restartPolicy"] == "Always"
    assert empty["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_service_defaults() -> None:
    svc = {"spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}}
    apply_defaults(builtin_type("", "services"), svc)
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["sessionAffinity"] == "None"
    assert svc["spec"]["internalTrafficPolicy"] == "Cluster"
    assert svc["spec"]["ports"] == [
        {"port": 80, "protocol": "TCP", "targetPort": 80},
        {"port": 53, "protocol": "UDP", "targetPort": "dns"},
    ]


def test_namespace_defaults() -> None:
    ns = {"metadata": {"name": "team-a"}}
    apply_defaults(builtin_type("", "namespaces"), ns)
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert ns["apiVersion"] == "v1" and ns["kind"] == "Namespace"


def test_secret_defaults_and_string_data() -> None:
    secret = {"metadata": {"name": "s"}, "data": {"a": "eA=="}, "stringData": {"b": "hello"}}
    apply_defaults(builtin_type("", "secrets"), secret)
    assert secret["type"] == "Opaque"
    assert "stringData" not in secret
    assert secret["data"] == {"a": "eA==", "b": base64.b64encode(b"hello").decode()}
    typed = {"type": "kubernetes.io/tls"}
    apply_defaults(builtin_type("", "secrets"), typed)
    assert typed["type"] == "kubernetes.io/tls"


def test_kinds_without_defaults_are_untouched() -> None:
    for group, resource in [
        ("", "serviceaccounts"),
        ("", "configmaps"),
        ("rbac.authorization.k8s.io", "roles"),
    ]:
        rt = builtin_type(group, resource)
        obj = {"metadata": {"name": "x"}}
        apply_defaults(rt, obj)
        assert obj == {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": {"name": "x"}}


def test_crd_names_and_conversion_defaults() -> None:
    crd = {"spec": {"names": {"plural": "widgets", "kind": "Widget"}}}
    apply_defaults(builtin_type("apiextensions.k8s.io", "customresourcedefinitions"), crd)
    assert crd["spec"]["names"] == {
        "plural": "widgets",
        "kind": "Widget",
        "singular": "widget",
        "listKind": "WidgetList",
    }
    assert crd["spec"]["conversion"] == {"strategy": "None"}


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "default": "no"}}},
        "spec": {
            "type": "object",
            "default": {},
            "properties": {
                "replicas": {"type": "integer", "default": 1},
                "mode": {"type": "string", "default": "fast"},
                "nullable": {"type": "string", "nullable": True, "default": "d"},
                "selector": {
                    "type": "object",
                    "default": {},
                    "properties": {"match": {"type": "string", "default": "all"}},
                },
                "ports": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"protocol": {"type": "string", "default": "TCP"}},
                    },
                },
                "byName": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"weight": {"type": "integer", "default": 5}},
                    },
                },
            },
        },
        "status": {
            "type": "object",
            "properties": {"phase": {"type": "string", "default": "Scheduling"}},
        },
    },
}

WIDGETS = ResourceType("example.com", "v1", "widgets", "Widget", True, schema=SCHEMA, source="crd")


def test_schema_defaults_like_apiextensions() -> None:
    obj = {
        "metadata": {},
        "spec": {
            "mode": None,
            "nullable": None,
            "ports": [{}, {"protocol": "UDP"}],
            "byName": {"a": {}, "b": {"weight": 1}},
        },
    }
    apply_defaults(WIDGETS, obj)
    assert obj["apiVersion"] == "example.com/v1" and obj["kind"] == "Widget"
    assert obj["metadata"] == {}  # root metadata is not defaulted from the schema
    assert obj["spec"] == {
        "mode": "fast",  # null of a non-nullable field is dropped, then defaulted
        "nullable": None,  # nullable keeps its null
        "replicas": 1,
        "selector": {"match": "all"},  # defaulted object is defaulted inside too
        "ports": [{"protocol": "TCP"}, {"protocol": "UDP"}],
        "byName": {"a": {"weight": 5}, "b": {"weight": 1}},
    }
    assert "status" not in obj  # no default for status itself


def test_absent_parent_is_defaulted_from_its_own_default() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "w"}}
    apply_defaults(WIDGETS, obj)
    assert obj["spec"] == {
        "replicas": 1,
        "mode": "fast",
        "nullable": "d",
        "selector": {"match": "all"},
    }


def test_schema_backed_kube_kinds_get_only_schema_defaults() -> None:
    # kcp serves deployments from an APIResourceSchema: no native defaulting.
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}}},
    }
    rt = ResourceType(
        "apps", "v1", "deployments", "Deployment", True, schema=schema, source="binding"
    )
    obj = {"spec": {}}
    apply_defaults(rt, obj)
    assert obj == {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {}}
