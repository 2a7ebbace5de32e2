"""Seed Stage 4 in one process: the syncer Deployment applied to a simulated kind cluster
runs the real syncer (in-cluster access to the edge, the mailbox kubeconfig from its
Secret); the seed's common workload arrives, runs 1/1, serves its page on the mapped host
port, and its status comes back to the mailbox."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from edgeenv import EdgeEnv, wait_for
from test_syncer_support import MAILBOX, Rig, get_or_none

from edgemc.controllers import resources as r
from edgemc.embedded.edgecluster import GUILDER_CONFIG, EdgeCluster
from edgemc.embedded.nodesim import NodeSimOptions
from edgemc.runtime import Client

SYNCER_NS = "kcp-edge-syncer-guilder-saaywsu5"
PAGE = "<!DOCTYPE html>\n<html>\n  <body>\n    This is a common web site.\n  </body>\n</html>\n"
SEED_RESOURCES = [
    ("networking.k8s.io", "ingresses"),
    ("rbac.authorization.k8s.io", "roles"),
    ("", "configmaps"),
    ("", "limitranges"),
    ("", "secrets"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("apps", "deployments"),
    ("", "pods"),
    ("", "serviceaccounts"),
    ("", "services"),
    ("", "resourcequotas"),
    ("coordination.k8s.io", "leases"),
]


def manifest(mailbox_kubeconfig: str) -> list[dict]:
    args = [
        "--from-kubeconfig=/kcp/kubeconfig",
        "--sync-target-name=guilder",
        "--sync-target-uid=bf452e1f-45a0-4d5d-b35c-ef1ece2879ba",
        f"--from-cluster={MAILBOX}",
        "--qps=30",
        "--burst=20",
        "--v=3",
    ]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYNCER_NS}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": SYNCER_NS, "namespace": SYNCER_NS},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": SYNCER_NS},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": SYNCER_NS},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": SYNCER_NS,
            },
            "subjects": [{"kind": "ServiceAccount", "name": SYNCER_NS, "namespace": SYNCER_NS}],
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SYNCER_NS, "namespace": SYNCER_NS},
            "stringData": {"kubeconfig": mailbox_kubeconfig},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": SYNCER_NS, "namespace": SYNCER_NS},
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": {"app": SYNCER_NS}},
                "template": {
                    "metadata": {"labels": {"app": SYNCER_NS}},
                    "spec": {
                        "serviceAccountName": SYNCER_NS,
                        "containers": [
                            {
                                "name": "kcp-edge-syncer",
                                "image": "ghcr.io/edgemc/edgemc:latest",
                                "command": ["python", "-m", "edgemc.cmd", "syncer"],
                                "args": args,
                                "volumeMounts": [{"name": "kcp", "mountPath": "/kcp/"}],
                            }
                        ],
                        "volumes": [
                            {
                                "name": "kcp",
                                "secret": {
                                    "secretName": SYNCER_NS,
                                    "items": [{"key": "kubeconfig", "path": "kubeconfig"}],
                                },
                            }
                        ],
                    },
                },
            },
        },
    ]


def common_workload() -> list[tuple[object, dict]]:
    ns = "commonstuff"
    return [
        (
            r.NAMESPACES,
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"common": "si"}},
            },
        ),
        (
            r.CONFIGMAPS,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"namespace": ns, "name": "httpd-htdocs"},
                "data": {"index.html": PAGE},
            },
        ),
        (
            r.DEPLOYMENTS,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"namespace": ns, "name": "commond"},
                "spec": {
                    "selector": {"matchLabels": {"app": "common"}},
                    "template": {
                        "metadata": {"labels": {"app": "common"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "httpd",
                                    "image": "library/httpd:2.4",
                                    "ports": [
                                        {
                                            "name": "http",
                                            "containerPort": 80,
                                            "hostPort": 8081,
                                            "protocol": "TCP",
                                        }
                                    ],
                                    "volumeMounts": [
                                        {
                                            "name": "htdocs",
                                            "readOnly": True,
                                            "mountPath": "/usr/local/apache2/htdocs",
                                        }
                                    ],
                                }
                            ],
                            "volumes": [
                                {
                                    "name": "htdocs",
                                    "configMap": {"name": "httpd-htdocs", "optional": False},
                                }
                            ],
                        },
                    },
                },
            },
        ),
        (
            r.SYNCER_CONFIGS,
            {
                "apiVersion": "edge.kcp.io/v1alpha1",
                "kind": "SyncerConfig",
                "metadata": {"name": "the-one"},
                "spec": {
                    "namespaceScope": {
                        "namespaces": [ns],
                        "resources": [
                            {"group": g, "apiVersion": "v1", "resource": res}
                            for g, res in SEED_RESOURCES
                        ],
                    }
                },
            },
        ),
    ]


async def test_syncer_deployment_in_a_simulated_cluster(env: EdgeEnv, tmp_path: Path) -> None:
    rig = Rig(env, tmp_path)
    await rig.start()
    guilder = EdgeCluster(
        "guilder",
        kind_config=GUILDER_CONFIG,
        data_dir=tmp_path / "guilder",
        host_ports={8082: 0, 8083: 0},
        node_options=NodeSimOptions(heartbeat_interval=0.2, node_monitor_period=0.1),
    )
    await guilder.start()
    edge = Client(guilder.client_config())
    try:
        for gvr, obj in common_workload():
            await rig.mailbox.create(gvr, obj)  # type: ignore[arg-type]
        kubeconfig = env.kubeconfig(MAILBOX, name="syncer-mailbox.kubeconfig").read_text()
        for obj in manifest(kubeconfig):
            gvr = {
                "Namespace": r.NAMESPACES,
                "ServiceAccount": r.SERVICE_ACCOUNTS,
                "Secret": r.SECRETS,
                "ClusterRole": r.CLUSTER_ROLES,
                "ClusterRoleBinding": r.CLUSTER_ROLE_BINDINGS,
                "Deployment": r.DEPLOYMENTS,
            }[obj["kind"]]
            await edge.create(gvr, obj)

        async def ready(client: Client) -> bool:
            got = await get_or_none(client, r.DEPLOYMENTS, "commond", "commonstuff")
            return bool(got) and (got.get("status") or {}).get("readyReplicas") == 1

        await wait_for(lambda: ready(edge), 30, "commond 1/1 on guilder")
        await wait_for(lambda: ready(rig.mailbox), 15, "commond's status in the mailbox")

        port = guilder.host_port(8083)
        assert port is not None

        async def page() -> str | None:
            try:
                async with aiohttp.ClientSession() as session:
                    async with session.get(f"http://127.0.0.1:{port}/") as resp:
                        return await resp.text() if resp.status == 200 else None
            except aiohttp.ClientError:
                return None

        assert await wait_for(page, 15, "the common page on guilder's 8083") == PAGE

        async def heartbeat() -> str | None:
            config = await rig.mailbox.get(r.SYNCER_CONFIGS, "the-one")
            return (config.get("status") or {}).get("lastSyncerHeartbeatTime")

        await wait_for(heartbeat, 15, "the syncer's heartbeat on the-one")
    finally:
        await edge.close()
        await guilder.stop()
        await rig.stop()
