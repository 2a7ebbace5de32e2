"""The seed's workspace and binding commands with the real kubectl against the kcp mode.

Upstream behaviour: kcp v0.11 as the seed scenario shows it (Workspace listing columns, the
custom-columns and jq lookups of mailbox workspaces, APIBindings to root:compute).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess

from edgemc.embedded.apiserver.kcp import KcpServer

MAILBOX = """
apiVersion: tenancy.kcp.io/v1alpha1
kind: Workspace
metadata:
  name: {name}
  annotations:
    edge.kcp.io/sync-target-name: {target}
"""

BIND_KUBE = """
apiVersion: apis.kcp.io/v1alpha1
kind: APIBinding
metadata:
  name: bind-kube
spec:
  reference:
    export:
      path: "root:compute"
      name: kubernetes
"""


async def run(k, *args: str, input: str | None = None, check: bool = True):
    return await asyncio.to_thread(k.run, *args, input=input, check=check)


async def wait_ready(k, server_url: str, name: str) -> None:
    async with asyncio.timeout(10):
        while True:
            phase = (
                await run(
                    k,
                    "--server",
                    server_url,
                    "get",
                    "workspace",
                    name,
                    "-o",
                    "jsonpath={.status.phase}",
                )
            ).stdout
            if phase == "Ready":
                return
            await asyncio.sleep(0.05)


async def test_seed_workspace_listing_and_lookups(kcp: KcpServer, kubectl_for):
    k = kubectl_for(kcp, "root")
    await run(k, "create", "-f", "-", input=MAILBOX.format(name="espw", target="none"))
    espw = f"{kcp.url}/clusters/root:espw"
    await wait_ready(k, f"{kcp.url}/clusters/root", "espw")
    for target in ("florin", "guilder"):
        name = f"imwcluster-mb-{target}"
        await run(
            k, "--server", espw, "create", "-f", "-", input=MAILBOX.format(name=name, target=target)
        )
        await wait_ready(k, espw, name)
    listing = (await run(k, "--server", espw, "get", "Workspaces")).stdout.splitlines()
    assert listing[0].split() == ["NAME", "TYPE", "REGION", "PHASE", "URL", "AGE"]
    row = listing[1].split()
    assert row[1:3] == ["universal", "Ready"] and row[3].startswith(f"{kcp.url}/clusters/")
    columns = (
        await run(
            k,
            "--server",
            espw,
            "get",
            "Workspace",
            "-o",
            "custom-columns=NAME:.metadata.name,"
            "SYNCTARGET:.metadata.annotations['edge\\.kcp\\.io/sync-target-name'],"
            "CLUSTER:.spec.cluster",
        )
    ).stdout.splitlines()
    assert columns[0].split() == ["NAME", "SYNCTARGET", "CLUSTER"]
    assert [line.split()[1] for line in columns[1:]] == ["florin", "guilder"]
    as_json = (await run(k, "--server", espw, "get", "Workspace", "-o", "json")).stdout
    jq = shutil.which("jq")
    if jq is not None:
        proc = await asyncio.to_thread(
            subprocess.run,
            [
                jq,
                "-r",
                ".items | .[] | .metadata | select(.annotations "
                '["edge.kcp.io/sync-target-name"] == "guilder") | .name',
            ],
            input=as_json,
            capture_output=True,
            text=True,
            check=True,
        )
        found = proc.stdout.strip()
    else:
        found = next(
            i["metadata"]["name"]
            for i in json.loads(as_json)["items"]
            if i["metadata"]["annotations"]["edge.kcp.io/sync-target-name"] == "guilder"
        )
    assert found == "imwcluster-mb-guilder"


async def test_seed_bindings_and_workloads(kcp: KcpServer, kubectl_for):
    k = kubectl_for(kcp, "root")
    await run(k, "create", "-f", "-", input=MAILBOX.format(name="my-org", target="x"))
    await wait_ready(k, f"{kcp.url}/clusters/root", "my-org")
    org = f"{kcp.url}/clusters/root:my-org"
    await run(
        k, "--server", org, "create", "-f", "-", input=MAILBOX.format(name="wmw-c", target="x")
    )
    await wait_ready(k, org, "wmw-c")
    wmw = f"{kcp.url}/clusters/root:my-org:wmw-c"
    out = await run(k, "--server", wmw, "apply", "-f", "-", input=BIND_KUBE)
    assert out.stdout.strip() == "apibinding.apis.kcp.io/bind-kube created"
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {namespace: default, name: commond}\n"
        "spec:\n  selector: {matchLabels: {app: common}}\n  template:\n"
        "    metadata: {labels: {app: common}}\n    spec:\n      containers:\n"
        "      - name: httpd\n        image: library/httpd:2.4\n"
    )
    # The binding makes deployments appear asynchronously, as on kcp.
    async with asyncio.timeout(10):
        while True:
            applied = await run(
                k, "--server", wmw, "apply", "-f", "-", input=deployment, check=False
            )
            if applied.returncode == 0:
                break
            await asyncio.sleep(0.05)
    again = await run(k, "--server", wmw, "apply", "-f", "-", input=deployment)
    assert again.stdout.strip() == "deployment.apps/commond unchanged"
    table = (await run(k, "--server", wmw, "get", "deployments", "-A")).stdout.splitlines()
    assert table[1].split()[:5] == ["default", "commond", "0/0", "0", "0"]
