"""Stage 1 of the seed with the real kubectl and the project's scripts: inventory, ESPW,
mailbox controller, `mailbox-prep.sh`; plus the scripts' argument checks and exit codes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from edgeenv import ESPW, EdgeEnv, wait_for

from edgemc.apis import edge
from edgemc.controllers import mailbox
from edgemc.controllers import resources as r
from edgemc.controllers.app import running
from edgemc.controllers.syncergen import syncer_id
from edgemc.embedded.apiserver.server import ApiServer, ServerConfig
from edgemc.runtime import Client, ClusterConfig, Forbidden

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"


class Shell:
    """A user's shell on `env`: its own KUBECONFIG (changed by `kubectl ws`) and directory."""

    def __init__(self, env: EdgeEnv, workdir: Path) -> None:
        self.kubeconfig = env.kubeconfig("root", name="shell.kubeconfig")
        self.workdir = workdir
        os.symlink(REPO / "config", workdir / "config")

    async def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        environ = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHON": sys.executable,
            "MAILBOX_PREP_WAIT": "1",
        }
        proc = await asyncio.to_thread(
            subprocess.run,
            list(args),
            capture_output=True,
            text=True,
            env=environ,
            cwd=self.workdir,
            timeout=90,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        return proc


async def test_stage1_with_scripts_and_kubectl(env: EdgeEnv, tmp_path: Path) -> None:
    sh = Shell(env, tmp_path)
    await sh.run("kubectl", "ws", "root")
    await sh.run("kubectl", "ws", "create", "imw-1", "--enter")
    out = await sh.run(str(SCRIPTS / "ensure-location.sh"), "florin", "env=prod")
    assert "synctarget.workload.kcp.io/florin created" in out.stdout
    # kcp's Location `default` comes after the first SyncTarget; the script waits it out.
    only_florin = await sh.run("kubectl", "get", "locations", "-o", "name")
    assert only_florin.stdout.split() == ["location.scheduling.kcp.io/florin"]
    await sh.run(str(SCRIPTS / "ensure-location.sh"), "guilder", "env=prod")
    more = await sh.run(str(SCRIPTS / "ensure-location.sh"), "guilder", "env=prod", "extended=si")
    assert "synctarget.workload.kcp.io/guilder labeled" in more.stdout
    again = await sh.run(str(SCRIPTS / "ensure-location.sh"), "guilder", "env=prod")
    assert "created" not in again.stdout  # idempotent
    locations = await sh.run("kubectl", "get", "locations", "-o", "name")
    assert locations.stdout.split() == [
        "location.scheduling.kcp.io/florin",
        "location.scheduling.kcp.io/guilder",
    ]
    labels = await sh.run(
        "kubectl", "get", "synctarget", "guilder", "-o", "jsonpath={.metadata.labels}"
    )
    assert (
        yaml.safe_load(labels.stdout).items()
        >= {
            "id": "guilder",
            "env": "prod",
            "extended": "si",
        }.items()
    )

    await sh.run("kubectl", "ws", "root")
    await sh.run("kubectl", "ws", "create", "espw", "--enter")
    await sh.run("kubectl", "create", "-f", "config/crds")
    await sh.run("kubectl", "create", "-f", "config/exports")

    async with running(mailbox.APP, [f"--kubeconfig={env.kubeconfig(ESPW)}", "-v=2"]):

        async def both_bound() -> bool:
            cols = await sh.run(
                "kubectl",
                "get",
                "Workspace",
                "-o",
                "custom-columns=NAME:.metadata.name,SYNCTARGET:.metadata.annotations"
                "['edge\\.kcp\\.io/sync-target-name'],CLUSTER:.spec.cluster",
                "--no-headers",
            )
            rows = [line.split() for line in cols.stdout.splitlines()]
            if sorted(row[1] for row in rows) != ["florin", "guilder"]:
                return False
            for row in rows:
                try:
                    binding = await env.ws(row[2]).get(r.API_BINDINGS, "bind-edge")
                except Exception:
                    return False
                if (binding.get("status") or {}).get("phase") != "Bound":
                    return False
            return True

        await wait_for(both_bound, 30, "two bound mailboxes")

        prep = await sh.run(str(SCRIPTS / "mailbox-prep.sh"), "guilder")
        assert "Current workspace is" in prep.stdout
        guilder = await env.ws("root:imw-1").get(r.SYNC_TARGETS, "guilder")
        ident = syncer_id("guilder", guilder["metadata"]["uid"])
        assert f'Creating service account "{ident}"' in prep.stdout
        assert "Wrote physical cluster manifest to guilder-syncer.yaml" in prep.stdout
        manifest = list(yaml.safe_load_all((tmp_path / "guilder-syncer.yaml").read_text()))
        kinds = [(o["kind"], o["metadata"]["name"]) for o in manifest]
        assert ("Deployment", ident) in kinds and ("Namespace", ident) in kinds
        deployment = next(o for o in manifest if o["kind"] == "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["python", "-m", "edgemc.cmd", "syncer"]
        mailbox_cfg = yaml.safe_load(
            next(o for o in manifest if o["kind"] == "Secret" and o["metadata"]["name"] == ident)[
                "stringData"
            ]["kubeconfig"]
        )
        server = mailbox_cfg["clusters"][0]["cluster"]["server"]
        (guilder_mailbox,) = [
            ws
            for ws in (await env.ws(ESPW).list(r.WORKSPACES))["items"]
            if ws["metadata"]["annotations"][edge.ANNOTATION_SYNC_TARGET_NAME] == "guilder"
        ]
        assert server == f"{env.server.url}/clusters/{guilder_mailbox['spec']['cluster']}"
        edge_cluster = ApiServer(ServerConfig(port=0))
        await edge_cluster.start()
        try:
            edge_kubeconfig = edge_cluster.write_kubeconfig(tmp_path / "edge.kubeconfig")
            dry = await sh.run(
                "kubectl",
                f"--kubeconfig={edge_kubeconfig}",
                "apply",
                "--dry-run=client",
                "-f",
                "guilder-syncer.yaml",
            )
            ns_file = tmp_path / "ns.yaml"
            ns_file.write_text(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ident}}}\n")
            await sh.run("kubectl", f"--kubeconfig={edge_kubeconfig}", "apply", "-f", str(ns_file))
            server_dry = await sh.run(
                "kubectl",
                f"--kubeconfig={edge_kubeconfig}",
                "apply",
                "--dry-run=server",
                "-f",
                "guilder-syncer.yaml",
            )
        finally:
            await edge_cluster.stop()
        assert f"deployment.apps/{ident} created (dry run)" in dry.stdout
        assert f"deployment.apps/{ident} created (server dry run)" in server_dry.stdout

        # The identity lives in the mailbox, and its token reads the mailbox.
        token = mailbox_cfg["users"][0]["user"]["token"]
        config = ClusterConfig.for_server(env.server.url, token)
        config.ssl = env.server.client_ssl()
        async with Client(config) as syncer:
            await syncer.cluster(guilder_mailbox["spec"]["cluster"]).list(r.NAMESPACES)
            with pytest.raises(Forbidden):
                await syncer.cluster("root:imw-1").list(r.SYNC_TARGETS)

    removed = await sh.run("kubectl", "ws", "root:imw-1")
    assert removed.returncode == 0
    await sh.run(str(SCRIPTS / "remove-location.sh"), "florin")
    await sh.run(str(SCRIPTS / "remove-location.sh"), "florin")  # silent when absent
    names = await sh.run("kubectl", "get", "synctargets", "-o", "name")
    assert names.stdout.split() == ["synctarget.workload.kcp.io/guilder"]


async def test_script_argument_checks(env: EdgeEnv, tmp_path: Path) -> None:
    sh = Shell(env, tmp_path)
    await env.create_workspace("root:imw-1")
    await sh.run("kubectl", "ws", "root:imw-1")
    ensure = str(SCRIPTS / "ensure-location.sh")
    for args, code in (
        ((), 1),
        (("florin",), 1),
        (("default", "env=prod"), 1),
        (("florin", "envprod"), 4),
        (("florin", "id=x"), 4),
        (("florin", "-env=prod"), 4),
        (("florin", "a=b=c"), 4),
    ):
        assert (await sh.run(ensure, *args, check=False)).returncode == code, args
    await sh.run(ensure, "florin", "env=prod")
    relabel = await sh.run(ensure, "florin", "env=dev", check=False)
    assert relabel.returncode == 4
    assert (await sh.run(str(SCRIPTS / "remove-location.sh"), check=False)).returncode == 1
    prep = str(SCRIPTS / "mailbox-prep.sh")
    assert (await sh.run(prep, check=False)).returncode == 1
    assert (await sh.run(prep, "florin", check=False)).returncode == 2  # not in the ESPW
    await env.install_edge_api()
    await sh.run("kubectl", "ws", "root:espw")
    missing = await sh.run(prep, "nowhere", check=False)
    assert missing.returncode == 5
    assert "no mailbox workspace" in missing.stderr
    # Two workspaces claim the same SyncTarget name (two IMWs using one name): exit 6.
    for name in ("c1-mb-u1", "c2-mb-u2"):
        await env.ws(ESPW).create(
            r.WORKSPACES,
            {
                "apiVersion": "tenancy.kcp.io/v1alpha1",
                "kind": "Workspace",
                "metadata": {
                    "name": name,
                    "annotations": {edge.ANNOTATION_SYNC_TARGET_NAME: "twice"},
                },
                "spec": {},
            },
        )
    several = await sh.run(prep, "twice", check=False)
    assert several.returncode == 6
    assert "found 2 mailbox workspaces" in several.stderr
