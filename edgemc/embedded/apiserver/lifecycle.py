"""In-process controllers of the embedded server: namespaces, garbage collection, CRD cleanup.

They do what kube-controller-manager and the apiextensions server do for a real cluster:
finish namespace and CRD deletion by removing their contents, collect dependents whose owners
are gone (background, foreground and orphan propagation), put ServiceAccount `default` and
ConfigMap `kube-root-ca.crt` into each namespace and, when a token minter is given, the
legacy token Secret of each ServiceAccount. Each reacts to store events through one queue.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import Callable
from typing import Any

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.crds import CLEANUP_FINALIZER, CRDS
from edgemc.embedded.apiserver.objects import NAMESPACES, ObjectService, Scope, User, reskey_of
from edgemc.embedded.apiserver.reactor import Reactor, wait_all_idle
from edgemc.embedded.apiserver.registry import Registry
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.storage import ADDED, DELETED, Event, ResKey, Store

SYSTEM_USER = User("system:kube-controller-manager", ("system:masters",))
SERVICEACCOUNTS: ResKey = ("", "serviceaccounts", "")
SECRETS: ResKey = ("", "secrets", "")
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SECRETS: ResKey = ("", "secrets", "")
CONFIGMAPS: ResKey = ("", "configmaps", "")

# Mints a ServiceAccount token: (cluster, namespace, name, uid) -> JWT.
TokenMinter = Callable[[str, str, str, str], str]

ObjectRef = tuple[ResKey, str, str, str]  # reskey, cluster, namespace, name


class Lifecycle:
    """Runs the server's own controllers off the store's event stream."""

    def __init__(
        self,
        store: Store,
        service: ObjectService,
        registry: Registry,
        *,
        ca_pem: str = "",
        mint_token: TokenMinter | None = None,
    ) -> None:
        self.store = store
        self.service = service
        self.registry = registry
        self.ca_pem = ca_pem
        self.mint_token = mint_token
        self.reactor = Reactor("apiserver-lifecycle", self._handle)
        self._uids: dict[str, ObjectRef] = {}
        self._dependents: dict[str, set[ObjectRef]] = {}

    # -- wiring --------------------------------------------------------------------------

    def start(self) -> None:
        for reskey in self.store.reskeys():
            for cluster, obj in self.store.list(reskey, None):
                self._index(reskey, cluster, obj, None)
        self.store.add_listener(self._on_event)
        self.reactor.start()
        # Objects written while the server was down may still need work.
        for cluster, ns in self.store.list(NAMESPACES, None):
            self.reactor.enqueue(("namespace", cluster, ns["metadata"]["name"]))
        for cluster, crd in self.store.list(CRDS, None):
            if crd["metadata"].get("deletionTimestamp"):
                self.reactor.enqueue(("crd", cluster, crd["metadata"]["name"]))

    async def stop(self) -> None:
        await self.reactor.stop()

    async def wait_idle(self) -> None:
        """Wait until every queued piece of work is done (for tests and start-up)."""
        await wait_all_idle(self.reactor)

    def _index(self, reskey: ResKey, cluster: str, obj: dict, prev: dict | None) -> None:
        meta = obj.get("metadata", {})
        ref: ObjectRef = (reskey, cluster, meta.get("namespace", ""), meta.get("name", ""))
        if prev is not None:
            for owner in prev.get("metadata", {}).get("ownerReferences") or ():
                self._dependents.get(owner.get("uid", ""), set()).discard(ref)
        uid = meta.get("uid")
        if uid:
            self._uids[uid] = ref
        for owner in meta.get("ownerReferences") or ():
            self._dependents.setdefault(owner.get("uid", ""), set()).add(ref)

    def _on_event(self, event: Event) -> None:
        meta = event.obj.get("metadata", {})
        if event.type == DELETED:
            self._uids.pop(meta.get("uid", ""), None)
            self._index_remove(event)
            self.reactor.enqueue(("owner-gone", meta.get("uid", "")))
            for owner in meta.get("ownerReferences") or ():
                ref = self._uids.get(owner.get("uid", ""))
                if ref is not None:
                    self.reactor.enqueue(("owner-deleting", *ref))
            if event.namespace:
                self.reactor.enqueue(("namespace", event.cluster, event.namespace))
            return
        self._index(event.reskey, event.cluster, event.obj, event.prev)
        if event.reskey == NAMESPACES:
            self.reactor.enqueue(("namespace", event.cluster, event.name))
        elif event.reskey == CRDS and meta.get("deletionTimestamp"):
            self.reactor.enqueue(("crd", event.cluster, event.name))
        elif event.reskey == SERVICEACCOUNTS and self.mint_token is not None:
            self.reactor.enqueue(("serviceaccount", event.cluster, event.namespace, event.name))
        elif event.reskey == SECRETS and self.mint_token is not None and _wants_token(event.obj):
            self.reactor.enqueue(("token-secret", event.cluster, event.namespace, event.name))
        if meta.get("deletionTimestamp") and set(meta.get("finalizers") or ()) & {
            "foregroundDeletion",
            "orphan",
        }:
            self.reactor.enqueue(
                ("owner-deleting", event.reskey, event.cluster, event.namespace, event.name)
            )
        if event.type == ADDED and meta.get("ownerReferences"):
            self.reactor.enqueue(
                ("dependent", event.reskey, event.cluster, event.namespace, event.name)
            )

    def _index_remove(self, event: Event) -> None:
        ref: ObjectRef = (event.reskey, event.cluster, event.namespace, event.name)
        for owner in event.obj.get("metadata", {}).get("ownerReferences") or ():
            self._dependents.get(owner.get("uid", ""), set()).discard(ref)

    def _handle(self, item: Any) -> None:
        kind = item[0]
        if kind == "namespace":
            self._sync_namespace(item[1], item[2])
        elif kind == "crd":
            self._sync_crd(item[1], item[2])
        elif kind == "owner-gone":
            self._collect(item[1])
        elif kind == "owner-deleting":
            self._owner_deleting(*item[1:])
        elif kind == "dependent":
            self._check_dependent(*item[1:])
        elif kind == "serviceaccount":
            self._ensure_token(item[1], item[2], item[3])
        elif kind == "token-secret":
            self._fill_token_secret(item[1], item[2], item[3])

    # -- helpers -------------------------------------------------------------------------

    def _scope(self, cluster: str) -> Scope:
        return Scope(cluster, self.registry.types_for(cluster), SYSTEM_USER)

    def _type_for(self, cluster: str, reskey: ResKey) -> ResourceType | None:
        for rt in self.registry.types_for(cluster):
            if reskey_of(rt) == reskey:
                return rt
        return None

    def _delete(self, ref: ObjectRef, propagation: str = "") -> None:
        reskey, cluster, ns, name = ref
        rt = self._type_for(cluster, reskey)
        if rt is None:
            self.store.remove(reskey, cluster, ns, name)
            return
        with contextlib.suppress(errors.StatusError):
            self.service.delete(self._scope(cluster), rt, ns, name, propagation=propagation)

    def _update(self, ref: ObjectRef, obj: dict[str, Any]) -> None:
        reskey, cluster, ns, name = ref
        rt = self._type_for(cluster, reskey)
        if rt is None:
            return
        with contextlib.suppress(errors.StatusError):
            self.service.update(self._scope(cluster), rt, ns, name, obj, require_rv=True)

    def _create(self, cluster: str, group_resource: tuple[str, str], ns: str, obj: dict) -> None:
        scope = self._scope(cluster)
        rt = scope.types.by_group_resource(*group_resource)
        if rt is None:
            return
        with contextlib.suppress(errors.StatusError):
            self.service.create(scope, rt, ns, obj)

    # -- namespaces ----------------------------------------------------------------------

    def _sync_namespace(self, cluster: str, name: str) -> None:
        ns = self.store.get(NAMESPACES, cluster, "", name)
        if ns is None:
            return
        if not ns["metadata"].get("deletionTimestamp"):
            self._populate_namespace(cluster, name)
            return
        remaining = 0
        for reskey in self.store.resources_in(cluster):
            if reskey == NAMESPACES:
                continue
            for _, obj in self.store.list(reskey, cluster, name):
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    self._delete((reskey, cluster, name, obj["metadata"]["name"]))
        if remaining:
            return  # finished when the last object's DELETED event brings us back here
        ns = self.store.get(NAMESPACES, cluster, "", name)
        if ns is None or not ns.get("spec", {}).get("finalizers"):
            return
        ns = {**ns, "spec": {**ns["spec"], "finalizers": []}}
        self._update((NAMESPACES, cluster, "", name), ns)

    def _populate_namespace(self, cluster: str, name: str) -> None:
        if self.store.get(SERVICEACCOUNTS, cluster, name, "default") is None:
            self._create(
                cluster,
                ("", "serviceaccounts"),
                name,
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": name},
                },
            )
        if self.store.get(CONFIGMAPS, cluster, name, "kube-root-ca.crt") is None:
            self._create(
                cluster,
                ("", "configmaps"),
                name,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": "kube-root-ca.crt",
                        "namespace": name,
                        "annotations": {
                            "kubernetes.io/description": "Contains a CA bundle that can be used "
                            "to verify the kube-apiserver when using internal endpoints such as "
                            "the internal service IP or kubernetes.default.svc. No other usage is "
                            "guaranteed across distributions of Kubernetes clusters."
                        },
                    },
                    "data": {"ca.crt": self.ca_pem},
                },
            )

    # -- service account tokens -----------------------------------------------------------

    def _ensure_token(self, cluster: str, ns: str, name: str) -> None:
        assert self.mint_token is not None
        sa = self.store.get(SERVICEACCOUNTS, cluster, ns, name)
        if sa is None or sa["metadata"].get("deletionTimestamp") or sa.get("secrets"):
            return
        uid = sa["metadata"]["uid"]
        secret_name = f"{name}-token-" + "".join(
            secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5)
        )
        token = self.mint_token(cluster, ns, name, uid)

        def b64(text: str) -> str:
            return base64.b64encode(text.encode()).decode()

        self._create(
            cluster,
            ("", "secrets"),
            ns,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/service-account-token",
                "metadata": {
                    "name": secret_name,
                    "namespace": ns,
                    "annotations": {
                        "kubernetes.io/service-account.name": name,
                        "kubernetes.io/service-account.uid": uid,
                    },
                },
                "data": {"token": b64(token), "ca.crt": b64(self.ca_pem), "namespace": b64(ns)},
            },
        )
        sa = self.store.get(SERVICEACCOUNTS, cluster, ns, name)
        if sa is not None and not sa.get("secrets"):
            self._update(
                (SERVICEACCOUNTS, cluster, ns, name), {**sa, "secrets": [{"name": secret_name}]}
            )

    def _fill_token_secret(self, cluster: str, ns: str, name: str) -> None:
        """Fill a token Secret a user asked for (type service-account-token, annotated with
        the ServiceAccount's name), as the token controller does; the token dies with it."""
        assert self.mint_token is not None
        secret = self.store.get(SECRETS, cluster, ns, name)
        if secret is None or not _wants_token(secret):
            return
        sa_name = secret["metadata"]["annotations"][SA_NAME_ANNOTATION]
        sa = self.store.get(SERVICEACCOUNTS, cluster, ns, sa_name)
        if sa is None or sa["metadata"].get("deletionTimestamp"):
            return
        uid = sa["metadata"]["uid"]
        token = self.mint_token(cluster, ns, sa_name, uid)
        meta = dict(secret["metadata"])
        meta["annotations"] = {**meta["annotations"], "kubernetes.io/service-account.uid": uid}
        data = {
            **(secret.get("data") or {}),
            "token": base64.b64encode(token.encode()).decode(),
            "ca.crt": base64.b64encode(self.ca_pem.encode()).decode(),
            "namespace": base64.b64encode(ns.encode()).decode(),
        }
        self._update((SECRETS, cluster, ns, name), {**secret, "metadata": meta, "data": data})

    # -- CRDs ----------------------------------------------------------------------------

    def _sync_crd(self, cluster: str, name: str) -> None:
        crd = self.store.get(CRDS, cluster, "", name)
        if crd is None or not crd["metadata"].get("deletionTimestamp"):
            return
        spec = crd.get("spec", {})
        reskey: ResKey = (spec.get("group", ""), spec.get("names", {}).get("plural", ""), "")
        for _, obj in self.store.list(reskey, cluster):
            meta = obj["metadata"]
            self.store.remove(reskey, cluster, meta.get("namespace", ""), meta["name"])
        finalizers = [f for f in crd["metadata"].get("finalizers", []) if f != CLEANUP_FINALIZER]
        self._update(
            (CRDS, cluster, "", name),
            {**crd, "metadata": {**crd["metadata"], "finalizers": finalizers}},
        )

    # -- garbage collection --------------------------------------------------------------

    def _owner_alive(self, uid: str, cluster: str) -> bool:
        ref = self._uids.get(uid)
        return ref is not None and ref[1] == cluster

    def _collect(self, owner_uid: str) -> None:
        for ref in list(self._dependents.get(owner_uid, ())):
            self._check_dependent(*ref)
        self._dependents.pop(owner_uid, None)

    def _check_dependent(self, reskey: ResKey, cluster: str, ns: str, name: str) -> None:
        obj = self.store.get(reskey, cluster, ns, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        owners = obj["metadata"].get("ownerReferences") or []
        alive = [o for o in owners if self._owner_alive(o.get("uid", ""), cluster)]
        if not alive:
            self._delete((reskey, cluster, ns, name))
        elif len(alive) < len(owners):
            meta = {**obj["metadata"], "ownerReferences": alive}
            self._update((reskey, cluster, ns, name), {**obj, "metadata": meta})

    def _owner_deleting(self, reskey: ResKey, cluster: str, ns: str, name: str) -> None:
        owner = self.store.get(reskey, cluster, ns, name)
        if owner is None:
            return
        meta = owner["metadata"]
        uid = meta.get("uid", "")
        finalizers = list(meta.get("finalizers") or [])
        dependents = [d for d in self._dependents.get(uid, ()) if self.store.get(*d) is not None]
        if "orphan" in finalizers:
            for dep in dependents:
                obj = self.store.get(*dep)
                if obj is None:
                    continue
                refs = [
                    o for o in obj["metadata"].get("ownerReferences") or [] if o.get("uid") != uid
                ]
                self._update(dep, {**obj, "metadata": {**obj["metadata"], "ownerReferences": refs}})
            finalizers.remove("orphan")
        elif "foregroundDeletion" in finalizers:
            if dependents:
                for dep in dependents:
                    self._delete(dep, propagation="Foreground")
                return  # back here when the dependents' DELETED events arrive
            finalizers.remove("foregroundDeletion")
        else:
            return
        self._update(
            (reskey, cluster, ns, name), {**owner, "metadata": {**meta, "finalizers": finalizers}}
        )


def _wants_token(secret: dict[str, Any]) -> bool:
    annotations = secret.get("metadata", {}).get("annotations") or {}
    return (
        secret.get("type") == TOKEN_SECRET_TYPE
        and bool(annotations.get(SA_NAME_ANNOTATION))
        and not (secret.get("data") or {}).get("token")
    )
