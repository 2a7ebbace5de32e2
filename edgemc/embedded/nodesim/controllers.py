"""The simulated kube-controller-manager of an edge cluster: deployments, replica sets, nodes.

Loops that are clients of the cluster's API server like the real ones: the deployment
controller keeps one ReplicaSet per pod template and the Deployment's status; the replica
set controller keeps the number of pods and the ReplicaSet's status; the node lifecycle
controller notices a node whose Lease is no longer renewed and marks it (and its pods) not
ready, as the real one does after its grace period; the token controller fills in Secrets of
type `kubernetes.io/service-account-token` (such as the one in the syncer manifest) with
their ServiceAccount's token, the CA and the namespace. The decisions are in `rollout`.
As in client-go, the informers' caches are only read, never written: a controller that put
its own writes into a shared cache would hide them from the other controllers when a lost
watch event is made up for by a relist (which delivers only what differs from the cache).
Where acting on a cache that lags behind its own writes would do harm (a ReplicaSet making
pods twice), the decision is checked against the server.
Deleting a Deployment needs nothing here: the server's garbage collector removes its
ReplicaSets and their pods through their ownerReferences.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edgemc.embedded.nodesim import rollout
from edgemc.embedded.nodesim.kinds import (
    DEPLOYMENTS,
    LEASES,
    NODES,
    PODS,
    REPLICASETS,
    SECRETS,
    SERVICE_ACCOUNTS,
    TokenMinter,
    now_rfc3339,
    parse_time,
)
from edgemc.runtime import (
    AlreadyExists,
    Client,
    Conflict,
    Controller,
    InformerFactory,
    Key,
    NotFound,
    Result,
)
from edgemc.runtime.ratelimit import ItemExponentialLimiter

log = logging.getLogger(__name__)

Obj = dict[str, Any]
OWNER_INDEX = "controller-uid"
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SA_UID_ANNOTATION = "kubernetes.io/service-account.uid"


def _owner_uids(obj: Obj) -> list[str]:
    ref = rollout.controller_of(obj)
    return [ref["uid"]] if ref and ref.get("uid") else []


def _owner_key(kind: str) -> Any:
    def mapper(obj: Obj) -> Key | None:
        ref = rollout.controller_of(obj)
        if ref is None or ref.get("kind") != kind:
            return None
        return Key("", (obj.get("metadata") or {}).get("namespace", ""), ref.get("name", ""))

    return mapper


def _retry_limiter() -> ItemExponentialLimiter:
    # A 2 s cap instead of the runtime's 1000 s: after a server outage keys come back fast.
    return ItemExponentialLimiter(base=0.01, cap=2.0)


@dataclass
class ControllerManagerOptions:
    """Pacing of the simulated controllers."""

    # The node lifecycle controller's grace period and check interval (upstream: 40 s, 5 s).
    node_monitor_grace_period: float = 40.0
    node_monitor_period: float = 5.0
    workers: int = 2


class ControllerManager:
    """Deployment, ReplicaSet and node lifecycle controllers for one cluster."""

    def __init__(
        self,
        cluster_name: str,
        client: Client,
        informers: InformerFactory,
        options: ControllerManagerOptions,
        *,
        mint_token: TokenMinter | None = None,
        ca_pem: str = "",
    ) -> None:
        self.client = client
        self.options = options
        self.mint_token = mint_token
        self.ca_pem = ca_pem
        self.deployments = informers.informer(DEPLOYMENTS)
        self.replicasets = informers.informer(REPLICASETS)
        self.pods = informers.informer(PODS)
        for informer in (self.replicasets, self.pods):
            informer.add_indexers({OWNER_INDEX: _owner_uids})
        self.deployment_controller = Controller(
            f"deployment-{cluster_name}",
            self.reconcile_deployment,
            workers=options.workers,
            rate_limiter=_retry_limiter(),
        )
        self.deployment_controller.watch(self.deployments)
        self.deployment_controller.watch(self.replicasets, _owner_key("Deployment"))
        self.replicaset_controller = Controller(
            f"replicaset-{cluster_name}",
            self.reconcile_replicaset,
            workers=options.workers,
            rate_limiter=_retry_limiter(),
        )
        self.replicaset_controller.watch(self.replicasets)
        self.replicaset_controller.watch(self.pods, _owner_key("ReplicaSet"))
        self.token_controller: Controller | None = None
        if mint_token is not None:
            self.secrets = informers.informer(SECRETS)
            self.token_controller = Controller(
                f"tokens-{cluster_name}", self.reconcile_token, rate_limiter=_retry_limiter()
            )
            self.token_controller.watch(self.secrets)
        self._node_monitor: asyncio.Task[None] | None = None

    def _controllers(self) -> list[Controller]:
        return [
            c
            for c in (self.deployment_controller, self.replicaset_controller, self.token_controller)
            if c is not None
        ]

    async def start(self) -> None:
        for controller in self._controllers():
            await controller.start()
        self._node_monitor = asyncio.create_task(self._monitor_nodes(), name="node-lifecycle")

    async def stop(self) -> None:
        if self._node_monitor is not None:
            self._node_monitor.cancel()
            await asyncio.gather(self._node_monitor, return_exceptions=True)
            self._node_monitor = None
        for controller in self._controllers():
            await controller.stop()

    # -- deployments ----------------------------------------------------------------------

    async def reconcile_deployment(self, key: Key) -> Result | None:
        # A Conflict means a newer object is on its way through the informer: not an error.
        try:
            await self._sync_deployment(key)
        except Conflict:
            return Result.requeue()
        return None

    async def _sync_deployment(self, key: Key) -> None:
        deploy = self.deployments.store.get_by("", key.namespace, key.name)
        if deploy is None or deploy["metadata"].get("deletionTimestamp"):
            return
        uid = deploy["metadata"]["uid"]
        owned = self.replicasets.store.by_index(OWNER_INDEX, uid)
        new_rs = next((rs for rs in owned if rollout.matches_template(rs, deploy)), None)
        if new_rs is None:
            revision = max((rollout.revision_of(rs) for rs in owned), default=0) + 1
            new_rs = await self._create_replicaset(deploy, revision)
            if new_rs is None:
                return
            owned = [*owned, new_rs]
        old = [rs for rs in owned if rs is not new_rs]
        plan = rollout.plan_scale(deploy, new_rs, old)
        current: list[Obj] = []
        for rs in owned:
            want = plan.get(rs["metadata"]["name"], 0)
            if int((rs.get("spec") or {}).get("replicas", 0)) != want:
                rs = await self._scale(rs, want, deploy)
            current.append(rs)
        new_rs = next(rs for rs in current if rs["metadata"]["uid"] == new_rs["metadata"]["uid"])
        await self._prune_history(deploy, [rs for rs in current if rs is not new_rs])
        status = rollout.deployment_status(deploy, new_rs, current, now_rfc3339())
        if status != deploy.get("status"):
            await self.client.update_status(DEPLOYMENTS, {**deploy, "status": status})

    async def _create_replicaset(self, deploy: Obj, revision: int) -> Obj | None:
        desired = rollout.new_replicaset(deploy, revision)
        ns = desired["metadata"]["namespace"]
        try:
            created = await self.client.create(REPLICASETS, desired)
        except AlreadyExists:
            existing = await self.client.get(REPLICASETS, desired["metadata"]["name"], ns)
            if rollout.owned_by(existing, deploy) and rollout.matches_template(existing, deploy):
                return existing
            # A hash collision with a foreign ReplicaSet: a new collisionCount, a new hash.
            status = dict(deploy.get("status") or {})
            status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
            await self.client.update_status(DEPLOYMENTS, {**deploy, "status": status})
            return None
        log.info("deployment %s/%s: created replica set %s", ns, deploy["metadata"]["name"],
                 created["metadata"]["name"])  # fmt: skip
        return created

    async def _scale(self, rs: Obj, replicas: int, deploy: Obj) -> Obj:
        meta = rs["metadata"]
        desired = int((deploy.get("spec") or {}).get("replicas", 1))
        patch = {
            "metadata": {"annotations": {rollout.DESIRED_ANNOTATION: str(desired)}},
            "spec": {"replicas": replicas},
        }
        return await self.client.patch(REPLICASETS, meta["name"], patch, meta.get("namespace"))

    async def _prune_history(self, deploy: Obj, old: list[Obj]) -> None:
        limit = int((deploy.get("spec") or {}).get("revisionHistoryLimit", 10))
        idle = [
            rs
            for rs in old
            if not (rs.get("spec") or {}).get("replicas")
            and not (rs.get("status") or {}).get("replicas")
        ]
        idle.sort(key=rollout.revision_of)
        for rs in idle[: max(len(idle) - limit, 0)]:
            meta = rs["metadata"]
            try:
                await self.client.delete(REPLICASETS, meta["name"], meta.get("namespace"))
            except NotFound:
                pass

    # -- replica sets ---------------------------------------------------------------------

    async def reconcile_replicaset(self, key: Key) -> Result | None:
        try:
            await self._sync_replicaset(key)
        except Conflict:
            return Result.requeue()
        return None

    async def _sync_replicaset(self, key: Key) -> None:
        rs = self.replicasets.store.get_by("", key.namespace, key.name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        wanted = int((rs.get("spec") or {}).get("replicas", 1))
        pods = self.pods.store.by_index(OWNER_INDEX, rs["metadata"]["uid"])
        if len([p for p in pods if rollout.pod_active(p)]) != wanted:
            # The cache may not show the pods this controller has just made or deleted yet.
            pods = await self._owned_pods(rs)
        active = [p for p in pods if rollout.pod_active(p)]
        diff = wanted - len(active)
        if diff > 0:
            for _ in range(diff):
                await self.client.create(PODS, rollout.pod_from_template(rs))
        elif diff < 0:
            for pod in rollout.pods_to_delete(active, -diff):
                meta = pod["metadata"]
                try:
                    await self.client.delete(PODS, meta["name"], meta.get("namespace"))
                except NotFound:
                    pass
        if diff:
            pods = await self._owned_pods(rs)
        status = rollout.replicaset_status(rs, pods)
        if status != rs.get("status"):
            await self.client.update_status(REPLICASETS, {**rs, "status": status})

    async def _owned_pods(self, rs: Obj) -> list[Obj]:
        """The ReplicaSet's pods as the server has them now."""
        meta = rs["metadata"]
        listing = await self.client.list(PODS, meta.get("namespace"))
        return [p for p in listing.get("items") or () if meta["uid"] in _owner_uids(p)]

    # -- service-account token secrets ------------------------------------------------------

    async def reconcile_token(self, key: Key) -> Result | None:
        secret = self.secrets.store.get_by("", key.namespace, key.name)
        if secret is None or secret.get("type") != TOKEN_SECRET_TYPE:
            return None
        if (secret.get("data") or {}).get("token") or self.mint_token is None:
            return None
        annotations = secret["metadata"].get("annotations") or {}
        account_name = annotations.get(SA_NAME_ANNOTATION, "")
        try:
            account = await self.client.get(SERVICE_ACCOUNTS, account_name, key.namespace)
        except NotFound:
            return Result.requeue_after(1.0)  # the manifest may create it next
        uid = account["metadata"]["uid"]

        def b64(text: str) -> str:
            return base64.b64encode(text.encode()).decode()

        data = {
            **(secret.get("data") or {}),
            "token": b64(self.mint_token(key.namespace, account_name, uid)),
            "ca.crt": b64(self.ca_pem),
            "namespace": b64(key.namespace),
        }
        meta = {**secret["metadata"], "annotations": {**annotations, SA_UID_ANNOTATION: uid}}
        try:
            await self.client.update(SECRETS, {**secret, "metadata": meta, "data": data})
        except Conflict:
            return Result.requeue()
        return None

    # -- node lifecycle -------------------------------------------------------------------

    async def _monitor_nodes(self) -> None:
        while True:
            await asyncio.sleep(self.options.node_monitor_period)
            try:
                await self.check_nodes()
            except Exception as err:  # the server may be down; try again next period
                log.info("node lifecycle: check failed: %s", err)

    async def check_nodes(self) -> None:
        """Mark nodes whose Lease expired (beyond the grace period) and their pods not ready."""
        nodes = (await self.client.list(NODES)).get("items") or []
        now = datetime.now(UTC)
        for node in nodes:
            name = node["metadata"]["name"]
            try:
                lease = await self.client.get(LEASES, name, "kube-node-lease")
            except NotFound:
                continue
            renewed = parse_time((lease.get("spec") or {}).get("renewTime"))
            if renewed is None:
                continue
            if (now - renewed).total_seconds() <= self.options.node_monitor_grace_period:
                continue
            await self._mark_unknown(node)
            await self._mark_pods_not_ready(name)

    async def _mark_unknown(self, node: Obj) -> None:
        conditions = (node.get("status") or {}).get("conditions") or []
        if all(c.get("status") == "Unknown" for c in conditions):
            return
        now = now_rfc3339()
        marked = []
        for cond in conditions:
            if cond.get("status") != "Unknown":
                cond = {
                    **cond,
                    "status": "Unknown",
                    "lastTransitionTime": now,
                    "reason": "NodeStatusUnknown",
                    "message": "Kubelet stopped posting node status.",
                }
            marked.append(cond)
        node = {**node, "status": {**(node.get("status") or {}), "conditions": marked}}
        await self.client.update_status(NODES, node)
        log.info("node %s: marked not ready (its Lease expired)", node["metadata"]["name"])

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        for pod in list(self.pods.store.list()):
            if (pod.get("spec") or {}).get("nodeName") != node_name:
                continue
            conditions = (pod.get("status") or {}).get("conditions") or []
            if not rollout.pod_ready(pod):
                continue
            now = now_rfc3339()
            marked = [
                {**c, "status": "False", "lastTransitionTime": now} if c.get("type") == "Ready"
                else c
                for c in conditions
            ]  # fmt: skip
            await self.client.update_status(
                PODS, {**pod, "status": {**pod["status"], "conditions": marked}}
            )
