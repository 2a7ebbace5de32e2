"""Resource classes: which API resources the translator copies to mailboxes and the edge.

Evaluated on (group, resource), first match wins (spec 6.2, without the original's
`clusterrolebindingss` typo, so ClusterRoleBindings are forcibly denatured like the other
RBAC kinds). Everything not listed is a plain workload kind that goes to the edge.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

GroupResource = tuple[str, str]


class ResourceClass(Enum):
    """How objects of a resource propagate."""

    TO_EDGE = "to-edge"  # copied to the mailbox and downsynced to the edge
    TO_MAILBOX = "to-mailbox"  # copied to the mailbox only (APIBindings)
    NOT_SUPPORTED = "not-supported"  # an error to ask for; never copied
    NOT_FOR_EDGE = "not-for-edge"  # silently never copied


_FORCIBLY_DENATURED: frozenset[GroupResource] = frozenset(
    {
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ("flowcontrol.apiserver.k8s.io", "flowschemas"),
        ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("", "limitranges"),
        ("", "resourcequotas"),
        ("", "serviceaccounts"),
    }
)
_NATURED_IN_BOTH: frozenset[GroupResource] = frozenset(
    {("apiextensions.k8s.io", "customresourcedefinitions"), ("", "namespaces")}
)
_TO_MAILBOX: frozenset[GroupResource] = frozenset({("apis.kcp.io", "apibindings")})
_NOT_SUPPORTED: frozenset[GroupResource] = frozenset(
    {
        ("apiregistration.k8s.io", "apiservices"),
        ("apiresource.kcp.io", "apiresourceimports"),
        ("apiresource.kcp.io", "negotiatedapiresources"),
        ("apis.kcp.io", "apiconversions"),
    }
)
_NOT_FOR_EDGE_GROUPS: frozenset[str] = frozenset(
    {"edge.kcp.io", "scheduling.kcp.io", "tenancy.kcp.io", "topology.kcp.io", "workload.kcp.io"}
)
_NOT_FOR_EDGE: frozenset[GroupResource] = frozenset(
    {
        ("apis.kcp.io", "apiexports"),
        ("apis.kcp.io", "apiexportendpointslices"),
        ("apis.kcp.io", "apiresourceschemas"),
        ("apps", "controllerrevisions"),
        ("authentication.k8s.io", "tokenreviews"),
        ("authorization.k8s.io", "localsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("certificates.k8s.io", "certificatesigningrequests"),
        ("core.kcp.io", "logicalclusters"),
        ("core.kcp.io", "shards"),
        ("events.k8s.io", "events"),
        ("", "bindings"),
        ("", "componentstatuses"),
        ("", "events"),
        ("", "nodes"),
    }
)


def classify(group: str, resource: str) -> ResourceClass:
    """The class of objects of `resource` in API group `group` ("" = core)."""
    gr = (group, resource)
    if gr in _FORCIBLY_DENATURED or gr in _NATURED_IN_BOTH:
        return ResourceClass.TO_EDGE
    if gr in _TO_MAILBOX:
        return ResourceClass.TO_MAILBOX
    if gr in _NOT_SUPPORTED:
        return ResourceClass.NOT_SUPPORTED
    if group in _NOT_FOR_EDGE_GROUPS or gr in _NOT_FOR_EDGE:
        return ResourceClass.NOT_FOR_EDGE
    return ResourceClass.TO_EDGE


def goes_to_mailbox(group: str, resource: str) -> bool:
    return classify(group, resource) in (ResourceClass.TO_EDGE, ResourceClass.TO_MAILBOX)


def goes_to_edge(group: str, resource: str) -> bool:
    return classify(group, resource) is ResourceClass.TO_EDGE


_SYSTEM_SECRET_TYPES = frozenset(
    {"kubernetes.io/service-account-token", "bootstrap.kubernetes.io/token"}
)


def is_system_object(obj: dict[str, Any]) -> bool:
    """Infrastructure every namespace gets by itself; never projected (spec 6.2)."""
    if obj.get("apiVersion") != "v1":
        return False
    kind = obj.get("kind")
    name = (obj.get("metadata") or {}).get("name")
    if kind == "Secret":
        return obj.get("type") in _SYSTEM_SECRET_TYPES
    if kind == "ConfigMap":
        return name == "kube-root-ca.crt"
    if kind == "ServiceAccount":
        return name == "default"
    return False
