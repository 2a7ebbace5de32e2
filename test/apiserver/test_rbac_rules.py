"""RBAC decisions without a server: rule matching, subjects, policies and the store authorizer."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.auth import CLUSTER_EXTRA
from edgemc.embedded.apiserver.builtin import BUILTIN_TYPES
from edgemc.embedded.apiserver.objects import Scope, User
from edgemc.embedded.apiserver.rbac import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    ROLE_BINDINGS,
    ROLES,
    Policy,
    RbacAuthorizer,
    Request,
    Rule,
    forbidden,
    rule_allows,
    subject_matches,
)
from edgemc.embedded.apiserver.storage import Store

names = st.text("abcdefgh-", min_size=1, max_size=6)
verbs = st.sampled_from(
    ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
)
groups = st.sampled_from(["", "apps", "rbac.authorization.k8s.io", "edge.kcp.io"])
resource_requests = st.builds(
    Request,
    verb=verbs,
    api_group=groups,
    resource=names,
    subresource=st.sampled_from(["", "", "status", "scale"]),
    namespace=st.sampled_from(["", "a", "b"]),
    name=st.sampled_from(["", "", "x", "y"]),
)
paths = st.sampled_from(["/", "/api", "/api/v1", "/apis", "/apis/apps", "/version", "/metrics"])
url_requests = st.builds(Request, verb=st.sampled_from(["get", "post", "access"]), path=paths)
requests = st.one_of(resource_requests, url_requests)

SA = User(
    "system:serviceaccount:a:reader",
    ("system:serviceaccounts", "system:serviceaccounts:a", "system:authenticated"),
)


def exact_rule(request: Request) -> Rule:
    """The narrowest rule that grants exactly this request."""
    if not request.is_resource:
        return Rule(verbs=(request.verb,), non_resource_urls=(request.path,))
    return Rule(
        verbs=(request.verb,),
        api_groups=(request.api_group,),
        resources=(request.combined_resource,),
        resource_names=(request.name,) if request.name else (),
    )


@given(requests)
def test_wildcards_grant_everything(request: Request) -> None:
    everything = Rule(verbs=("*",), api_groups=("*",), resources=("*",), non_resource_urls=("*",))
    assert rule_allows(everything, request)


@given(requests)
def test_an_empty_rule_grants_nothing(request: Request) -> None:
    assert not rule_allows(Rule(), request)
    assert not rule_allows(Rule.from_dict({}), request)


@given(requests)
def test_the_exact_rule_grants_its_request(request: Request) -> None:
    assert rule_allows(exact_rule(request), request)


@given(resource_requests, verbs)
def test_other_verbs_are_not_granted(request: Request, verb: str) -> None:
    rule = exact_rule(request)
    assert rule_allows(rule, Request(verb, *_tail(request))) == (verb == request.verb)


def _tail(request: Request) -> tuple[str, ...]:
    r = request
    return (r.api_group, r.resource, r.subresource, r.namespace, r.name, r.path)


@given(resource_requests, groups)
def test_api_group_must_match(request: Request, group: str) -> None:
    rule = exact_rule(request)
    moved = Request(request.verb, group, *_tail(request)[1:])
    assert rule_allows(rule, moved) == (group == request.api_group)


@given(resource_requests)
def test_resource_names_never_grant_nameless_requests(request: Request) -> None:
    rule = Rule(verbs=("*",), api_groups=("*",), resources=("*",), resource_names=("x",))
    assert rule_allows(rule, request) == (request.name == "x")


@given(resource_requests)
def test_resource_rules_do_not_grant_urls_and_back(request: Request) -> None:
    resources_only = Rule(verbs=("*",), api_groups=("*",), resources=("*",))
    urls_only = Rule(verbs=("*",), non_resource_urls=("*",))
    assert rule_allows(resources_only, request)
    assert not rule_allows(urls_only, request)
    url = Request(request.verb, path="/api")
    assert rule_allows(urls_only, url) and not rule_allows(resources_only, url)


@given(names, st.sampled_from(["status", "scale"]))
def test_subresources(resource: str, sub: str) -> None:
    main = Request("update", "apps", resource)
    subreq = Request("update", "apps", resource, sub)

    def grants(*resources: str) -> tuple[bool, bool]:
        rule = Rule(verbs=("update",), api_groups=("apps",), resources=resources)
        return rule_allows(rule, main), rule_allows(rule, subreq)

    assert grants(resource) == (True, False)
    assert grants(f"{resource}/{sub}") == (False, True)
    assert grants(f"*/{sub}") == (False, True)
    assert grants("*") == (True, True)
    assert grants(f"{resource}/*") == (False, False)  # not a pattern upstream either


def test_non_resource_url_patterns() -> None:
    rule = Rule(verbs=("get",), non_resource_urls=("/apis/*", "/version"))
    assert rule_allows(rule, Request("get", path="/apis/apps/v1"))
    assert rule_allows(rule, Request("get", path="/apis/"))
    assert rule_allows(rule, Request("get", path="/version"))
    assert not rule_allows(rule, Request("get", path="/apis"))
    assert not rule_allows(rule, Request("get", path="/version/x"))
    assert not rule_allows(rule, Request("post", path="/version"))


def test_rule_from_dict_ignores_junk() -> None:
    rule = Rule.from_dict({"verbs": ["get"], "apiGroups": "apps", "resources": None})
    assert rule == Rule(verbs=("get",))


@pytest.mark.parametrize(
    ("subject", "binding_ns", "matches"),
    [
        ({"kind": "ServiceAccount", "namespace": "a", "name": "reader"}, "", True),
        ({"kind": "ServiceAccount", "namespace": "b", "name": "reader"}, "", False),
        ({"kind": "ServiceAccount", "name": "reader"}, "a", True),  # RoleBinding's namespace
        ({"kind": "ServiceAccount", "name": "reader"}, "", False),
        ({"kind": "User", "name": "system:serviceaccount:a:reader"}, "", True),
        ({"kind": "User", "name": "reader"}, "", False),
        ({"kind": "Group", "name": "system:serviceaccounts:a"}, "", True),
        ({"kind": "Group", "name": "system:serviceaccounts"}, "", True),
        ({"kind": "Group", "name": "system:authenticated"}, "", True),
        ({"kind": "Group", "name": "system:serviceaccounts:b"}, "", False),
        ({"kind": "Group", "name": "system:masters"}, "", False),
        ({"kind": "Robot", "name": "reader"}, "a", False),
        ({"kind": "User", "name": ""}, "", False),
    ],
)
def test_subjects(subject: dict[str, Any], binding_ns: str, matches: bool) -> None:
    assert subject_matches(subject, SA, binding_ns) is matches


def _obj(kind: str, name: str, ns: str = "", **body: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": ns} if ns else {})}
    return {"kind": kind, "metadata": meta, **body}


def _binding(kind: str, name: str, role_kind: str, role: str, ns: str = "") -> dict[str, Any]:
    return _obj(
        kind,
        name,
        ns,
        roleRef={"kind": role_kind, "name": role},
        subjects=[{"kind": "ServiceAccount", "namespace": "a", "name": "reader"}],
    )


READ_PODS = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]


def test_rolebinding_to_clusterrole_grants_only_in_its_namespace() -> None:
    policy = Policy(
        cluster_roles=[_obj("ClusterRole", "pod-reader", rules=READ_PODS)],
        role_bindings=[_binding("RoleBinding", "rb", "ClusterRole", "pod-reader", "b")],
    )
    assert policy.allows(SA, Request("list", "", "pods", namespace="b"))
    assert not policy.allows(SA, Request("list", "", "pods", namespace="a"))
    assert not policy.allows(SA, Request("list", "", "pods"))


def test_clusterrolebinding_to_a_role_grants_nothing() -> None:
    policy = Policy(
        roles=[_obj("Role", "pod-reader", "a", rules=READ_PODS)],
        cluster_role_bindings=[_binding("ClusterRoleBinding", "crb", "Role", "pod-reader")],
    )
    assert not policy.allows(SA, Request("list", "", "pods", namespace="a"))


def test_a_binding_to_a_missing_role_grants_nothing_until_it_exists() -> None:
    binding = _binding("RoleBinding", "rb", "Role", "later", "a")
    assert not Policy(role_bindings=[binding]).allows(SA, Request("get", "", "pods", "", "a", "p"))
    later = Policy(roles=[_obj("Role", "later", "a", rules=READ_PODS)], role_bindings=[binding])
    assert later.allows(SA, Request("get", "", "pods", "", "a", "p"))


def test_builtin_cluster_roles() -> None:
    crb = _binding("ClusterRoleBinding", "admin", "ClusterRole", "cluster-admin")
    assert Policy(cluster_role_bindings=[crb]).allows(SA, Request("delete", "apps", "x", "", "a"))
    # A stored ClusterRole of the same name wins over the built-in one.
    stored = _obj("ClusterRole", "cluster-admin", rules=READ_PODS)
    policy = Policy(cluster_roles=[stored], cluster_role_bindings=[crb])
    assert not policy.allows(SA, Request("delete", "apps", "x", "", "a"))
    # Discovery is open to every authenticated user without any stored object.
    empty = Policy()
    for path in ("/api", "/api/v1", "/apis/apps/v1", "/openapi/v2", "/version", "/healthz"):
        assert empty.allows(SA, Request("get", path=path)), path
    assert not empty.allows(SA, Request("get", path="/"))
    anonymous = User("system:anonymous", ("system:unauthenticated",))
    assert empty.allows(anonymous, Request("get", path="/version"))
    assert not empty.allows(anonymous, Request("get", path="/api"))


@given(st.lists(st.sampled_from(range(4)), max_size=4), requests)
def test_more_bindings_never_take_rights_away(extra: list[int], request: Request) -> None:
    base = Policy(
        roles=[_obj("Role", "r", "a", rules=READ_PODS)],
        role_bindings=[_binding("RoleBinding", "rb", "Role", "r", "a")],
    )
    candidates = [
        _binding("ClusterRoleBinding", "c0", "ClusterRole", "cluster-admin"),
        _binding("RoleBinding", "c1", "ClusterRole", "cluster-admin", "b"),
        _binding("RoleBinding", "c2", "Role", "missing", "a"),
        _binding("ClusterRoleBinding", "c3", "ClusterRole", "system:discovery"),
    ]
    more = Policy(
        roles=[_obj("Role", "r", "a", rules=READ_PODS)],
        role_bindings=[_binding("RoleBinding", "rb", "Role", "r", "a")]
        + [candidates[i] for i in extra if candidates[i]["kind"] == "RoleBinding"],
        cluster_role_bindings=[
            candidates[i] for i in extra if candidates[i]["kind"] == "ClusterRoleBinding"
        ],
    )
    if base.allows(SA, request):
        assert more.allows(SA, request)


def test_forbidden_messages_have_kubectls_shape() -> None:
    err = forbidden(SA, Request("list", "", "pods", namespace="default"))
    assert err.code == 403 and err.reason == "Forbidden"
    assert err.message == (
        'pods is forbidden: User "system:serviceaccount:a:reader" cannot list resource "pods" '
        'in API group "" in the namespace "default"'
    )
    err = forbidden(SA, Request("update", "apps", "deployments", "status", "", "d"))
    assert err.message == (
        'deployments.apps "d" is forbidden: User "system:serviceaccount:a:reader" cannot update '
        'resource "deployments/status" in API group "apps" at the cluster scope'
    )
    assert err.details == {"name": "d", "group": "apps", "kind": "deployments"}
    err = forbidden(SA, Request("get", path="/metrics"))
    assert (
        err.message == 'forbidden: User "system:serviceaccount:a:reader" cannot get path "/metrics"'
    )


# -- the authorizer over a store -----------------------------------------------------------


def _put(store: Store, reskey: tuple[str, str, str], cluster: str, obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    store.put(reskey, cluster, meta.get("namespace", ""), meta["name"], obj)


def _scope(cluster: str, user: User) -> Scope:
    return Scope(cluster, None, user)  # type: ignore[arg-type]


def test_authorizer_reads_the_clusters_objects_and_follows_changes() -> None:
    store = Store()
    authz = RbacAuthorizer(store)
    user = User(SA.name, SA.groups, {CLUSTER_EXTRA: ["c1"]})
    get_pod = Request("get", "", "pods", "", "a", "p")
    with pytest.raises(errors.StatusError) as refused:
        authz.check(_scope("c1", user), get_pod)
    assert refused.value.code == 403
    _put(store, ROLES, "c1", _obj("Role", "r", "a", rules=READ_PODS))
    _put(store, ROLE_BINDINGS, "c1", _binding("RoleBinding", "r", "Role", "r", "a"))
    authz.check(_scope("c1", user), get_pod)
    # The same objects in another cluster do not help a token of c1 there.
    _put(store, ROLES, "c2", _obj("Role", "r", "a", rules=READ_PODS))
    _put(store, ROLE_BINDINGS, "c2", _binding("RoleBinding", "r", "Role", "r", "a"))
    assert not authz.allows(user, "c2", get_pod)
    store.remove(ROLE_BINDINGS, "c1", "a", "r")
    assert not authz.allows(user, "c1", get_pod)
    _put(
        store,
        CLUSTER_ROLES,
        "c1",
        _obj(
            "ClusterRole", "all", rules=[{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
        ),
    )
    _put(
        store,
        CLUSTER_ROLE_BINDINGS,
        "c1",
        _binding("ClusterRoleBinding", "all", "ClusterRole", "all"),
    )
    assert authz.allows(user, "c1", get_pod)
    assert not authz.allows(user, "system:admin", get_pod)


def test_admins_are_never_checked() -> None:
    authz = RbacAuthorizer(Store())
    for groups in (("system:masters",), ("system:kcp:admin", "system:authenticated")):
        assert authz.allows(User("someone", groups), "system:admin", Request("delete", "", "x"))


def test_kcp_users_need_workspace_access() -> None:
    store = Store()
    authz = RbacAuthorizer(store, workspace_access=True)
    user = User("alice", ("system:authenticated",))
    _put(
        store,
        CLUSTER_ROLES,
        "c",
        _obj(
            "ClusterRole", "all", rules=[{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
        ),
    )
    crb = _obj(
        "ClusterRoleBinding",
        "all",
        roleRef={"kind": "ClusterRole", "name": "all"},
        subjects=[{"kind": "User", "name": "alice"}],
    )
    _put(store, CLUSTER_ROLE_BINDINGS, "c", crb)
    get_cm = Request("get", "", "configmaps", "", "default", "x")
    assert not authz.allows(user, "c", get_cm)
    assert RbacAuthorizer(store).allows(user, "c", get_cm)
    access = [{"nonResourceURLs": ["/"], "verbs": ["access"]}]
    _put(store, CLUSTER_ROLES, "c", _obj("ClusterRole", "access", rules=access))
    _put(
        store,
        CLUSTER_ROLE_BINDINGS,
        "c",
        {
            **crb,
            "metadata": {"name": "access"},
            "roleRef": {"kind": "ClusterRole", "name": "access"},
        },
    )
    assert authz.allows(user, "c", get_cm)


def test_a_namespace_is_inside_itself() -> None:
    store = Store()
    authz = RbacAuthorizer(store)
    user = User(SA.name, SA.groups, {CLUSTER_EXTRA: ["c"]})
    rules = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]
    _put(store, ROLES, "c", _obj("Role", "ns", "a", rules=rules))
    _put(store, ROLE_BINDINGS, "c", _binding("RoleBinding", "ns", "Role", "ns", "a"))
    namespaces = next(rt for rt in BUILTIN_TYPES if (rt.group, rt.resource) == ("", "namespaces"))
    authz.authorize(_scope("c", user), "get", namespaces, "", "a", "")
    with pytest.raises(errors.StatusError):
        authz.authorize(_scope("c", user), "get", namespaces, "", "b", "")
    with pytest.raises(errors.StatusError):
        authz.authorize(_scope("c", user), "list", namespaces, "", "", "")
