"""The simulated kubelet of a kind-like node: registers the Node, heartbeats, runs pods.

It is a client of the cluster's API server like a real kubelet, so it keeps working across
a restart of that server (its informers reconnect). It also plays the scheduler's one job on
a single-node cluster: pods without `spec.nodeName` are bound to this node.

For each pod bound here it keeps a `PodRuntime`: containers are simulated (running at once)
unless they run an edgemc component (see `containers`), whose Secret/ConfigMap volumes and
service-account token are written to a private directory first; a Ready pod with a
`hostPort` and a ConfigMap volume is attached to the node's published ports (see
`hostports`). Pod status (phase, conditions, container statuses, IPs) is written the way a
kubelet writes it.

`stop_reporting()` simulates a node that lost contact: no more status writes and no Lease
renewals (pods keep running); `resume_reporting()` brings it back.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgemc.embedded.nodesim import volumes
from edgemc.embedded.nodesim.containers import (
    ComponentContainer,
    ComponentResolver,
    ContainerState,
    RestartPolicy,
    edgemc_command,
)
from edgemc.embedded.nodesim.hostports import Backend, NodePorts
from edgemc.embedded.nodesim.kinds import (
    CONFIGMAPS,
    LEASES,
    NODES,
    PODS,
    SECRETS,
    SERVICE_ACCOUNTS,
    TokenMinter,
    now_micro,
    now_rfc3339,
)
from edgemc.runtime import (
    AlreadyExists,
    ApiError,
    Client,
    Conflict,
    Controller,
    InformerFactory,
    Key,
    NotFound,
    Result,
    ServerError,
    TooManyRequests,
)
from edgemc.runtime.backoff import Backoff
from edgemc.runtime.ratelimit import ItemExponentialLimiter

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NODE_LEASE_NAMESPACE = "kube-node-lease"
KUBE_VERSION = "v1.27.3"  # what kind v0.20 (the seed's era) runs
# Where, in a component container's directory, the stand-in for in-cluster config goes.
IN_CLUSTER_KUBECONFIG = ".edgemc/in-cluster.kubeconfig"
# Registration is retried while the server refuses it in a way worth retrying (429, 5xx, no
# connection, a conflict with itself), as the kubelet does; 30 tries with this backoff span
# about half a minute before `start` gives up.
REGISTER_ATTEMPTS = 30
REGISTER_BACKOFF = Backoff(initial=0.05, factor=2.0, cap=1.0)


@dataclass
class KubeletOptions:
    """How the simulated node looks and paces itself."""

    node_name: str
    cluster_name: str = ""
    # kind's docker network hands out 172.18.0.x; pods get kindnet's 10.244.0.x.
    node_ip: str = "172.18.0.2"
    pod_ip_prefix: str = "10.244.0."
    # Lease renewal and Node status heartbeat; the kubelet's own default is 10 s.
    heartbeat_interval: float = 10.0
    # Lease duration written to the Lease (the node controller's grace period is separate).
    lease_duration_seconds: int = 40
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    # Where component containers' files live (one private directory per pod).
    files_root: Path = Path("pods")
    # How soon to retry a pod whose volume sources do not exist yet.
    volume_retry: float = 1.0
    # Run edgemc components as child processes (logs in files_root/logs/) instead of in this
    # event loop; see `containers`.
    component_processes: bool = False


@dataclass
class PodRuntime:
    """What the node knows of one pod it runs."""

    uid: str
    namespace: str
    name: str
    pod_ip: str
    start_time: str
    containers: list[ContainerState]
    components: list[ComponentContainer] = field(default_factory=list)
    started: bool = False
    conditions: dict[str, tuple[str, str]] = field(default_factory=dict)
    files: Path | None = None

    @property
    def ready(self) -> bool:
        return self.started and all(c.ready for c in self.containers)


def _container_id(uid: str, name: str, restarts: int) -> str:
    return "containerd://" + hashlib.sha256(f"{uid}/{name}/{restarts}".encode()).hexdigest()


def _image_id(image: str) -> str:
    """A pullable reference with a (made-up, stable) digest, as containerd reports it."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    parts = name.split("/")
    if len(parts) == 1:
        parts = ["library", *parts]
    if "." not in parts[0] and ":" not in parts[0] and parts[0] != "localhost":
        parts = ["docker.io", *parts]
    return "/".join(parts) + "@sha256:" + hashlib.sha256(name.encode()).hexdigest()


def qos_class(spec: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = list(spec.get("containers") or ()) + list(spec.get("initContainers") or ())
    any_set, guaranteed = False, True
    for c in containers:
        resources = c.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if requests or limits:
            any_set = True
        for res in ("cpu", "memory"):
            limit = limits.get(res)
            if limit is None or requests.get(res, limit) != limit:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class Kubelet:
    """Runs the pods bound to one node (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        informers: InformerFactory,
        options: KubeletOptions,
        ports: NodePorts,
        *,
        cluster_entry: Obj,
        mint_token: TokenMinter | None,
        fallback_token: str,
        ca_pem: str,
        resolver: ComponentResolver,
    ) -> None:
        self.client = client
        self.options = options
        self.node = options.node_name
        self.ports = ports
        self.cluster_entry = cluster_entry
        self.mint_token = mint_token
        self.fallback_token = fallback_token
        self.ca_pem = ca_pem
        self.resolver = resolver
        self.pods = informers.informer(PODS)
        self.configmaps = informers.informer(CONFIGMAPS)
        self.controller = Controller(
            f"kubelet-{self.node}",
            self.reconcile,
            workers=4,
            # Short cap: a server restart must not leave pods waiting minutes for a retry.
            rate_limiter=ItemExponentialLimiter(base=0.01, cap=2.0),
        )
        self.controller.watch(self.pods)
        self.runtimes: dict[tuple[str, str], PodRuntime] = {}
        self.reporting = True
        self._next_ip = 2
        self._heartbeat: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        await self._register_until_done()
        await self.controller.start()
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name=f"heartbeat {self.node}")

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
            self._heartbeat = None
        await self.controller.stop()
        await asyncio.gather(*(self._remove(r) for r in list(self.runtimes.values())))

    def stop_reporting(self) -> None:
        """Simulate a node failure: stop writing pod and node status and renewing the Lease."""
        self.reporting = False
        log.info("node %s: stopped reporting status", self.node)

    def resume_reporting(self) -> None:
        """End a simulated failure: heartbeat now and write every pod's status again."""
        self.reporting = True
        log.info("node %s: resumed reporting status", self.node)
        self._wake.set()
        for pod in self.pods.store.list():
            self.controller.enqueue(Key.of(pod))

    # -- node registration and heartbeat ---------------------------------------------------

    def node_object(self) -> Obj:
        name, opts = self.node, self.options
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "beta.kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "node-role.kubernetes.io/control-plane": "",
                    "node.kubernetes.io/exclude-from-external-load-balancers": "",
                },
                "annotations": {
                    "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": {
                "podCIDR": opts.pod_ip_prefix + "0/24",
                "podCIDRs": [opts.pod_ip_prefix + "0/24"],
                "providerID": f"kind://docker/{opts.cluster_name}/{name}",
            },
        }

    def node_status(self, previous: Obj | None) -> Obj:
        now = now_rfc3339()
        before = {c.get("type"): c for c in (previous or {}).get("conditions") or ()}

        def cond(kind: str, status: str, reason: str, message: str) -> Obj:
            old = before.get(kind) or {}
            changed = old.get("status") != status
            return {
                "type": kind,
                "status": status,
                "lastHeartbeatTime": now,
                "lastTransitionTime": now if changed else old.get("lastTransitionTime", now),
                "reason": reason,
                "message": message,
            }

        capacity = {
            "cpu": "4",
            "ephemeral-storage": "102625208Ki",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "memory": "8148456Ki",
            "pods": "110",
        }
        machine = hashlib.md5(self.node.encode(), usedforsecurity=False).hexdigest()
        return {
            "addresses": [
                {"type": "InternalIP", "address": self.options.node_ip},
                {"type": "Hostname", "address": self.node},
            ],
            "allocatable": capacity,
            "capacity": capacity,
            "conditions": [
                cond(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                cond(
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                cond(
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": machine,
                "containerRuntimeVersion": "containerd://1.7.1",
                "kernelVersion": "6.1.0",
                "kubeProxyVersion": KUBE_VERSION,
                "kubeletVersion": KUBE_VERSION,
                "machineID": machine,
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 11 (bullseye)",
                "systemUUID": machine,
            },
        }

    async def _register_until_done(self) -> None:
        for attempt in range(REGISTER_ATTEMPTS):
            try:
                await self._register()
                return
            except (ServerError, TooManyRequests, Conflict, AlreadyExists) as err:
                failure: ApiError = err
            except ApiError as err:
                if err.code != 0:  # refused for good (403, 422, ...)
                    raise
                failure = err
            log.info("node %s: registration failed: %s", self.node, failure)
            if attempt + 1 == REGISTER_ATTEMPTS:
                raise failure
            await asyncio.sleep(REGISTER_BACKOFF.delay(attempt))

    async def _register(self) -> None:
        try:
            node = await self.client.get(NODES, self.node)
        except NotFound:
            node = await self.client.create(NODES, self.node_object())
        node["status"] = self.node_status(node.get("status"))
        await self.client.update_status(NODES, node)
        await self._renew_lease(node)

    async def _renew_lease(self, node: Obj) -> None:
        spec = {
            "holderIdentity": self.node,
            "leaseDurationSeconds": self.options.lease_duration_seconds,
            "renewTime": now_micro(),
        }
        try:
            lease = await self.client.get(LEASES, self.node, NODE_LEASE_NAMESPACE)
        except NotFound:
            owner = {
                "apiVersion": "v1",
                "kind": "Node",
                "name": self.node,
                "uid": node["metadata"]["uid"],
            }
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": self.node,
                    "namespace": NODE_LEASE_NAMESPACE,
                    "ownerReferences": [owner],
                },
                "spec": spec,
            }
            await self.client.create(LEASES, lease)
            return
        lease["spec"] = {**(lease.get("spec") or {}), **spec}
        await self.client.update(LEASES, lease)

    async def heartbeat(self) -> None:
        """Renew the Lease and refresh the Node's conditions (no-op while not reporting)."""
        if not self.reporting:
            return
        node = await self.client.get(NODES, self.node)
        # Lease first: the node lifecycle controller judges the node by it, and must not
        # mark a node whose fresh Ready status it has just read as lost.
        await self._renew_lease(node)
        node["status"] = self.node_status(node.get("status"))
        await self.client.update_status(NODES, node)

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.options.heartbeat_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.heartbeat()
            except Exception as err:  # API errors, or connection errors while the server is down
                log.info("node %s: heartbeat failed: %s", self.node, err)

    # -- pods -----------------------------------------------------------------------------

    async def reconcile(self, key: Key) -> Result | None:
        pod = self.pods.store.get_by(key.cluster, key.namespace, key.name)
        runtime = self.runtimes.get((key.namespace, key.name))
        meta = (pod or {}).get("metadata") or {}
        if runtime is not None and (
            pod is None or meta.get("deletionTimestamp") or meta.get("uid") != runtime.uid
        ):
            await self._remove(runtime)
            runtime = None
        if pod is None or meta.get("deletionTimestamp"):
            return None
        spec = pod.get("spec") or {}
        node_name = spec.get("nodeName")
        if not node_name:
            await self._bind(pod)
            return None
        if node_name != self.node:
            return None
        if runtime is None:
            runtime = self._admit(pod)
        retry: Result | None = None
        if not runtime.started:
            try:
                await self._start(pod, runtime)
            except volumes.VolumeNotReady as err:
                for state in runtime.containers:
                    state.wait("ContainerCreating", f"MountVolume.SetUp failed: {err}")
                retry = Result.requeue_after(self.options.volume_retry)
        self._sync_ports(pod, runtime)
        if self.reporting:
            try:
                await self._write_status(pod, runtime)
            except Conflict:  # a newer pod is on its way through the informer
                return Result.requeue()
        return retry

    async def _bind(self, pod: Obj) -> None:
        meta = pod["metadata"]
        await self.client.patch(
            PODS, meta["name"], {"spec": {"nodeName": self.node}}, meta.get("namespace")
        )

    def _admit(self, pod: Obj) -> PodRuntime:
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        previous = {c.get("name"): c for c in status.get("containerStatuses") or ()}
        pod_ip = status.get("podIP") or ""
        if spec.get("hostNetwork"):
            pod_ip = self.options.node_ip
        elif not pod_ip:
            pod_ip = self._allocate_ip()
        containers = [
            ContainerState(
                name=c.get("name", ""),
                image=c.get("image", ""),
                restart_count=int((previous.get(c.get("name")) or {}).get("restartCount") or 0),
            )
            for c in spec.get("containers") or ()
        ]
        runtime = PodRuntime(
            uid=meta.get("uid", ""),
            namespace=meta.get("namespace", ""),
            name=meta["name"],
            pod_ip=pod_ip,
            start_time=status.get("startTime") or now_rfc3339(),
            containers=containers,
        )
        for cond in status.get("conditions") or ():
            runtime.conditions[cond.get("type", "")] = (
                cond.get("status", ""),
                cond.get("lastTransitionTime", ""),
            )
        self.runtimes[(runtime.namespace, runtime.name)] = runtime
        return runtime

    def _allocate_ip(self) -> str:
        used = {r.pod_ip for r in self.runtimes.values()}
        for pod in self.pods.store.list():
            used.add((pod.get("status") or {}).get("podIP", ""))
        while True:
            candidate = f"{self.options.pod_ip_prefix}{self._next_ip}"
            self._next_ip = self._next_ip + 1 if self._next_ip < 254 else 2
            if candidate not in used:
                return candidate

    async def _start(self, pod: Obj, runtime: PodRuntime) -> None:
        spec = pod.get("spec") or {}
        runtime.components = []
        commands = [edgemc_command(c) for c in spec.get("containers") or ()]
        # As on a real node, no container starts before its Secret/ConfigMap volumes exist.
        sources = await self._volume_sources(pod)
        if any(commands):
            account = await self._service_account_files(pod)
            runtime.files = self.options.files_root / runtime.uid
            for container, command, state in zip(
                spec.get("containers") or (), commands, runtime.containers, strict=False
            ):
                if command is None:
                    continue
                files = runtime.files / container.get("name", "container")
                view = volumes.container_volumes(pod, container, sources, account)
                kubeconfig = self._in_cluster_kubeconfig(account)
                await asyncio.to_thread(_write_container_files, files, view, kubeconfig)
                argv = self._component_argv(command, view, files)
                runtime.components.append(
                    ComponentContainer(
                        state,
                        command[0],
                        argv,
                        self.resolver,
                        restart_policy=spec.get("restartPolicy", "Always"),
                        policy=self.options.restart,
                        on_change=lambda: self.controller.enqueue(
                            Key("", runtime.namespace, runtime.name)
                        ),
                        label=f"{runtime.namespace}/{runtime.name}/{container.get('name')}",
                        process=self.options.component_processes,
                        log_path=self.options.files_root
                        / "logs"
                        / f"{runtime.namespace}_{runtime.name}_{container.get('name')}.log",
                    )
                )
        for command, state in zip(commands, runtime.containers, strict=False):
            if command is None:
                state.run()
        runtime.started = True
        for component in runtime.components:
            component.start()

    async def _volume_sources(self, pod: Obj) -> dict[str, dict[str, bytes]]:
        ns = pod["metadata"].get("namespace", "")
        sources: dict[str, dict[str, bytes]] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or ():
            name = volume.get("name", "")
            if "secret" in volume:
                source = volume["secret"] or {}
                secret = await self._get_or_none(SECRETS, source.get("secretName", ""), ns)
                sources[name] = volumes.secret_files(secret, source)
            elif "configMap" in volume:
                source = volume["configMap"] or {}
                cm = await self._get_or_none(CONFIGMAPS, source.get("name", ""), ns)
                sources[name] = volumes.configmap_files(cm, source)
        return sources

    async def _get_or_none(self, resource: Any, name: str, namespace: str) -> Obj | None:
        try:
            return await self.client.get(resource, name, namespace)
        except NotFound:
            return None

    async def _service_account_files(self, pod: Obj) -> dict[str, bytes]:
        ns = pod["metadata"].get("namespace", "")
        name = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        account = await self._get_or_none(SERVICE_ACCOUNTS, name, ns)
        if account is None:
            raise volumes.VolumeNotReady(f'serviceaccount "{name}" not found')
        if self.mint_token is not None:
            token = self.mint_token(ns, name, account["metadata"]["uid"])
        else:
            token = self.fallback_token
        return volumes.service_account_files(token, self.ca_pem, ns)

    def _in_cluster_kubeconfig(self, account: dict[str, bytes]) -> Obj:
        """What in-cluster config amounts to: this cluster, the pod's ServiceAccount token."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "in-cluster", "cluster": self.cluster_entry}],
            "users": [{"name": "pod", "user": {"token": account["token"].decode()}}],
            "contexts": [
                {"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "pod"}}
            ],
            "current-context": "in-cluster",
        }

    def _component_argv(
        self, command: tuple[str, list[str]], view: volumes.VolumeSet, files: Path
    ) -> list[str]:
        component, args = command
        argv = volumes.rewrite_paths(args, view.mounts, files)
        in_cluster = str(files / IN_CLUSTER_KUBECONFIG)

        def given(flag: str) -> bool:
            return any(a == flag or a.startswith(flag + "=") for a in argv)

        # A process in a pod defaults to in-cluster config; in this process that is a file.
        if not given("--kubeconfig"):
            argv.append(f"--kubeconfig={in_cluster}")
        if (
            component == "syncer"
            and not given("--to-kubeconfig")
            and self._accepts(component, "--to-kubeconfig")
        ):
            argv.append(f"--to-kubeconfig={in_cluster}")
        return argv

    def _accepts(self, component: str, flag: str) -> bool:
        app = self.resolver(component)
        return app is not None and flag in app.parser()._option_string_actions

    def _sync_ports(self, pod: Obj, runtime: PodRuntime) -> None:
        if not runtime.ready:
            self.ports.detach(runtime.uid)
            return
        spec = pod.get("spec") or {}
        volumes_by_name = {v.get("name"): v for v in spec.get("volumes") or ()}
        for container in spec.get("containers") or ():
            host_ports = [
                p.get("hostPort")
                for p in container.get("ports") or ()
                if p.get("hostPort") and p.get("protocol", "TCP") == "TCP"
            ]
            if not host_ports:
                continue
            source = next(
                (
                    volumes_by_name[m.get("name")]["configMap"]
                    for m in container.get("volumeMounts") or ()
                    if "configMap" in (volumes_by_name.get(m.get("name")) or {})
                ),
                None,
            )
            if source is None:
                continue
            backend = Backend(
                f"{runtime.namespace}/{runtime.name}",
                runtime.uid,
                self._configmap_lookup(runtime.namespace, source),
            )
            for port in host_ports:
                self.ports.attach(port, backend)

    def _configmap_lookup(self, namespace: str, source: Obj) -> Callable[[str], bytes | None]:
        store = self.configmaps.store

        def lookup(path: str) -> bytes | None:
            cm = store.get_by("", namespace, source.get("name", ""))
            try:
                files = volumes.configmap_files(cm, source)
            except volumes.VolumeNotReady:
                return None
            return files.get(path)

        return lookup

    def pod_status(self, pod: Obj, runtime: PodRuntime) -> Obj:
        """The status this node reports for a pod it runs."""
        spec = pod.get("spec") or {}
        containers = runtime.containers
        started = runtime.started and any(c.running_since for c in containers)
        all_ready = runtime.ready
        terminated = runtime.started and all(c.terminated is not None for c in containers)
        if terminated:
            failed = any((c.terminated or {}).get("exitCode") for c in containers)
            phase = "Failed" if failed else "Succeeded"
        else:
            phase = "Running" if started else "Pending"
        now = now_rfc3339()

        def cond(kind: str, ok: bool, reason: str = "", message: str = "") -> Obj:
            status = "True" if ok else "False"
            old = runtime.conditions.get(kind)
            since = old[1] if old and old[0] == status and old[1] else now
            runtime.conditions[kind] = (status, since)
            out: Obj = {"type": kind, "status": status, "lastProbeTime": None}
            out["lastTransitionTime"] = since
            if reason:
                out["reason"] = reason
            if message:
                out["message"] = message
            return out

        unready = [c.name for c in containers if not c.ready]
        not_ready_msg = f"containers with unready status: [{' '.join(unready)}]"
        conditions = [
            cond("Initialized", True),
            cond("Ready", all_ready, *(() if all_ready else ("ContainersNotReady", not_ready_msg))),
            cond(
                "ContainersReady",
                all_ready,
                *(() if all_ready else ("ContainersNotReady", not_ready_msg)),
            ),
            cond("PodScheduled", True),
        ]
        host_ip = self.options.node_ip
        status: Obj = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": runtime.pod_ip,
            "podIPs": [{"ip": runtime.pod_ip}],
            "startTime": runtime.start_time,
            "qosClass": qos_class(spec),
            "containerStatuses": [
                c.status(_container_id(runtime.uid, c.name, c.restart_count), _image_id(c.image))
                for c in containers
            ],
        }
        return status

    async def _write_status(self, pod: Obj, runtime: PodRuntime) -> None:
        status = self.pod_status(pod, runtime)
        if _comparable(pod.get("status")) == _comparable(status):
            return
        await self.client.update_status(PODS, {**pod, "status": status})

    async def _remove(self, runtime: PodRuntime) -> None:
        self.runtimes.pop((runtime.namespace, runtime.name), None)
        self.ports.detach(runtime.uid)
        await asyncio.gather(*(c.stop() for c in runtime.components))
        if runtime.files is not None:
            await asyncio.to_thread(shutil.rmtree, runtime.files, True)
        log.info("node %s: pod %s/%s stopped", self.node, runtime.namespace, runtime.name)


def _write_container_files(root: Path, view: volumes.VolumeSet, kubeconfig: Obj) -> None:
    volumes.write_files(root, view)
    path = root / IN_CLUSTER_KUBECONFIG
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))
    path.chmod(0o600)


def _comparable(status: Obj | None) -> Obj:
    # The server drops null fields such as lastProbeTime; compare without them.
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if v is not None and v != {}}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(status or {})
