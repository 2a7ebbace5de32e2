"""The seed's example scenario, all five stages, end to end, then what a user tries next.

`up --controllers=none` provides the kcp-compatible server and the simulated clusters florin,
guilder and gouda; `scripts/example1.sh` plays the scenario with the seed's own commands
(starting the controllers by hand as the seed does); the tests then check every result the
seed shows, with the real kubectl and curl-equivalent HTTP requests. The variants run after
it, in order, against the same system with the controllers started again.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from userenv import REPO, Shell, UpProcess, eventually, http_get, user_environ

COMMON_PAGE = "This is a common web site."
SPECIAL_PAGE = "This is a special web site."

# The namespaced resources of the seed's SyncerConfigs (group, resource), all apiVersion v1.
SEED_RESOURCES = {
    ("networking.k8s.io", "ingresses"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("", "configmaps"),
    ("", "limitranges"),
    ("", "secrets"),
    ("", "pods"),
    ("", "serviceaccounts"),
    ("", "services"),
    ("", "resourcequotas"),
    ("apps", "deployments"),
    ("coordination.k8s.io", "leases"),
}
UPSYNC_C = [
    {
        "apiGroup": "group1.test",
        "resources": ["sprockets", "flanges"],
        "namespaces": ["orbital"],
        "names": ["george", "cosmo"],
    },
    {"apiGroup": "group2.test", "resources": ["cogs"], "names": ["william"]},
]
UPSYNC_S_ONLY = {"apiGroup": "group3.test", "resources": ["widgets"], "names": ["*"]}


def canonical(rules: list[dict[str, Any]]) -> set[str]:
    import json

    return {json.dumps(rule, sort_keys=True) for rule in rules}


@pytest.fixture(scope="module")
def scenario(shell: Shell, workdir: Path) -> str:
    proc = shell.run(
        str(REPO / "scripts" / "example1.sh"),
        "--workdir",
        str(workdir / "example"),
        check=False,
        timeout=420,
    )
    assert proc.returncode == 0, f"example1.sh failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def mailboxes(shell: Shell) -> dict[str, dict[str, Any]]:
    """SyncTarget name -> its mailbox Workspace, read in root:espw."""
    shell.ws("root:espw")
    items = shell.kubectl_json("get", "workspaces")["items"]
    out = {}
    for ws in items:
        target = (ws["metadata"].get("annotations") or {}).get("edge.kcp.io/sync-target-name")
        if target:
            out[target] = ws
    return out


def test_stage1_mailboxes_and_syncers(scenario: str, shell: Shell) -> None:
    boxes = mailboxes(shell)
    assert set(boxes) == {"florin", "guilder"}
    shell.ws("root:imw-1")
    targets = {t["metadata"]["name"]: t for t in shell.kubectl_json("get", "synctargets")["items"]}
    imw_cluster = shell.kubectl_json("get", "logicalcluster", "cluster")["metadata"]["annotations"][
        "kcp.io/cluster"
    ]
    for name, ws in boxes.items():
        assert ws["metadata"]["name"] == f"{imw_cluster}-mb-{targets[name]['metadata']['uid']}"
        assert ws["status"]["phase"] == "Ready"
    locations = shell.kubectl("get", "locations", "-o", "name").split()
    assert sorted(locations) == [
        "location.scheduling.kcp.io/florin",
        "location.scheduling.kcp.io/guilder",
    ]
    shell.ws("root:espw")
    columns = shell.kubectl(
        "get",
        "Workspace",
        "-o",
        "custom-columns=NAME:.metadata.name,SYNCTARGET:.metadata.annotations"
        "['edge\\.kcp\\.io/sync-target-name'],CLUSTER:.spec.cluster",
    )
    assert {line.split()[1] for line in columns.splitlines()[1:]} == {"florin", "guilder"}
    for name, ws in boxes.items():
        shell.ws(f"root:espw:{ws['metadata']['name']}")
        binding = shell.kubectl_json("get", "apibinding", "bind-edge")
        export = binding["spec"]["reference"]["export"]
        assert export == {"path": "root:espw", "name": "edge.kcp.io"}
        for line in shell.edge(name, "get", "deploy", "-A", "--no-headers").splitlines():
            if line.startswith(f"kcp-edge-syncer-{name}-"):
                assert line.split()[2] == "1/1"
                break
        else:
            raise AssertionError(f"no syncer Deployment on {name}")


def test_stage2_single_placement_slices(scenario: str, shell: Shell) -> None:
    for ws, placement, expected in (
        ("root:my-org:wmw-c", "edge-placement-c", ["florin", "guilder"]),
        ("root:my-org:wmw-s", "edge-placement-s", ["guilder"]),
    ):
        shell.ws(ws)
        sps = shell.kubectl_json("get", "singleplacementslice", placement)
        assert [d["syncTargetName"] for d in sps["destinations"]] == expected
        assert [d["locationName"] for d in sps["destinations"]] == expected
        owner = sps["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"]) == ("EdgePlacement", placement)


def syncer_config(shell: Shell, mailbox: dict[str, Any]) -> dict[str, Any]:
    shell.ws(f"root:espw:{mailbox['metadata']['name']}")
    return shell.kubectl_json("get", "syncerconfig", "the-one")


def test_stage3_syncer_configs_and_mailbox_contents(scenario: str, shell: Shell) -> None:
    boxes = mailboxes(shell)
    for target, namespaces, upsync in (
        ("florin", ["commonstuff"], UPSYNC_C),
        ("guilder", ["commonstuff", "specialstuff"], [*UPSYNC_C, UPSYNC_S_ONLY]),
    ):
        spec = syncer_config(shell, boxes[target])["spec"]
        scope = spec["namespaceScope"]
        assert sorted(scope["namespaces"]) == namespaces
        resources = {(r["group"], r["resource"]) for r in scope["resources"]}
        assert resources == SEED_RESOURCES
        assert {r["apiVersion"] for r in scope["resources"]} == {"v1"}
        assert canonical(spec["upsync"]) == canonical(upsync)
        assert not spec.get("clusterScope")
        names = {ns["metadata"]["name"] for ns in shell.kubectl_json("get", "ns")["items"]}
        assert set(namespaces) <= names
        deployments = shell.kubectl_json("get", "deployments", "-A")["items"]
        assert {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in deployments} == {
            (ns, "commond" if ns == "commonstuff" else "speciald") for ns in namespaces
        }


def edge_deployments(shell: Shell, cluster: str) -> dict[tuple[str, str], str]:
    out = {}
    for d in shell.edge_json(cluster, "get", "deploy", "-A")["items"]:
        status = d.get("status") or {}
        ready = f"{status.get('readyReplicas', 0)}/{d['spec'].get('replicas', 1)}"
        out[(d["metadata"]["namespace"], d["metadata"]["name"])] = ready
    return out


def test_stage4_edge_clusters(scenario: str, shell: Shell) -> None:
    florin_ns = {n["metadata"]["name"] for n in shell.edge_json("florin", "get", "ns")["items"]}
    assert {"commonstuff", "default", "kube-system"} <= florin_ns
    assert "specialstuff" not in florin_ns
    guilder_ns = {n["metadata"]["name"] for n in shell.edge_json("guilder", "get", "ns")["items"]}
    assert {"commonstuff", "specialstuff"} <= guilder_ns
    florin = edge_deployments(shell, "florin")
    assert florin[("commonstuff", "commond")] == "1/1"
    assert not [k for k in florin if k[0] == "specialstuff"]
    guilder = edge_deployments(shell, "guilder")
    assert guilder[("commonstuff", "commond")] == "1/1"
    assert guilder[("specialstuff", "speciald")] == "1/1"
    assert COMMON_PAGE in http_get(8081)
    assert SPECIAL_PAGE in http_get(8082)
    assert COMMON_PAGE in http_get(8083)


def test_stage5_status_summaries(scenario: str, shell: Shell) -> None:
    for ws, namespace, name, ready in (
        ("root:my-org:wmw-c", "commonstuff", "commond", 2),
        ("root:my-org:wmw-s", "specialstuff", "speciald", 1),
    ):
        shell.ws(ws)
        summaries = shell.kubectl_json("get", "statussummaries", "-n", namespace)["items"]
        subjects = [s for s in summaries if s.get("subject", {}).get("name") == name]
        assert len(subjects) == 1, summaries
        deployment = shell.kubectl_json("get", "deploy", "-n", namespace, name)
        assert deployment["status"]["readyReplicas"] == ready


# -- variants: what a user tries next ---------------------------------------------------

CONTROLLERS = ("mailbox-controller", "scheduler", "placement-translator", "status-summarizer")


@pytest.fixture(scope="module")
def controllers(
    scenario: str, shell: Shell, up_no_controllers: UpProcess, workdir: Path
) -> Iterator[None]:
    """The four central controllers, started again by hand in root:espw."""
    shell.ws("root:espw")
    snapshot = workdir / "controllers.kubeconfig"  # later `kubectl ws` must not move them
    shutil.copyfile(shell.kubeconfig, snapshot)
    env = user_environ(KUBECONFIG=str(snapshot))
    procs = []
    for name in CONTROLLERS:
        with open(workdir / f"variants-{name}.log", "w") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "edgemc.cmd", name],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                )
            )
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def test_variant_third_cluster_joins(controllers: None, shell: Shell, workdir: Path) -> None:
    shell.ws("root:imw-1")
    shell.run(str(REPO / "scripts" / "ensure-location.sh"), "gouda", "env=prod")
    eventually(lambda: "gouda" in mailboxes(shell), what="gouda's mailbox")
    shell.ws("root:espw")
    shell.run(str(REPO / "scripts" / "mailbox-prep.sh"), "gouda")
    shell.run(
        "kubectl",
        f"--kubeconfig={shell.edge_kubeconfig}",
        "--context=kind-gouda",
        "apply",
        "-f",
        str(workdir / "gouda-syncer.yaml"),
    )
    eventually(
        lambda: edge_deployments(shell, "gouda").get(("commonstuff", "commond")) == "1/1",
        what="commond 1/1 on gouda",
    )


def test_variant_location_relabelled_moves_special(controllers: None, shell: Shell) -> None:
    shell.ws("root:imw-1")
    shell.kubectl("label", "location", "guilder", "extended-")
    shell.kubectl("label", "location", "gouda", "extended=si")
    eventually(
        lambda: ("specialstuff", "speciald") not in edge_deployments(shell, "guilder"),
        what="speciald gone from guilder",
    )
    eventually(
        lambda: edge_deployments(shell, "gouda").get(("specialstuff", "speciald")) == "1/1",
        what="speciald 1/1 on gouda",
    )


def test_variant_workload_edit_reaches_the_edge(controllers: None, shell: Shell) -> None:
    shell.ws("root:my-org:wmw-c")
    page = "<html><body>An edited common web site.</body></html>\n"
    shell.kubectl(
        "patch",
        "configmap",
        "-n",
        "commonstuff",
        "httpd-htdocs",
        "--type=merge",
        "-p",
        '{"data":{"index.html":"' + page.strip() + '"}}',
    )
    eventually(lambda: "An edited common web site." in http_get(8081), what="edited page")
    eventually(lambda: "An edited common web site." in http_get(8083), what="edited page")


def test_variant_edge_object_upsynced(controllers: None, shell: Shell) -> None:
    shell.ws("root:my-org:wmw-c")
    shell.kubectl(
        "patch",
        "edgeplacement",
        "edge-placement-c",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/spec/upsync/-","value":{"apiGroup":"","resources":'
        '["configmaps"],"namespaces":["commonstuff"],"names":["edge-report"]}}]',
    )
    shell.run(
        "kubectl",
        f"--kubeconfig={shell.edge_kubeconfig}",
        "--context=kind-florin",
        "apply",
        "-f",
        "-",
        input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: edge-report, namespace: "
        "commonstuff}\ndata: {state: fine}\n",
    )
    florin_box = mailboxes(shell)["florin"]["metadata"]["name"]

    def upsynced() -> bool:
        shell.ws(f"root:espw:{florin_box}")
        cm = shell.kubectl_json("get", "configmaps", "-n", "commonstuff")["items"]
        return any(c["metadata"]["name"] == "edge-report" for c in cm)

    eventually(upsynced, what="edge-report in florin's mailbox")


def test_variant_placement_deleted(controllers: None, shell: Shell) -> None:
    shell.ws("root:my-org:wmw-s")
    shell.kubectl("delete", "edgeplacement", "edge-placement-s")
    for cluster in ("guilder", "gouda"):
        eventually(
            lambda cluster=cluster: (
                ("specialstuff", "speciald") not in edge_deployments(shell, cluster)
            ),
            what=f"speciald gone from {cluster}",
        )
