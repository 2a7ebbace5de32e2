"""edgemc components run for real from a pod spec: mounted Secret, in-cluster identity,
restarts with backoff, stop on deletion. A test-local App stands in for the syncer."""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import yaml
from kubectl_runner import Kubectl
from polling import wait_for
from simhelpers import kubectl_json, table

from edgemc.controllers.app import App, ClientFlag, Clients
from edgemc.embedded.edgecluster import EdgeCluster
from edgemc.embedded.nodesim.containers import edgemc_command
from edgemc.embedded.nodesim.kinds import CONFIGMAPS
from edgemc.embedded.nodesim.volumes import rewrite_paths
from edgemc.runtime import Manager

NS = "kcp-edge-syncer-guilder-saaywsu5"


def syncer_manifest(extra_args: tuple[str, ...] = ()) -> str:
    """The shape of the manifest mailbox-prep.sh writes (the parts a node looks at)."""
    mailbox_kubeconfig = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "mailbox", "cluster": {"server": "https://mailbox.invalid"}}],
            "users": [{"name": "syncer", "user": {"token": "mailbox-token"}}],
            "contexts": [{"name": "mailbox", "context": {"cluster": "mailbox", "user": "syncer"}}],
            "current-context": "mailbox",
        }
    )
    args = [
        "--from-kubeconfig=/kcp/kubeconfig",
        "--sync-target-name=guilder",
        "--sync-target-uid=bf452e1f-45a0-4d5d-b35c-ef1ece2879ba",
        "--from-cluster=yk9a66vjms1pi8hu",
        "--qps=30",
        "--burst=20",
        "--v=3",
        *extra_args,
    ]
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NS, "namespace": NS}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                "name": f"{NS}-token",
                "namespace": NS,
                "annotations": {"kubernetes.io/service-account.name": NS},
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": NS},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": NS},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NS},
            "subjects": [{"kind": "ServiceAccount", "name": NS, "namespace": NS}],
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": NS, "namespace": NS},
            "stringData": {"kubeconfig": mailbox_kubeconfig},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": NS, "namespace": NS},
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": {"app": NS}},
                "template": {
                    "metadata": {"labels": {"app": NS}},
                    "spec": {
                        "serviceAccountName": NS,
                        "containers": [
                            {
                                "name": "kcp-edge-syncer",
                                "image": "ghcr.io/edgemc/edgemc:latest",
                                "command": ["python", "-m", "edgemc.cmd", "syncer"],
                                "args": args,
                                "volumeMounts": [
                                    {
                                        "name": "kcp-edge-config",
                                        "mountPath": "/kcp/",
                                        "readOnly": True,
                                    }
                                ],
                            }
                        ],
                        "volumes": [
                            {
                                "name": "kcp-edge-config",
                                "secret": {
                                    "secretName": NS,
                                    "items": [{"key": "kubeconfig", "path": "kubeconfig"}],
                                },
                            }
                        ],
                    },
                },
            },
        },
    ]
    return yaml.safe_dump_all(docs)


@dataclass
class Probe:
    """A stand-in for the syncer: records what it was given, fails the first `failures` runs."""

    failures: int = 0
    # When set, the component exits with this code as soon as it is built.
    exit_code: int | None = None
    runs: int = 0
    running: bool = False
    argv_seen: list[argparse.Namespace] = field(default_factory=list)

    def app(self) -> App:
        def add_flags(parser: argparse.ArgumentParser) -> None:
            parser.add_argument("--sync-target-name", required=True)
            parser.add_argument("--sync-target-uid", default="")
            parser.add_argument("--from-cluster", default="")
            parser.add_argument("--qps", type=float, default=5)
            parser.add_argument("--burst", type=int, default=10)

        async def build(mgr: Manager, args: argparse.Namespace, clients: Clients) -> None:
            self.runs += 1
            self.argv_seen.append(args)
            if self.runs <= self.failures:
                raise RuntimeError(f"failing on purpose (run {self.runs})")
            if self.exit_code is not None:
                mgr.request_stop(self.exit_code)
                return
            mailbox = await asyncio.to_thread(Path(args.from_kubeconfig).read_text)
            to_kubeconfig = await asyncio.to_thread(Path(args.to_kubeconfig).read_text)
            to = await clients.get("to")
            await to.create(
                CONFIGMAPS,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"probe-{self.runs}", "namespace": NS},
                    "data": {
                        "mailbox-kubeconfig": mailbox,
                        "sync-target": args.sync_target_name,
                        "to-kubeconfig": to_kubeconfig,
                    },
                },
            )

            async def stay() -> None:
                self.running = True
                try:
                    await asyncio.Event().wait()
                finally:
                    self.running = False

            mgr.add_runnable(stay, needs_leader=False)

        return App(
            name="syncer",
            description="test stand-in for the edge syncer",
            build=build,
            client_flags=(
                ClientFlag("from", None, "the mailbox workspace"),
                ClientFlag("to", None, "the edge cluster"),
            ),
            add_flags=add_flags,
        )

    def resolver(self) -> Callable[[str], App | None]:
        app = self.app()
        return lambda name: app if name == "syncer" else None


def test_edgemc_command_detection() -> None:
    assert edgemc_command(
        {"command": ["python", "-m", "edgemc.cmd", "syncer"], "args": ["-v=3"]}
    ) == (
        "syncer",
        ["-v=3"],
    )
    assert edgemc_command({"command": ["/usr/bin/python3", "-m", "edgemc.cmd", "x", "--a"]}) == (
        "x",
        ["--a"],
    )
    assert edgemc_command({"image": "ghcr.io/edgemc/edgemc:v1", "args": ["syncer", "--q"]}) == (
        "syncer",
        ["--q"],
    )
    assert edgemc_command({"image": "edgemc", "args": ["--help"]}) is None
    assert edgemc_command({"image": "library/httpd:2.4"}) is None
    assert edgemc_command({"command": ["python", "-m", "http.server"]}) is None


def test_rewrite_paths() -> None:
    root = Path("/tmp/pod")
    argv = ["--from-kubeconfig=/kcp/kubeconfig", "/kcp", "/etc/x", "--v=3", "/kcpx/y"]
    assert rewrite_paths(argv, ["/kcp"], root) == [
        "--from-kubeconfig=/tmp/pod/kcp/kubeconfig",
        "/tmp/pod/kcp",
        "/etc/x",
        "--v=3",
        "/kcpx/y",
    ]


async def pod_of(k: Kubectl) -> dict[str, Any] | None:
    pods = (await kubectl_json(k, "get", "pods", "-n", NS))["items"]
    return pods[0] if len(pods) == 1 else None


async def deploy_ready(k: Kubectl) -> bool:
    rows = table((await k.arun("get", "deploy", "-n", NS, NS, check=False)).stdout)
    return len(rows) == 2 and rows[1][1] == "1/1"


async def test_syncer_deployment_runs_the_component_with_its_secret(
    make_cluster: Callable[..., EdgeCluster], kubectl: Callable[[EdgeCluster], Kubectl]
) -> None:
    probe = Probe()
    guilder = make_cluster("guilder", resolver=probe.resolver())
    await guilder.start()
    k = kubectl(guilder)
    await k.arun("apply", "-f", "-", input=syncer_manifest())

    async def result() -> dict[str, Any] | None:
        got = (await kubectl_json(k, "get", "configmaps", "-n", NS))["items"]
        return next((c for c in got if c["metadata"]["name"] == "probe-1"), None)

    cm = await wait_for(result, what="the component's ConfigMap")
    assert yaml.safe_load(cm["data"]["mailbox-kubeconfig"])["users"][0]["user"]["token"] == (
        "mailbox-token"
    )
    assert cm["data"]["sync-target"] == "guilder"
    # It reached this cluster as the pod's ServiceAccount, not as the admin.
    to = yaml.safe_load(cm["data"]["to-kubeconfig"])
    token = to["users"][0]["user"]["token"]
    assert token != guilder.admin_token
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == f"system:serviceaccount:{NS}:{NS}"
    (args,) = probe.argv_seen
    assert args.from_kubeconfig.endswith("/kcp/kubeconfig")
    assert not args.from_kubeconfig.startswith("/kcp/")
    assert args.qps == 30 and args.burst == 20

    await wait_for(lambda: deploy_ready(k), what="the syncer Deployment 1/1")

    # The manifest's service-account-token Secret is filled in, as the token controller does.
    async def token_secret() -> dict[str, Any] | None:
        secret = await kubectl_json(k, "get", "secret", f"{NS}-token", "-n", NS)
        return secret if (secret.get("data") or {}).get("token") else None

    secret = await wait_for(token_secret, what="the token Secret filled in")
    assert set(secret["data"]) == {"token", "ca.crt", "namespace"}
    secret_token = base64.b64decode(secret["data"]["token"]).decode()
    assert jwt.decode(secret_token, options={"verify_signature": False})["sub"] == claims["sub"]
    pod = await pod_of(k)
    assert pod is not None
    (status,) = pod["status"]["containerStatuses"]
    assert status["ready"] and "running" in status["state"]
    assert probe.running

    # Deleting the Deployment stops the component and removes its files.
    files = Path(args.from_kubeconfig).parent.parent
    assert files.exists()
    await k.arun("delete", "deploy", NS, "-n", NS)

    async def stopped() -> bool:
        return not probe.running and await pod_of(k) is None

    await wait_for(stopped, what="the component stopped")
    await wait_for(lambda: asyncio.sleep(0, result=not files.exists()), what="files removed")


async def test_crashing_component_restarts_with_backoff(
    make_cluster: Callable[..., EdgeCluster], kubectl: Callable[[EdgeCluster], Kubectl]
) -> None:
    probe = Probe(failures=2)
    guilder = make_cluster("guilder", resolver=probe.resolver())
    await guilder.start()
    k = kubectl(guilder)
    await k.arun("apply", "-f", "-", input=syncer_manifest())

    async def ready_after_two_restarts() -> dict[str, Any] | None:
        # A run that is about to fail is ready for a moment too (no readiness probe, as
        # with a real kubelet): wait for the ready state that follows the second restart.
        if not await deploy_ready(k):
            return None
        pod = await pod_of(k)
        statuses = (pod or {}).get("status", {}).get("containerStatuses") or [{}]
        return statuses[0] if statuses[0].get("restartCount", 0) >= 2 else None

    status = await wait_for(ready_after_two_restarts, within=20, what="ready after two crashes")
    assert status["restartCount"] == 2
    assert status["lastState"]["terminated"]["exitCode"] == 1

    async def third_run_going() -> bool:  # the container runs before its component builds
        return probe.runs == 3 and probe.running

    await wait_for(third_run_going, within=10, what="the third run built and running")
    rows = table((await k.arun("get", "pods", "-n", NS)).stdout)
    assert rows[1][1:4] == ["1/1", "Running", "2"]


async def test_bad_arguments_and_missing_secret(
    make_cluster: Callable[..., EdgeCluster], kubectl: Callable[[EdgeCluster], Kubectl]
) -> None:
    probe = Probe()
    guilder = make_cluster("guilder", resolver=probe.resolver())
    await guilder.start()
    k = kubectl(guilder)
    docs = list(yaml.safe_load_all(syncer_manifest(("--no-such-flag",))))
    # Without its Secret the pod waits in ContainerCreating.
    without_secret = [d for d in docs if d["kind"] != "Secret"]
    await k.arun("apply", "-f", "-", input=yaml.safe_dump_all(without_secret))

    async def waiting_reason() -> str | None:
        pod = await pod_of(k)
        statuses = (pod or {}).get("status", {}).get("containerStatuses") or []
        return statuses[0]["state"].get("waiting", {}).get("reason") if statuses else None

    assert await wait_for(waiting_reason, what="a waiting container") == "ContainerCreating"
    pod = await pod_of(k)
    assert pod is not None
    assert "not found" in pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    await k.arun("apply", "-f", "-", input=yaml.safe_dump_all(docs))

    # Then argparse rejects the unknown flag: the container crash-loops (exit code 2).
    async def crashed() -> dict[str, Any] | None:
        pod = await pod_of(k)
        statuses = (pod or {}).get("status", {}).get("containerStatuses") or []
        if statuses and statuses[0]["restartCount"] >= 1:
            return statuses[0]
        return None

    status = await wait_for(crashed, what="a crash-looping container")
    assert status["lastState"]["terminated"]["exitCode"] == 2
    assert not status["ready"]


async def test_pod_that_completes(
    make_cluster: Callable[..., EdgeCluster], kubectl: Callable[[EdgeCluster], Kubectl]
) -> None:
    probe = Probe(exit_code=0)
    florin = make_cluster("florin", resolver=probe.resolver())
    await florin.start()
    k = kubectl(florin)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "once", "namespace": "default"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "once",
                    "image": "ghcr.io/edgemc/edgemc:latest",
                    "args": ["syncer", "--sync-target-name=florin"],
                }
            ],
        },
    }
    await k.arun("apply", "-f", "-", input=yaml.safe_dump(pod))

    async def completed() -> list[list[str]] | None:
        rows = table((await k.arun("get", "pod", "once", "-n", "default")).stdout)
        return rows if rows[1][2] == "Completed" else None

    rows = await wait_for(completed, what="the pod Completed")
    assert rows[1][1] == "0/1"
    got = await kubectl_json(k, "get", "pod", "once", "-n", "default")
    assert got["status"]["phase"] == "Succeeded"
    assert got["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert probe.runs == 1
