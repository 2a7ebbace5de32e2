"""Seed Stages 1-3 with real kubectl: the placement translator fills both mailboxes.

The scheduler and the mailbox controller are not run here: the test writes the
SinglePlacementSlices and the mailbox workspaces (with `bind-edge`) itself, as they would.
The helpers at the top are shared with the other translator tests.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from edgeenv import ESPW, EdgeEnv, create_object, wait_for
from seed_example import BIND_ESPW, BIND_KUBE, EP_C, EP_S, workload

from edgemc.apis import edge
from edgemc.controllers import app
from edgemc.controllers import resources as r
from edgemc.controllers.placement.app import APP
from edgemc.controllers.placement.translator import Translator
from edgemc.runtime import Client, NotFound

IMW = "root:imw-1"
WMW_C = "root:my-org:wmw-c"
WMW_S = "root:my-org:wmw-s"


# The seed's printed namespaceScope.resources (identical for both mailboxes, all apiVersion v1).
SEED_RESOURCES = {
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
}
UPSYNC_1 = {
    "apiGroup": "group1.test",
    "names": ["george", "cosmo"],
    "namespaces": ["orbital"],
    "resources": ["sprockets", "flanges"],
}
UPSYNC_2 = {"apiGroup": "group2.test", "names": ["william"], "resources": ["cogs"]}
UPSYNC_3 = {"apiGroup": "group3.test", "names": ["*"], "resources": ["widgets"]}


async def make_mailbox(env: EdgeEnv, target: dict[str, Any]) -> tuple[str, str]:
    """What the mailbox controller does for a SyncTarget; returns (workspace name, cluster)."""
    meta = target["metadata"]
    name = edge.mailbox_workspace_name(meta["annotations"]["kcp.io/cluster"], meta["uid"])
    await env.ws(ESPW).create(
        r.WORKSPACES,
        {
            "apiVersion": "tenancy.kcp.io/v1alpha1",
            "kind": "Workspace",
            "metadata": {
                "name": name,
                "annotations": {edge.ANNOTATION_SYNC_TARGET_NAME: meta["name"]},
            },
        },
    )
    ws = await env.create_workspace(f"{ESPW}:{name}")
    await create_object(
        env.ws(ws["spec"]["cluster"]),
        {
            "apiVersion": "apis.kcp.io/v1alpha1",
            "kind": "APIBinding",
            "metadata": {"name": edge.MAILBOX_BINDING_NAME},
            "spec": {"reference": {"export": {"path": ESPW, "name": edge.EXPORT_NAME}}},
        },
    )
    return name, ws["spec"]["cluster"]


def destination(target: dict[str, Any]) -> dict[str, str]:
    meta = target["metadata"]
    return {
        "cluster": meta["annotations"]["kcp.io/cluster"],
        "locationName": meta["name"],
        "syncTargetName": meta["name"],
        "syncTargetUID": meta["uid"],
    }


async def write_slice(
    env: EdgeEnv, ws: str, name: str, targets: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the scheduler writes for EdgePlacement `name` in workspace `ws`."""
    client = env.ws(ws)
    dests = [destination(t) for t in targets]
    try:
        sps = await client.get(r.SINGLE_PLACEMENT_SLICES, name)
    except NotFound:
        body = {
            "apiVersion": edge.API_VERSION,
            "kind": "SinglePlacementSlice",
            "metadata": {"name": name},
            "destinations": dests,
        }
        return await client.create(r.SINGLE_PLACEMENT_SLICES, body)
    sps["destinations"] = dests
    return await client.update(r.SINGLE_PLACEMENT_SLICES, sps)


async def wait_bound(client: Client, binding: str) -> None:
    async def bound() -> bool:
        try:
            obj = await client.get(r.API_BINDINGS, binding)
        except NotFound:
            return False
        return (obj.get("status") or {}).get("phase") == "Bound"

    await wait_for(bound, 15, f"APIBinding {binding} bound")


async def seed_stage_1_and_2(env: EdgeEnv) -> dict[str, Any]:
    """Stage 1 (inventory, ESPW, mailboxes) and Stage 2 (both workloads, slices)."""
    await env.create_workspace(IMW)
    florin = await env.ensure_location(IMW, "florin", {"env": "prod"})
    guilder = await env.ensure_location(IMW, "guilder", {"env": "prod", "extended": "si"})
    await env.install_edge_api()
    mailboxes = {
        "florin": await make_mailbox(env, florin),
        "guilder": await make_mailbox(env, guilder),
    }
    for ws, kind, port, ep, targets in (
        (WMW_C, "common", 8081, EP_C, [florin, guilder]),
        (WMW_S, "special", 8082, EP_S, [guilder]),
    ):
        await env.create_workspace(ws)
        kubectl = env.kubectl(ws)
        await kubectl.arun("apply", "-f", "-", input=BIND_KUBE)
        await wait_bound(env.ws(ws), "bind-kube")
        await kubectl.arun("apply", "-f", "-", input=workload(kind, port))
        await kubectl.arun("apply", "-f", "-", input=BIND_ESPW)
        await wait_bound(env.ws(ws), "bind-espw")
        await kubectl.arun("apply", "-f", "-", input=ep)
        name = "edge-placement-c" if kind == "common" else "edge-placement-s"
        await write_slice(env, ws, name, targets)
    return {"florin": florin, "guilder": guilder, "mailboxes": mailboxes}


@asynccontextmanager
async def translator(env: EdgeEnv) -> AsyncIterator[Translator]:
    """Run the placement-translator component against `env`; yields its Translator."""
    argv = ["--kubeconfig", str(env.kubeconfig(ESPW, "translator.kubeconfig")), "-v=3"]
    async with app.running(APP, argv) as mgr:

        async def started() -> Translator | None:
            for controller in mgr.controllers:
                owner = getattr(controller.reconcile, "__self__", None)
                if isinstance(owner, Translator) and mgr.ready():
                    return owner
            return None

        yield await wait_for(started, 30, "translator started")


async def syncer_config(env: EdgeEnv, mailbox_cluster: str) -> dict[str, Any] | None:
    try:
        return await env.ws(mailbox_cluster).get(r.SYNCER_CONFIGS, edge.SYNCER_CONFIG_NAME)
    except NotFound:
        return None


def config_sets(spec: dict[str, Any]) -> dict[str, Any]:
    """A SyncerConfig spec as sets, for order-free comparison."""
    scope = spec.get("namespaceScope") or {}
    return {
        "namespaces": set(scope.get("namespaces") or []),
        "resources": {
            (x["group"], x["resource"], x["apiVersion"]) for x in scope.get("resources") or []
        },
        "clusterScope": {json.dumps(x, sort_keys=True) for x in spec.get("clusterScope") or []},
        "upsync": {json.dumps(x, sort_keys=True) for x in spec.get("upsync") or []},
    }


def expected_sets(namespaces: set[str], upsyncs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "namespaces": namespaces,
        "resources": {(g, res, "v1") for g, res in SEED_RESOURCES},
        "clusterScope": set(),
        "upsync": {json.dumps(u, sort_keys=True) for u in upsyncs},
    }


async def wait_config(
    env: EdgeEnv, mailbox_cluster: str, want: dict[str, Any], within: float = 20
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        cfg = await syncer_config(env, mailbox_cluster)
        return cfg if cfg and config_sets(cfg.get("spec") or {}) == want else None

    return await wait_for(probe, within, f"SyncerConfig in {mailbox_cluster} = {want}")


COPIED = (("apps", "deployments"), ("", "configmaps"))


async def kubectl_rows(env: EdgeEnv, ws: str, *args: str) -> set[tuple[str, ...]]:
    out = (await env.kubectl(ws).arun("get", *args, "--no-headers")).stdout
    return {tuple(line.split()) for line in out.splitlines() if line.strip()}


async def test_seed_stages_1_to_3(env: EdgeEnv) -> None:
    seed = await seed_stage_1_and_2(env)
    (florin_name, florin_mb), (guilder_name, guilder_mb) = (
        seed["mailboxes"]["florin"],
        seed["mailboxes"]["guilder"],
    )
    async with translator(env) as t:
        await wait_config(env, florin_mb, expected_sets({"commonstuff"}, [UPSYNC_1, UPSYNC_2]))
        await wait_config(
            env,
            guilder_mb,
            expected_sets({"commonstuff", "specialstuff"}, [UPSYNC_1, UPSYNC_2, UPSYNC_3]),
        )
        florin_ws = f"{ESPW}:{florin_name}"
        guilder_ws = f"{ESPW}:{guilder_name}"

        async def contents() -> bool:
            deployments = await kubectl_rows(env, guilder_ws, "deployments", "-A")
            return {(d[0], d[1]) for d in deployments} == {
                ("commonstuff", "commond"),
                ("specialstuff", "speciald"),
            }

        await wait_for(contents, 20, "guilder's deployments")
        # kubectl output as the seed prints it (AGE varies; compared as sets of columns).
        rows = await kubectl_rows(env, florin_ws, "deployments", "-A")
        assert {row[:5] for row in rows} == {("commonstuff", "commond", "0/0", "0", "0")}
        rows = await kubectl_rows(env, guilder_ws, "deployments", "-A")
        assert {row[:5] for row in rows} == {
            ("commonstuff", "commond", "0/0", "0", "0"),
            ("specialstuff", "speciald", "0/0", "0", "0"),
        }
        assert {row[:2] for row in await kubectl_rows(env, florin_ws, "ns")} == {
            ("commonstuff", "Active"),
            ("default", "Active"),
        }
        assert {row[:2] for row in await kubectl_rows(env, guilder_ws, "ns")} == {
            ("commonstuff", "Active"),
            ("specialstuff", "Active"),
            ("default", "Active"),
        }
        projected = ("-A", "-l", "edge.kcp.io/projected=yes")
        assert {
            row[:2] for row in await kubectl_rows(env, florin_ws, "configmaps", *projected)
        } == {("commonstuff", "httpd-htdocs")}
        assert {
            row[:2] for row in await kubectl_rows(env, guilder_ws, "configmaps", *projected)
        } == {
            ("commonstuff", "httpd-htdocs"),
            ("specialstuff", "httpd-htdocs"),
        }
        # The seed's exact command: the-one as YAML, with the mailbox's cluster annotation.
        out = (
            await env.kubectl(florin_ws).arun("get", "SyncerConfig", "the-one", "-o", "json")
        ).stdout
        cfg = json.loads(out)
        assert cfg["metadata"]["annotations"]["kcp.io/cluster"] == florin_mb
        assert "clusterScope" not in cfg["spec"]
        # The copies: same names, the projected label, no server-owned source metadata.
        cm = await env.ws(florin_mb).get(r.CONFIGMAPS, "httpd-htdocs", "commonstuff")
        source = await env.ws(WMW_C).get(r.CONFIGMAPS, "httpd-htdocs", "commonstuff")
        assert cm["metadata"]["labels"][edge.LABEL_PROJECTED] == "yes"
        assert cm["data"] == source["data"]
        assert cm["metadata"]["uid"] != source["metadata"]["uid"]
        # bind-kube is copied into the mailbox but never listed for the edge.
        binding = await env.ws(florin_mb).get(r.API_BINDINGS, "bind-kube")
        assert binding["spec"]["reference"]["export"] == {
            "path": "root:compute",
            "name": "kubernetes",
        }
        # Both mailboxes' copies of a resource are followed by one wildcard informer, which
        # names a bound resource by its identity.
        florin, guilder = t.clusters[florin_mb].copies, t.clusters[guilder_mb].copies

        async def shared() -> bool:
            return all(florin.get(gr) is guilder.get(gr) is not None for gr in COPIED)

        await wait_for(shared, 10, "one copy informer per resource")
        assert florin[("apps", "deployments")].resource.resource.startswith("deployments:")
        assert florin[("", "configmaps")].resource.resource == "configmaps"
        # System objects stay behind.
        secrets = await env.ws(florin_mb).list(r.SECRETS, "commonstuff")
        assert all(
            s["metadata"].get("labels", {}).get(edge.LABEL_PROJECTED) != "yes"
            for s in secrets["items"]
        )
