"""kcp tenancy: logical clusters, workspace paths, Workspace admission and the staged lifecycle.

A Workspace lives in its parent's logical cluster; once scheduled it names a new logical
cluster (16 random base-36 characters) whose `LogicalCluster` object `cluster` records the
canonical path. Paths resolve segment by segment through Workspaces, as kcp's index does.
Phases advance Scheduling -> Initializing -> Ready over several passes, so clients see the
same asynchrony as on kcp v0.11.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable
from typing import Any

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.objects import ObjectService, Operation, Scope, User, now_rfc3339
from edgemc.embedded.apiserver.reactor import Reactor
from edgemc.embedded.apiserver.registry import Registry
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.storage import DELETED, Event, ResKey, Store

LOGICALCLUSTERS: ResKey = ("core.kcp.io", "logicalclusters", "")
ROOT = "root"
PHASE_LABEL = "tenancy.kcp.io/phase"
TYPE_ANNOTATION = "internal.tenancy.kcp.io/type"
PATH_ANNOTATION = "kcp.io/path"
CLUSTER_ANNOTATION = "kcp.io/cluster"
OWNER_ANNOTATION = "experimental.tenancy.kcp.io/owner"
SHARD_ANNOTATION = "internal.tenancy.kcp.io/shard"
CHOSEN_CLUSTER_ANNOTATION = "internal.tenancy.kcp.io/cluster"
LOGICALCLUSTER_FINALIZER = "core.kcp.io/logicalcluster"
SHARD_NAME = "root"

_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_PATH_SEGMENT = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
PATH_RE = re.compile(rf"^(system:[a-z0-9:-]+|{_PATH_SEGMENT}(:{_PATH_SEGMENT})*|\*)$")

# Workspace types of kcp v0.11's default batteries: default child type and whether new
# workspaces of the type get the default APIBindings to root's exports.
DEFAULT_CHILD_TYPE = {
    "root": "organization",
    "organization": "universal",
    "team": "universal",
    "home": "universal",
    "universal": None,
}
ALLOWED_PARENTS = {"organization": ("root",), "team": ("organization", "team")}
DEFAULT_EXPORTS = (
    "tenancy.kcp.io",
    "scheduling.kcp.io",
    "workload.kcp.io",
    "apiresource.kcp.io",
    "topology.kcp.io",
)
BINDINGS_INITIALIZER = "system:apibindings"

SYSTEM = User("system:kcp:tenancy", ("system:masters",))


def base36_hash(text: str, length: int) -> str:
    digest = int.from_bytes(hashlib.sha224(text.encode()).digest(), "big")
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while digest:
        digest, rem = divmod(digest, 36)
        out = chars[rem] + out
    return out[:length]


def random_cluster_name() -> str:
    return base36_hash(secrets.token_hex(32), 16)


def binding_name(cluster: str, path: str, export: str) -> str:
    """`<export>-<5 chars>`, stable per (cluster, export), like kcp's initializer."""
    suffix = base36_hash(f"{cluster}|{path}|{export}", 5)
    return f"{export}-{suffix}"


class Tenancy:
    """Workspace paths, admission and the workspace reconciler for one server."""

    def __init__(
        self,
        store: Store,
        service: ObjectService,
        registry: Registry,
        external_url: Callable[[], str],
    ) -> None:
        self.store = store
        self.service = service
        self.registry = registry
        self.external_url = external_url
        self.reactor = Reactor("workspaces", self._reconcile)
        # (parent cluster, workspace name) -> child cluster, for Workspaces past Scheduling.
        self._children: dict[tuple[str, str], str] = {}
        self.initialize_cluster: Callable[[str, str, str], bool] | None = None

    # -- paths ---------------------------------------------------------------------------

    def start(self) -> None:
        for reskey in self.store.reskeys():
            if reskey[:2] == ("tenancy.kcp.io", "workspaces"):
                for cluster, ws in self.store.list(reskey, None):
                    self._index(cluster, ws)
                    self.reactor.enqueue((cluster, ws["metadata"]["name"]))
        self.store.add_listener(self._on_event)
        self.reactor.start()

    def _index(self, cluster: str, ws: dict[str, Any]) -> None:
        child = ws.get("spec", {}).get("cluster")
        if child:
            self._children[(cluster, ws["metadata"]["name"])] = child

    def _on_event(self, event: Event) -> None:
        if event.reskey[:2] != ("tenancy.kcp.io", "workspaces"):
            return
        if event.type == DELETED:
            self._children.pop((event.cluster, event.name), None)
            return
        self._index(event.cluster, event.obj)
        self.reactor.enqueue((event.cluster, event.name))

    def cluster_exists(self, cluster: str) -> bool:
        return self.store.get(LOGICALCLUSTERS, cluster, "", "cluster") is not None

    def resolve(self, path: str) -> str:
        """The logical cluster name of a path (or of a name); unknown paths come back as is."""
        segments = path.split(":")
        if len(segments) == 1 or path.startswith("system:"):
            return path
        current = segments[0]
        if not self.cluster_exists(current):
            return path
        for segment in segments[1:]:
            child = self._children.get((current, segment))
            if child is None:
                return path
            current = child
        return current

    def canonical_path(self, cluster: str) -> str:
        lc = self.store.get(LOGICALCLUSTERS, cluster, "", "cluster")
        if lc is None:
            return cluster
        return lc.get("metadata", {}).get("annotations", {}).get(PATH_ANNOTATION, cluster)

    def cluster_type(self, cluster: str) -> str:
        lc = self.store.get(LOGICALCLUSTERS, cluster, "", "cluster")
        if lc is None:
            return ""
        return lc.get("metadata", {}).get("annotations", {}).get(TYPE_ANNOTATION, "")

    def phase(self, cluster: str) -> str:
        lc = self.store.get(LOGICALCLUSTERS, cluster, "", "cluster")
        return "" if lc is None else lc.get("status", {}).get("phase", "")

    # -- admission -----------------------------------------------------------------------

    def admit(self, op: Operation) -> None:
        if (op.rt.group, op.rt.resource) != ("tenancy.kcp.io", "workspaces") or op.obj is None:
            return
        spec = op.obj.setdefault("spec", {})
        masters = "system:masters" in op.scope.user.groups
        if op.verb == "create":
            if not _NAME_RE.match(op.name):
                raise errors.invalid(
                    "Workspace",
                    "tenancy.kcp.io",
                    op.name,
                    [
                        {
                            "reason": "FieldValueInvalid",
                            "field": "metadata.name",
                            "message": f"Invalid value: {op.name!r}: must match {_NAME_RE.pattern}",
                        }
                    ],
                )
            parent_type = self.cluster_type(op.scope.cluster).split(":")[-1]
            wtype = dict(spec.get("type") or {})
            if not wtype.get("name"):
                default = DEFAULT_CHILD_TYPE.get(parent_type)
                if default is None:
                    raise errors.forbidden(
                        f'workspaces.tenancy.kcp.io "{op.name}" is forbidden: workspace type '
                        f"{self.cluster_type(op.scope.cluster) or parent_type} has no default "
                        f"child workspace type; specify spec.type",
                        ("tenancy.kcp.io", "workspaces"),
                        op.name,
                    )
                wtype["name"] = default
            wtype["name"] = str(wtype["name"]).lower()
            wtype.setdefault("path", ROOT)
            if wtype["name"] not in DEFAULT_CHILD_TYPE:
                raise errors.forbidden(
                    f'workspaces.tenancy.kcp.io "{op.name}" is forbidden: workspace type '
                    f"{wtype['path']}:{wtype['name']} does not exist",
                    ("tenancy.kcp.io", "workspaces"),
                    op.name,
                )
            parents = ALLOWED_PARENTS.get(wtype["name"])
            if parents is not None and parent_type not in parents:
                raise errors.forbidden(
                    f'workspaces.tenancy.kcp.io "{op.name}" is forbidden: workspace type '
                    f"{wtype['path']}:{wtype['name']} only allows parents of types "
                    + ", ".join(f"root:{p}" for p in parents),
                    ("tenancy.kcp.io", "workspaces"),
                    op.name,
                )
            spec["type"] = wtype
            if not masters:
                if spec.get("cluster") or spec.get("URL"):
                    raise errors.forbidden(
                        "spec.cluster and spec.URL can only be set by system:masters",
                        ("tenancy.kcp.io", "workspaces"),
                        op.name,
                    )
                annotations = op.obj["metadata"].setdefault("annotations", {})
                annotations[OWNER_ANNOTATION] = json.dumps(
                    {"username": op.scope.user.name, "groups": list(op.scope.user.groups)},
                    separators=(",", ":"),
                )
            op.obj.setdefault("status", {}).setdefault("phase", "Scheduling")
        elif op.verb == "update" and op.old is not None:
            old_spec = op.old.get("spec", {})
            if spec.get("type") != old_spec.get("type"):
                raise errors.invalid(
                    "Workspace",
                    "tenancy.kcp.io",
                    op.name,
                    [
                        {
                            "reason": "FieldValueInvalid",
                            "field": "spec.type",
                            "message": "Invalid value: field is immutable",
                        }
                    ],
                )
            for key in ("cluster", "URL"):
                if old_spec.get(key) and spec.get(key) != old_spec.get(key) and not masters:
                    raise errors.invalid(
                        "Workspace",
                        "tenancy.kcp.io",
                        op.name,
                        [
                            {
                                "reason": "FieldValueInvalid",
                                "field": f"spec.{key}",
                                "message": "Invalid value: field is immutable",
                            }
                        ],
                    )

    # -- reconcile -----------------------------------------------------------------------

    def _workspace_type(self, cluster: str) -> ResourceType | None:
        return self.registry.types_for(cluster).by_group_resource("tenancy.kcp.io", "workspaces")

    def _scope(self, cluster: str) -> Scope:
        return Scope(cluster, self.registry.types_for(cluster), SYSTEM)

    def _reconcile(self, key: Any) -> float | None:
        cluster, name = key
        rt = self._workspace_type(cluster)
        if rt is None:
            return None
        ws = self.store.get((rt.group, rt.resource, rt.identity), cluster, "", name)
        if ws is None:
            return None
        scope = self._scope(cluster)
        meta = ws["metadata"]
        if meta.get("deletionTimestamp"):
            return self._delete(scope, rt, ws)
        phase = ws.get("status", {}).get("phase") or "Scheduling"
        if phase == "Scheduling":
            return self._schedule(scope, rt, ws)
        if phase == "Initializing":
            return self._initialize(scope, rt, ws)
        self._set_label(scope, rt, ws, phase)
        return None

    def _set_label(self, scope: Scope, rt: ResourceType, ws: dict[str, Any], value: str) -> None:
        labels = ws["metadata"].get("labels") or {}
        if labels.get(PHASE_LABEL) == value:
            return
        meta = {**ws["metadata"], "labels": {**labels, PHASE_LABEL: value}}
        self.service.update(scope, rt, "", ws["metadata"]["name"], {**ws, "metadata": meta})

    def _schedule(self, scope: Scope, rt: ResourceType, ws: dict[str, Any]) -> float | None:
        meta = ws["metadata"]
        name = meta["name"]
        annotations = meta.get("annotations") or {}
        child = annotations.get(CHOSEN_CLUSTER_ANNOTATION)
        if not child:
            annotations = {
                **annotations,
                SHARD_ANNOTATION: base36_hash(SHARD_NAME, 32),
                CHOSEN_CLUSTER_ANNOTATION: random_cluster_name(),
            }
            finalizers = list(meta.get("finalizers") or [])
            if LOGICALCLUSTER_FINALIZER not in finalizers:
                finalizers.append(LOGICALCLUSTER_FINALIZER)
            new_meta = {**meta, "annotations": annotations, "finalizers": finalizers}
            self.service.update(scope, rt, "", name, {**ws, "metadata": new_meta})
            return None
        wtype = ws.get("spec", {}).get("type", {})
        type_ref = f"{wtype.get('path', ROOT)}:{wtype.get('name', 'universal')}"
        if not self.cluster_exists(child):
            self._create_logical_cluster(scope, ws, child, type_ref)
        url = f"{self.external_url()}/clusters/{child}"
        spec = {**ws.get("spec", {}), "cluster": child, "URL": url}
        ws = self.service.update(scope, rt, "", name, {**ws, "spec": spec})[0]
        now = now_rfc3339()
        status = {
            **ws.get("status", {}),
            "phase": "Initializing",
            "conditions": [
                {"type": "WorkspaceScheduled", "status": "True", "lastTransitionTime": now},
                {
                    "type": "WorkspaceInitialized",
                    "status": "False",
                    "reason": "InitializerExists",
                    "severity": "Info",
                    "lastTransitionTime": now,
                    "message": "Initializers still exist: "
                    + ", ".join(self._initializers(wtype.get("name", "universal"))),
                },
            ],
            "initializers": self._initializers(wtype.get("name", "universal")),
        }
        ws = self.service.update(
            scope, rt, "", name, {**ws, "status": status}, subresource="status"
        )[0]
        self._set_label(scope, rt, ws, "Initializing")
        return None

    @staticmethod
    def _initializers(type_name: str) -> list[str]:
        return ["root:universal", BINDINGS_INITIALIZER] if type_name in DEFAULT_CHILD_TYPE else []

    def _create_logical_cluster(
        self, scope: Scope, ws: dict[str, Any], child: str, type_ref: str
    ) -> None:
        parent_path = self.canonical_path(scope.cluster)
        path = f"{parent_path}:{ws['metadata']['name']}"
        child_scope = self._scope(child)
        rt = child_scope.types.by_group_resource("core.kcp.io", "logicalclusters")
        assert rt is not None
        annotations = {PATH_ANNOTATION: path, TYPE_ANNOTATION: type_ref}
        owner = (ws["metadata"].get("annotations") or {}).get(OWNER_ANNOTATION)
        if owner:
            annotations[OWNER_ANNOTATION] = owner
        lc = {
            "apiVersion": "core.kcp.io/v1alpha1",
            "kind": "LogicalCluster",
            "metadata": {"name": "cluster", "annotations": annotations},
            "spec": {
                "owner": {
                    "apiVersion": "tenancy.kcp.io/v1alpha1",
                    "resource": "workspaces",
                    "name": ws["metadata"]["name"],
                    "cluster": scope.cluster,
                    "uid": ws["metadata"]["uid"],
                },
                "initializers": self._initializers(type_ref.split(":")[-1]),
            },
        }
        created = self.service.create(child_scope, rt, "", lc)[0]
        status = {
            "phase": "Initializing",
            "URL": f"{self.external_url()}/clusters/{child}",
            "initializers": lc["spec"]["initializers"],
        }
        self.service.update(
            child_scope, rt, "", "cluster", {**created, "status": status}, subresource="status"
        )

    def _initialize(self, scope: Scope, rt: ResourceType, ws: dict[str, Any]) -> float | None:
        child = ws.get("spec", {}).get("cluster", "")
        wtype = ws.get("spec", {}).get("type", {})
        path = self.canonical_path(child)
        done = True
        if self.initialize_cluster is not None:
            done = self.initialize_cluster(child, path, wtype.get("name", "universal"))
        if not done:
            return 0.02
        child_scope = self._scope(child)
        lc_rt = child_scope.types.by_group_resource("core.kcp.io", "logicalclusters")
        lc = self.store.get(LOGICALCLUSTERS, child, "", "cluster")
        if lc_rt is not None and lc is not None and lc.get("status", {}).get("phase") != "Ready":
            status = {**lc.get("status", {}), "phase": "Ready", "initializers": []}
            self.service.update(
                child_scope, lc_rt, "", "cluster", {**lc, "status": status}, subresource="status"
            )
        now = now_rfc3339()
        status = {
            **ws.get("status", {}),
            "phase": "Ready",
            "conditions": [
                {"type": "WorkspaceScheduled", "status": "True", "lastTransitionTime": now},
                {"type": "WorkspaceInitialized", "status": "True", "lastTransitionTime": now},
            ],
            "initializers": [],
        }
        ws = self.service.update(
            scope, rt, "", ws["metadata"]["name"], {**ws, "status": status}, subresource="status"
        )[0]
        self._set_label(scope, rt, ws, "Ready")
        return None

    def _delete(self, scope: Scope, rt: ResourceType, ws: dict[str, Any]) -> float | None:
        self._set_label(scope, rt, ws, "Deleting")
        child = ws.get("spec", {}).get("cluster")
        if child:
            self.remove_cluster(child)
        ws = self.store.get(
            (rt.group, rt.resource, rt.identity), scope.cluster, "", ws["metadata"]["name"]
        )
        if ws is None:
            return None
        finalizers = [
            f for f in ws["metadata"].get("finalizers") or [] if f != LOGICALCLUSTER_FINALIZER
        ]
        meta = {**ws["metadata"], "finalizers": finalizers}
        self.service.update(scope, rt, "", meta["name"], {**ws, "metadata": meta})
        return None

    def remove_cluster(self, cluster: str) -> None:
        """Delete a logical cluster's whole content, child workspaces' clusters first."""
        for (parent, _name), child in list(self._children.items()):
            if parent == cluster:
                self.remove_cluster(child)
        for reskey in self.store.resources_in(cluster):
            for _, obj in self.store.list(reskey, cluster):
                meta = obj["metadata"]
                self.store.remove(reskey, cluster, meta.get("namespace", ""), meta["name"])
        self.registry.invalidate(cluster)
