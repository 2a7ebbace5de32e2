"""Kubernetes RBAC for the embedded server, evaluated per logical cluster (kcp workspace).

Two layers:

- Pure decisions: `rule_allows` (does one PolicyRule cover a request), `subject_matches`
  (does a binding subject name this user) and `Policy` (one cluster's Roles, ClusterRoles,
  RoleBindings and ClusterRoleBindings; does any binding grant the request). They take plain
  values and are what the unit tests cover densely.
- `RbacAuthorizer`: reads the four RBAC kinds of the request's logical cluster from the store
  (cached per cluster, dropped whenever one of them changes there), lets admin identities
  through and raises a Kubernetes `Forbidden` Status otherwise.

Semantics follow Kubernetes: only grants, no denies; `*` matches any verb, group or resource;
a rule resource `pods/status` covers only that subresource, `*/status` the status of any
resource and `*` everything; a rule with resourceNames covers only requests naming one of
them (so never list, watch, create or deletecollection); non-resource URLs match exactly or by
a trailing `*` prefix. ServiceAccount subjects without a namespace take the RoleBinding's.

Some ClusterRoles and bindings are built in rather than stored, so that existing workspaces
and clusters behave as upstream without bootstrap objects: `system:discovery` and
`system:public-info-viewer` (discovery, OpenAPI, /version and health for authenticated users,
the latter also for anonymous ones) and `cluster-admin` (a fallback when a binding names it
but no such ClusterRole is stored, as kcp's bootstrap policy provides it in every workspace).

kcp-specific rules (from kcp's workspace content authorizer): requests to `system:*` clusters
are denied to non-admins; in kcp mode a user that is not a ServiceAccount additionally needs
verb `access` on non-resource URL `/` in the workspace; requests through an APIExport virtual
workspace need the request's verb on `apiexports/content` (group `apis.kcp.io`, named after
the export) in the export's workspace. That a ServiceAccount from another workspace is
refused altogether is checked by the kcp layer (`KcpServer._check_access`) and again here
(virtual workspace requests do not pass through the former).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.auth import CLUSTER_EXTRA
from edgemc.embedded.apiserver.objects import Scope, User
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.storage import Event, ResKey, Store

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLES: ResKey = (RBAC_GROUP, "roles", "")
CLUSTER_ROLES: ResKey = (RBAC_GROUP, "clusterroles", "")
ROLE_BINDINGS: ResKey = (RBAC_GROUP, "rolebindings", "")
CLUSTER_ROLE_BINDINGS: ResKey = (RBAC_GROUP, "clusterrolebindings", "")
RBAC_RESKEYS = frozenset({ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS})

# Groups whose members are never checked: kube's always-allowed `system:masters` (shard-admin,
# the plain server's admin, in-process controllers) and kcp-admin's group, which kcp binds to
# cluster-admin in every workspace.
ADMIN_GROUPS = frozenset({"system:masters", "system:kcp:admin"})

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
SA_PREFIX = "system:serviceaccount:"
ANY = "*"


@dataclass(frozen=True, slots=True)
class Rule:
    """One PolicyRule: what it grants, as tuples (empty = nothing, except resourceNames)."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, rule: Mapping[str, Any]) -> Rule:
        def strings(key: str) -> tuple[str, ...]:
            value = rule.get(key) or ()
            return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()

        return cls(
            strings("verbs"),
            strings("apiGroups"),
            strings("resources"),
            strings("resourceNames"),
            strings("nonResourceURLs"),
        )


@dataclass(frozen=True, slots=True)
class Request:
    """What a request asks for, as RBAC sees it.

    Resource requests set `resource` (plural, without subresource); non-resource requests set
    `path` (e.g. "/version") and leave `resource` empty.
    """

    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def _verb_matches(rule: Rule, verb: str) -> bool:
    return ANY in rule.verbs or verb in rule.verbs


def _resource_matches(rule: Rule, request: Request) -> bool:
    wanted = request.combined_resource
    for granted in rule.resources:
        if granted in (ANY, wanted):
            return True
        # "*/status" grants the status subresource of every resource.
        if request.subresource and granted == f"*/{request.subresource}":
            return True
    return False


def _url_matches(rule: Rule, path: str) -> bool:
    for granted in rule.non_resource_urls:
        if granted in (ANY, path):
            return True
        if granted.endswith(ANY) and path.startswith(granted[:-1]):
            return True
    return False


def rule_allows(rule: Rule, request: Request) -> bool:
    """Whether one PolicyRule grants the request."""
    if not _verb_matches(rule, request.verb):
        return False
    if not request.is_resource:
        return _url_matches(rule, request.path)
    if not (ANY in rule.api_groups or request.api_group in rule.api_groups):
        return False
    if not _resource_matches(rule, request):
        return False
    return not rule.resource_names or request.name in rule.resource_names


def rules_allow(rules: Iterable[Rule], request: Request) -> bool:
    return any(rule_allows(rule, request) for rule in rules)


def subject_matches(subject: Mapping[str, Any], user: User, binding_namespace: str = "") -> bool:
    """Whether a binding subject names this user (directly, by group or as ServiceAccount)."""
    kind = subject.get("kind", "")
    name = subject.get("name", "")
    if kind == "User":
        return bool(name) and name == user.name
    if kind == "Group":
        return bool(name) and name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return bool(namespace and name) and user.name == f"{SA_PREFIX}{namespace}:{name}"
    return False


def _rules_of(obj: Mapping[str, Any] | None) -> tuple[Rule, ...]:
    if not obj:
        return ()
    return tuple(Rule.from_dict(r) for r in obj.get("rules") or () if isinstance(r, Mapping))


DISCOVERY_RULES = (
    Rule(
        verbs=("get",),
        non_resource_urls=(
            "/api",
            "/api/*",
            "/apis",
            "/apis/*",
            "/openapi",
            "/openapi/*",
            "/version",
            "/version/",
            "/healthz",
            "/livez",
            "/readyz",
        ),
    ),
)
PUBLIC_INFO_RULES = (
    Rule(
        verbs=("get",), non_resource_urls=("/version", "/version/", "/healthz", "/livez", "/readyz")
    ),
)
CLUSTER_ADMIN_RULES = (
    Rule(verbs=(ANY,), api_groups=(ANY,), resources=(ANY,)),
    Rule(verbs=(ANY,), non_resource_urls=(ANY,)),
)
# ClusterRoles consulted when a binding names them and the cluster stores no such object.
BUILTIN_CLUSTER_ROLES: dict[str, tuple[Rule, ...]] = {
    "cluster-admin": CLUSTER_ADMIN_RULES,
    "system:discovery": DISCOVERY_RULES,
    "system:public-info-viewer": PUBLIC_INFO_RULES,
}


def builtin_rules(user: User) -> tuple[Rule, ...]:
    """Rules every cluster grants without stored objects (upstream's default bindings)."""
    if AUTHENTICATED in user.groups:
        return DISCOVERY_RULES
    if UNAUTHENTICATED in user.groups:
        return PUBLIC_INFO_RULES
    return ()


# How many (user, namespace) rule sets one cluster's Policy remembers; beyond that the oldest
# are recomputed on demand (each costs one pass over the cluster's bindings).
RULE_CACHE_SIZE = 512


class Policy:
    """The RBAC objects of one logical cluster, and the decisions they imply."""

    def __init__(
        self,
        roles: Sequence[Mapping[str, Any]] = (),
        cluster_roles: Sequence[Mapping[str, Any]] = (),
        role_bindings: Sequence[Mapping[str, Any]] = (),
        cluster_role_bindings: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self._roles = {
            (r["metadata"].get("namespace", ""), r["metadata"]["name"]): _rules_of(r) for r in roles
        }
        self._cluster_roles = {r["metadata"]["name"]: _rules_of(r) for r in cluster_roles}
        self._role_bindings = list(role_bindings)
        self._cluster_role_bindings = list(cluster_role_bindings)
        self._cache: OrderedDict[tuple, tuple[Rule, ...]] = OrderedDict()

    def _role_rules(self, ref: Mapping[str, Any], namespace: str) -> tuple[Rule, ...]:
        kind, name = ref.get("kind", ""), ref.get("name", "")
        if kind == "ClusterRole":
            found = self._cluster_roles.get(name)
            return found if found is not None else BUILTIN_CLUSTER_ROLES.get(name, ())
        if kind == "Role" and namespace:
            return self._roles.get((namespace, name), ())
        return ()

    def rules_for(self, user: User, namespace: str) -> tuple[Rule, ...]:
        """Every rule granted to the user cluster-wide, plus in `namespace` if given."""
        key = (user.name, user.groups, namespace)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        rules: list[Rule] = list(builtin_rules(user))
        for binding in self._cluster_role_bindings:
            if any(subject_matches(s, user) for s in binding.get("subjects") or ()):
                rules.extend(self._role_rules(binding.get("roleRef") or {}, ""))
        if namespace:
            for binding in self._role_bindings:
                if binding["metadata"].get("namespace", "") != namespace:
                    continue
                if any(subject_matches(s, user, namespace) for s in binding.get("subjects") or ()):
                    rules.extend(self._role_rules(binding.get("roleRef") or {}, namespace))
        result = tuple(rules)
        self._cache[key] = result
        if len(self._cache) > RULE_CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    def allows(self, user: User, request: Request) -> bool:
        return rules_allow(self.rules_for(user, request.namespace), request)


def is_admin(user: User) -> bool:
    return any(group in ADMIN_GROUPS for group in user.groups)


def _qualified(group: str, resource: str) -> str:
    return f"{resource}.{group}" if group else resource


def forbidden(user: User, request: Request, reason: str = "") -> errors.StatusError:
    """A 403 Status worded as kube-apiserver words it (and kubectl shows it)."""
    suffix = f": {reason}" if reason else ""
    if not request.is_resource:
        return errors.forbidden(
            f'forbidden: User "{user.name}" cannot {request.verb} path "{request.path}"{suffix}'
        )
    where = (
        f'in the namespace "{request.namespace}"' if request.namespace else "at the cluster scope"
    )
    qualified = _qualified(request.api_group, request.resource)
    subject = f'{qualified} "{request.name}"' if request.name else qualified
    return errors.forbidden(
        f'{subject} is forbidden: User "{user.name}" cannot {request.verb} resource '
        f'"{request.combined_resource}" in API group "{request.api_group}" {where}{suffix}',
        (request.api_group, request.resource),
        request.name,
    )


VIRTUAL_PREFIX = "/services/apiexport/"


class RbacAuthorizer:
    """Authorizes requests against the RBAC objects stored in their logical cluster.

    Install `authorize` as the server's resource authorizer and `authorize_path` as its
    non-resource authorizer. `workspace_access` turns on kcp's rule that users other than
    ServiceAccounts need verb `access` on `/` in a workspace before anything else.
    """

    def __init__(self, store: Store, *, workspace_access: bool = False) -> None:
        self.store = store
        self.workspace_access = workspace_access
        self._policies: dict[str, Policy] = {}
        store.add_listener(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.reskey in RBAC_RESKEYS:
            self._policies.pop(event.cluster, None)

    def policy(self, cluster: str) -> Policy:
        """The (cached) policy of one logical cluster."""
        policy = self._policies.get(cluster)
        if policy is None:

            def objects(reskey: ResKey) -> list[dict[str, Any]]:
                return [obj for _, obj in self.store.list(reskey, cluster)]

            policy = Policy(
                objects(ROLES),
                objects(CLUSTER_ROLES),
                objects(ROLE_BINDINGS),
                objects(CLUSTER_ROLE_BINDINGS),
            )
            self._policies[cluster] = policy
        return policy

    def allows(self, user: User, cluster: str, request: Request) -> bool:
        """The decision alone (no exception); admins are always allowed."""
        if is_admin(user):
            return True
        home = user.extra.get(CLUSTER_EXTRA)
        if home and home[0] != cluster:
            return False  # a ServiceAccount of another workspace
        if rules_allow(builtin_rules(user), request):
            return True
        if cluster.startswith("system:") or cluster == "*":
            return False
        policy = self.policy(cluster)
        if self.workspace_access and not user.name.startswith(SA_PREFIX):
            access = Request("access", path="/")
            if not policy.allows(user, access):
                return False
        return policy.allows(user, request)

    def check(self, scope: Scope, request: Request) -> None:
        """Raise Forbidden unless the scope's user may make the request there."""
        user = scope.user
        if is_admin(user):
            return
        if scope.prefix.startswith(VIRTUAL_PREFIX):
            self._check_virtual(scope, request)
            return
        if not self.allows(user, scope.cluster, request):
            raise forbidden(user, request)

    def _check_virtual(self, scope: Scope, request: Request) -> None:
        # /services/apiexport/<export cluster>/<export name>/clusters/<target>
        parts = scope.prefix.split("/")
        export_cluster, export_name = parts[3], parts[4]
        content = Request(
            request.verb,
            api_group="apis.kcp.io",
            resource="apiexports",
            subresource="content",
            name=export_name,
        )
        if not self.allows(scope.user, export_cluster, content):
            raise forbidden(scope.user, request, f"no {request.verb} access to APIExport content")

    def authorize(
        self, scope: Scope, verb: str, rt: ResourceType, namespace: str, name: str, sub: str
    ) -> None:
        """The server's resource authorizer hook."""
        if rt.group == "" and rt.resource == "namespaces" and name:
            namespace = name  # as upstream: a Namespace is inside itself for RoleBindings
        self.check(scope, Request(verb, rt.group, rt.resource, sub, namespace, name))

    def authorize_path(self, scope: Scope, verb: str, path: str) -> None:
        """The server's non-resource authorizer hook (discovery, OpenAPI, /version, ...)."""
        self.check(scope, Request(verb, path=path))
