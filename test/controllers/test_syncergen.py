"""`syncer-gen`: the syncer id, the edge manifest, the identity it makes in a mailbox, and
one-line failures on bad input."""

from __future__ import annotations

import asyncio
import base64
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from edgeenv import ESPW, EdgeEnv

from edgemc.controllers import resources as r
from edgemc.controllers import syncergen
from edgemc.controllers.syncergen import (
    EDGEMC_IMAGE,
    GenError,
    edge_manifest,
    mailbox_rules,
    syncer_id,
)
from edgemc.runtime import Client, ClusterConfig, Forbidden

UID = "bf452e1f-45a0-4d5d-b35c-ef1ece2879ba"
MAILBOX = f"yk9a66vjms1pi8hu-mb-{UID}"


def test_syncer_id_is_stable_and_well_formed() -> None:
    ident = syncer_id("guilder", UID)
    assert ident == "kcp-edge-syncer-guilder-2x1os53x"  # regression value
    assert syncer_id("guilder", UID) == ident
    assert syncer_id("guilder", UID.replace("b", "c")) != ident
    assert len(ident) == len("kcp-edge-syncer-guilder-") + 8
    assert syncergen.base36(b"\x00") == "0" and syncergen.base36(b"\x01\x00") == "74"


def manifest() -> list[dict[str, Any]]:
    return edge_manifest(
        ident=syncer_id("guilder", UID),
        sync_target_name="guilder",
        sync_target_uid=UID,
        mailbox_path=f"root:espw:{MAILBOX}",
        kubeconfig={"apiVersion": "v1", "kind": "Config"},
        image=EDGEMC_IMAGE,
    )


def test_edge_manifest_objects_in_seed_order() -> None:
    ident = syncer_id("guilder", UID)
    dns = ident.replace("-syncer-", "-dns-")
    assert [(o["kind"], o["metadata"]["name"]) for o in manifest()] == [
        ("Namespace", ident),
        ("ServiceAccount", ident),
        ("Secret", f"{ident}-token"),
        ("ClusterRole", ident),
        ("ClusterRoleBinding", ident),
        ("Role", dns),
        ("RoleBinding", dns),
        ("Secret", ident),
        ("Deployment", ident),
    ]
    namespaced = [o for o in manifest() if o["kind"] not in ("Namespace", "ClusterRole")]
    assert all(
        o["metadata"].get("namespace") == ident
        for o in namespaced
        if o["kind"] != "ClusterRoleBinding"
    )


def test_deployment_runs_the_syncer_component() -> None:
    ident = syncer_id("guilder", UID)
    deployment = manifest()[-1]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == ident
    (container,) = pod["containers"]
    assert container["image"] == EDGEMC_IMAGE
    assert container["command"] == ["python", "-m", "edgemc.cmd", "syncer"]
    assert container["args"] == [
        "--from-kubeconfig=/kcp/kubeconfig",
        "--sync-target-name=guilder",
        f"--sync-target-uid={UID}",
        f"--from-cluster=root:espw:{MAILBOX}",
        "--qps=30",
        "--burst=20",
        "--v=3",
    ]
    (mount,) = container["volumeMounts"]
    (volume,) = pod["volumes"]
    assert mount["mountPath"] == "/kcp/" and volume["secret"] == {"secretName": ident}
    assert mount["name"] == volume["name"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_mailbox_rules_stay_inside_the_mailbox() -> None:
    verbs = {v for rule in mailbox_rules() for v in rule["verbs"]}
    assert {"get", "list", "watch", "create", "update", "patch", "delete"} <= verbs
    assert "escalate" not in verbs and "bind" not in verbs and "*" not in verbs


def test_kubeconfig_cluster_entry(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"PEM")
    config = {
        "clusters": [
            {"name": "c", "cluster": {"server": "https://h", "certificate-authority": "ca.crt"}}
        ],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    entry = syncergen._current_cluster_entry(str(path), None)
    assert entry == {
        "server": "https://h",
        "certificate-authority-data": base64.b64encode(b"PEM").decode(),
    }
    with pytest.raises(GenError, match="no context 'nope'"):
        syncergen._current_cluster_entry(str(path), "nope")
    path.write_text("- just a list")
    with pytest.raises(GenError, match="not a kubeconfig"):
        syncergen._current_cluster_entry(str(path), None)


async def run_gen(*argv: str) -> int:
    """`python -m edgemc.cmd syncer-gen ...` in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(syncergen.main, list(argv))


async def test_identity_in_mailbox_and_rerun(
    env: EdgeEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await env.install_edge_api()
    ws = await env.create_workspace(f"{ESPW}:{MAILBOX}")
    kubeconfig = env.kubeconfig(f"{ESPW}:{MAILBOX}")
    out = tmp_path / "guilder-syncer.yaml"
    args = ("guilder", "-o", str(out), f"--kubeconfig={kubeconfig}", "--syncer-image=img:1")
    assert await run_gen(*args) == 0
    ident = syncer_id("guilder", UID)
    printed = capsys.readouterr().out
    assert f'Creating service account "{ident}"' in printed
    assert f'Wrote physical cluster manifest to {out} for namespace "{ident}"' in printed

    objects = list(yaml.safe_load_all(out.read_text()))
    assert objects[-1]["spec"]["template"]["spec"]["containers"][0]["image"] == "img:1"
    secret = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == ident)
    cfg = yaml.safe_load(secret["stringData"]["kubeconfig"])
    cluster = cfg["clusters"][0]["cluster"]
    assert cluster["server"] == f"{env.server.url}/clusters/{ws['spec']['cluster']}"
    assert "certificate-authority-data" in cluster or cluster.get("insecure-skip-tls-verify")

    mailbox = env.ws(ws["spec"]["cluster"])
    role = await mailbox.get(r.CLUSTER_ROLES, ident)
    assert role["rules"] == mailbox_rules()
    binding = await mailbox.get(r.CLUSTER_ROLE_BINDINGS, ident)
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": ident, "namespace": "default"}
    ]

    # The token works in the mailbox only.
    config = ClusterConfig.for_server(cluster["server"], cfg["users"][0]["user"]["token"])
    config.ssl = env.server.client_ssl()
    async with Client(config) as syncer:
        await syncer.list(r.SECRETS, namespace="default")
        with pytest.raises(Forbidden):
            await syncer.with_base_url(env.server.url).cluster(ESPW).list(r.WORKSPACES)

    # A hand-narrowed role is put back on a re-run; the id and token stay the same.
    role["rules"] = role["rules"][:1]
    role["rules"][0]["verbs"] = ["get"]
    await mailbox.update(r.CLUSTER_ROLES, role)
    assert await run_gen(*args) == 0
    assert (await mailbox.get(r.CLUSTER_ROLES, ident))["rules"] == mailbox_rules()
    again = list(yaml.safe_load_all(out.read_text()))
    assert again == objects


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_bad_input_gives_one_line(
    env: EdgeEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await env.install_edge_api()
    out = str(tmp_path / "x.yaml")

    def one_error_line() -> str:
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith("error: syncer-gen:"), err
        return err

    # Not a mailbox workspace.
    assert await run_gen("guilder", "-o", out, f"--kubeconfig={env.kubeconfig(ESPW)}") == 1
    assert "is not a mailbox workspace" in one_error_line()
    # A mailbox-like path that does not exist.
    missing = env.kubeconfig(f"{ESPW}:abc-mb-{UID}")
    assert await run_gen("guilder", "-o", out, f"--kubeconfig={missing}") == 1
    one_error_line()
    # Not a kubeconfig, and no such file.
    garbage = tmp_path / "garbage"
    garbage.write_text(": not yaml : [")
    assert await run_gen("guilder", "-o", out, f"--kubeconfig={garbage}") == 1
    assert "is not valid YAML" in one_error_line()
    assert await run_gen("guilder", "-o", out, f"--kubeconfig={tmp_path / 'none'}") == 1
    one_error_line()
    # Nobody listening.
    dead = tmp_path / "dead"
    dead.write_text(
        missing.read_text().replace(env.server.url, f"https://127.0.0.1:{_dead_port()}")
    )
    assert await run_gen("guilder", "-o", out, f"--kubeconfig={dead}") == 1
    assert "cannot reach the server: cannot connect to 127.0.0.1:" in one_error_line()
    assert not await asyncio.to_thread(Path(out).exists)
