"""Every row of the translator's reaction table (spec 6.8), on the seed's Stage 1-2 state."""

from __future__ import annotations

from typing import Any

import pytest
from edgeenv import ESPW, EdgeEnv, create_object, wait_for
from test_translator_seed import (
    BIND_ESPW,
    BIND_KUBE,
    EP_C,
    IMW,
    UPSYNC_1,
    UPSYNC_2,
    UPSYNC_3,
    WMW_C,
    WMW_S,
    expected_sets,
    make_mailbox,
    seed_stage_1_and_2,
    syncer_config,
    translator,
    wait_bound,
    wait_config,
    workload,
    write_slice,
)

from edgemc.apis import edge
from edgemc.controllers import resources as r
from edgemc.controllers.placement.translator import Translator
from edgemc.runtime import Client, GroupVersionResource, NotFound


async def exists(client: Client, gvr: GroupVersionResource, name: str, ns: str | None) -> bool:
    try:
        await client.get(gvr, name, ns)
    except NotFound:
        return False
    return True


async def wait_present(
    client: Client, gvr: GroupVersionResource, name: str, ns: str | None, present: bool = True
) -> None:
    async def probe() -> bool:
        return await exists(client, gvr, name, ns) == present

    await wait_for(probe, 20, f"{gvr} {ns}/{name} {'present' if present else 'gone'}")


async def wait_idle(t: Translator) -> None:
    async def probe() -> bool:
        return t.idle()

    await wait_for(probe, 20, "translator idle")


def configmap(ns: str, name: str, data: dict[str, str], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": ns, "name": name, **meta},
        "data": data,
    }


async def test_workload_object_created_updated_deleted(env: EdgeEnv) -> None:
    seed = await seed_stage_1_and_2(env)
    florin = env.ws(seed["mailboxes"]["florin"][1])
    guilder = env.ws(seed["mailboxes"]["guilder"][1])
    wmw = env.ws(WMW_C)
    async with translator(env) as t:
        await wait_present(guilder, r.DEPLOYMENTS, "commond", "commonstuff")
        await wmw.create(r.CONFIGMAPS, configmap("commonstuff", "extra", {"a": "1"}))
        for mailbox in (florin, guilder):
            await wait_present(mailbox, r.CONFIGMAPS, "extra", "commonstuff")
        # Someone adds a label to the copy: the next merge keeps it, the source's data wins.
        copy = await florin.get(r.CONFIGMAPS, "extra", "commonstuff")
        copy["metadata"]["labels"]["mailbox-side"] = "kept"
        await florin.update(r.CONFIGMAPS, copy)
        source = await wmw.get(r.CONFIGMAPS, "extra", "commonstuff")
        source["data"] = {"a": "2"}
        await wmw.update(r.CONFIGMAPS, source)

        async def updated() -> bool:
            got = await florin.get(r.CONFIGMAPS, "extra", "commonstuff")
            return got["data"] == {"a": "2"} and got["metadata"]["labels"]["mailbox-side"] == "kept"

        await wait_for(updated, 20, "merged update")
        await wmw.delete(r.CONFIGMAPS, "extra", "commonstuff")
        for mailbox in (florin, guilder):
            await wait_present(mailbox, r.CONFIGMAPS, "extra", "commonstuff", present=False)
        await wait_idle(t)


async def test_namespace_relabel_leaves_and_rejoins(env: EdgeEnv) -> None:
    seed = await seed_stage_1_and_2(env)
    florin_mb = seed["mailboxes"]["florin"][1]
    florin = env.ws(florin_mb)
    wmw = env.ws(WMW_C)
    async with translator(env):
        await wait_present(florin, r.DEPLOYMENTS, "commond", "commonstuff")
        await wmw.patch(r.NAMESPACES, "commonstuff", {"metadata": {"labels": {"common": "no"}}})
        await wait_present(florin, r.DEPLOYMENTS, "commond", "commonstuff", present=False)
        await wait_present(florin, r.CONFIGMAPS, "httpd-htdocs", "commonstuff", present=False)
        empty = {"namespaces": set(), "resources": set(), "clusterScope": set()}
        await wait_config(
            env,
            florin_mb,
            {**empty, "upsync": expected_sets(set(), [UPSYNC_1, UPSYNC_2])["upsync"]},
        )
        # The namespace itself stays (documented choice: upsynced objects may live there).
        assert await exists(florin, r.NAMESPACES, "commonstuff", None)
        await wmw.patch(r.NAMESPACES, "commonstuff", {"metadata": {"labels": {"common": "si"}}})
        await wait_present(florin, r.DEPLOYMENTS, "commond", "commonstuff")
        await wait_config(env, florin_mb, expected_sets({"commonstuff"}, [UPSYNC_1, UPSYNC_2]))


async def test_placement_created_changed_deleted(env: EdgeEnv) -> None:
    seed = await seed_stage_1_and_2(env)
    florin_mb = seed["mailboxes"]["florin"][1]
    guilder_mb = seed["mailboxes"]["guilder"][1]
    florin, guilder = env.ws(florin_mb), env.ws(guilder_mb)
    wmw = env.ws(WMW_C)
    async with translator(env) as t:
        await wait_config(env, florin_mb, expected_sets({"commonstuff"}, [UPSYNC_1, UPSYNC_2]))
        # New placement in wmw-c selecting a new namespace, to florin only.
        await create_object(
            wmw,
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "extra", "labels": {"x": "y"}},
            },
        )
        await wmw.create(r.CONFIGMAPS, configmap("extra", "cm", {"k": "v"}))
        await wmw.create(
            r.EDGE_PLACEMENTS,
            {
                "apiVersion": edge.API_VERSION,
                "kind": "EdgePlacement",
                "metadata": {"name": "ep-x"},
                "spec": {
                    "locationSelectors": [{"matchLabels": {"env": "prod"}}],
                    "namespaceSelector": {"matchLabels": {"x": "y"}},
                },
            },
        )
        await write_slice(env, WMW_C, "ep-x", [seed["florin"]])
        await wait_present(florin, r.CONFIGMAPS, "cm", "extra")
        await wait_config(
            env, florin_mb, expected_sets({"commonstuff", "extra"}, [UPSYNC_1, UPSYNC_2])
        )
        # Changed namespaceSelector: "extra" is no longer selected.
        ep = await wmw.get(r.EDGE_PLACEMENTS, "ep-x")
        ep["spec"]["namespaceSelector"] = {"matchLabels": {"x": "z"}}
        await wmw.update(r.EDGE_PLACEMENTS, ep)
        await wait_present(florin, r.CONFIGMAPS, "cm", "extra", present=False)
        await wait_config(env, florin_mb, expected_sets({"commonstuff"}, [UPSYNC_1, UPSYNC_2]))
        # Upsync-only change propagates (the original missed it).
        ep = await wmw.get(r.EDGE_PLACEMENTS, "edge-placement-c")
        ep["spec"]["upsync"] = ep["spec"]["upsync"][:1]
        await wmw.update(r.EDGE_PLACEMENTS, ep)
        await wait_config(env, florin_mb, expected_sets({"commonstuff"}, [UPSYNC_1]))
        await wait_config(
            env, guilder_mb, expected_sets({"commonstuff", "specialstuff"}, [UPSYNC_1, UPSYNC_3])
        )
        # Deleted placement (and its slice, as kcp's garbage collector would).
        await env.ws(WMW_S).delete(r.EDGE_PLACEMENTS, "edge-placement-s")
        await env.ws(WMW_S).delete(r.SINGLE_PLACEMENT_SLICES, "edge-placement-s")
        await wait_present(guilder, r.DEPLOYMENTS, "speciald", "specialstuff", present=False)
        await wait_config(env, guilder_mb, expected_sets({"commonstuff"}, [UPSYNC_1]))
        await wait_idle(t)


async def test_slice_destinations_change(env: EdgeEnv) -> None:
    seed = await seed_stage_1_and_2(env)
    florin_mb = seed["mailboxes"]["florin"][1]
    guilder_mb = seed["mailboxes"]["guilder"][1]
    async with translator(env):
        await wait_present(env.ws(guilder_mb), r.DEPLOYMENTS, "speciald", "specialstuff")
        await write_slice(env, WMW_S, "edge-placement-s", [seed["florin"]])
        await wait_present(env.ws(florin_mb), r.DEPLOYMENTS, "speciald", "specialstuff")
        await wait_present(
            env.ws(guilder_mb), r.DEPLOYMENTS, "speciald", "specialstuff", present=False
        )
        await wait_config(
            env,
            florin_mb,
            expected_sets({"commonstuff", "specialstuff"}, [UPSYNC_1, UPSYNC_2, UPSYNC_3]),
        )
        await wait_config(env, guilder_mb, expected_sets({"commonstuff"}, [UPSYNC_1, UPSYNC_2]))


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gizmos.group4.test"},
    "spec": {
        "group": "group4.test",
        "names": {
            "kind": "Gizmo",
            "listKind": "GizmoList",
            "plural": "gizmos",
            "singular": "gizmo",
        },
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}
GIZMOS = GroupVersionResource("group4.test", "v1alpha1", "gizmos")


async def test_new_crd_in_workload_workspace(env: EdgeEnv) -> None:
    seed = await seed_stage_1_and_2(env)
    florin_mb = seed["mailboxes"]["florin"][1]
    wmw = env.ws(WMW_C)
    async with translator(env):
        await wait_config(env, florin_mb, expected_sets({"commonstuff"}, [UPSYNC_1, UPSYNC_2]))
        # The CRD itself goes along (nonNamespacedObjects), so the mailbox can hold Gizmos.
        ep = await wmw.get(r.EDGE_PLACEMENTS, "edge-placement-c")
        ep["spec"]["nonNamespacedObjects"].append(
            {
                "apiGroup": "apiextensions.k8s.io",
                "resources": ["customresourcedefinitions"],
                "resourceNames": ["gizmos.group4.test"],
            }
        )
        await wmw.update(r.EDGE_PLACEMENTS, ep)
        await wmw.create(r.CRDS, CRD)

        async def served() -> bool:
            try:
                await wmw.list(GIZMOS, "commonstuff")
            except NotFound:
                return False
            return True

        await wait_for(served, 20, "gizmos served in wmw-c")
        await wmw.create(
            GIZMOS,
            {
                "apiVersion": "group4.test/v1alpha1",
                "kind": "Gizmo",
                "metadata": {"name": "g1", "namespace": "commonstuff"},
                "spec": {"size": 3},
            },
        )

        async def in_config() -> bool:
            cfg = await syncer_config(env, florin_mb)
            spec = (cfg or {}).get("spec") or {}
            resources = (spec.get("namespaceScope") or {}).get("resources") or []
            crds = [
                c
                for c in spec.get("clusterScope") or []
                if c["resource"] == "customresourcedefinitions"
            ]
            return {
                "group": "group4.test",
                "resource": "gizmos",
                "apiVersion": "v1alpha1",
            } in resources and crds == [
                {
                    "group": "apiextensions.k8s.io",
                    "resource": "customresourcedefinitions",
                    "apiVersion": "v1",
                    "objects": ["gizmos.group4.test"],
                }
            ]

        await wait_for(in_config, 20, "gizmos in the SyncerConfig")
        await wait_present(env.ws(florin_mb), r.CRDS, "gizmos.group4.test", None)
        await wait_present(env.ws(florin_mb), GIZMOS, "g1", "commonstuff")


async def test_mailbox_appearing_late(env: EdgeEnv) -> None:
    await env.create_workspace(IMW)
    florin = await env.ensure_location(IMW, "florin", {"env": "prod"})
    await env.install_edge_api()
    await env.create_workspace(WMW_C)
    wmw = env.ws(WMW_C)
    await create_object(
        wmw,
        {
            "apiVersion": "apis.kcp.io/v1alpha1",
            "kind": "APIBinding",
            "metadata": {"name": "bind-espw"},
            "spec": {"reference": {"export": {"path": ESPW, "name": edge.EXPORT_NAME}}},
        },
    )
    await create_object(
        wmw,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "ns1", "labels": {"a": "b"}},
        },
    )

    async def served() -> bool:
        try:
            await wmw.list(r.EDGE_PLACEMENTS)
        except NotFound:
            return False
        return True

    await wait_for(served, 20, "edge API bound in wmw-c")
    await wmw.create(r.CONFIGMAPS, configmap("ns1", "cm", {"k": "v"}))
    await wmw.create(
        r.EDGE_PLACEMENTS,
        {
            "apiVersion": edge.API_VERSION,
            "kind": "EdgePlacement",
            "metadata": {"name": "ep"},
            "spec": {"locationSelectors": [{}], "namespaceSelector": {"matchLabels": {"a": "b"}}},
        },
    )
    await write_slice(env, WMW_C, "ep", [florin])
    async with translator(env) as t:
        await wait_idle(t)
        _, mb = await make_mailbox(env, florin)
        await wait_present(env.ws(mb), r.CONFIGMAPS, "cm", "ns1")
        cfg = await wait_for(lambda: syncer_config(env, mb), 20, "SyncerConfig")
        assert cfg["spec"]["namespaceScope"]["namespaces"] == ["ns1"]


async def test_restart_writes_nothing_and_catches_up(env: EdgeEnv) -> None:
    seed = await seed_stage_1_and_2(env)
    florin_mb = seed["mailboxes"]["florin"][1]
    guilder_mb = seed["mailboxes"]["guilder"][1]
    async with translator(env) as t:
        await wait_config(
            env,
            guilder_mb,
            expected_sets({"commonstuff", "specialstuff"}, [UPSYNC_1, UPSYNC_2, UPSYNC_3]),
        )
        await wait_present(env.ws(guilder_mb), r.DEPLOYMENTS, "speciald", "specialstuff")
        await wait_idle(t)
        first_writes = dict(t.writes)
    before = await syncer_config(env, florin_mb)
    async with translator(env) as t:
        await wait_idle(t)
        assert t.writes == {"create": 0, "update": 0, "delete": 0}, (first_writes, t.writes)
    after = await syncer_config(env, florin_mb)
    assert before is not None and after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    # Changes made while the translator is down are picked up on the next start.
    await env.ws(WMW_S).delete(r.EDGE_PLACEMENTS, "edge-placement-s")
    await env.ws(WMW_S).delete(r.SINGLE_PLACEMENT_SLICES, "edge-placement-s")
    async with translator(env) as t:
        await wait_present(
            env.ws(guilder_mb), r.DEPLOYMENTS, "speciald", "specialstuff", present=False
        )
        await wait_config(env, guilder_mb, expected_sets({"commonstuff"}, [UPSYNC_1, UPSYNC_2]))


async def test_copy_left_in_a_mailbox_that_joins_a_listed_shared_informer_is_deleted(
    env: EdgeEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copies of all mailboxes are followed by one wildcard informer per resource; a
    mailbox discovered after that informer listed must still see its copies no plan wants
    any more (left there while the translator was down) deleted."""
    seed = await seed_stage_1_and_2(env)
    guilder_mb = seed["mailboxes"]["guilder"][1]
    async with translator(env) as t:
        await wait_present(env.ws(guilder_mb), r.DEPLOYMENTS, "speciald", "specialstuff")
        await wait_idle(t)
    await env.ws(WMW_S).delete(r.EDGE_PLACEMENTS, "edge-placement-s")
    await env.ws(WMW_S).delete(r.SINGLE_PLACEMENT_SLICES, "edge-placement-s")
    discovery_of = Translator._discovery_of

    async def guilder_after_deployments_listed(self: Translator, cluster: str) -> Any:
        if cluster == guilder_mb:

            async def listed() -> bool:
                return any(
                    s.informer.resource.resource.startswith("deployments:")
                    and s.informer.has_synced()
                    for s in self._shared.values()
                )

            await wait_for(listed, 20, "the shared deployments informer listed")
        return await discovery_of(self, cluster)

    monkeypatch.setattr(Translator, "_discovery_of", guilder_after_deployments_listed)
    async with translator(env):
        await wait_present(
            env.ws(guilder_mb), r.DEPLOYMENTS, "speciald", "specialstuff", present=False
        )


async def test_new_api_binding_in_workload_workspace(env: EdgeEnv) -> None:
    await env.create_workspace(IMW)
    florin = await env.ensure_location(IMW, "florin", {"env": "prod"})
    await env.install_edge_api()
    _, mb = await make_mailbox(env, florin)
    await env.create_workspace(WMW_C)
    kubectl = env.kubectl(WMW_C)
    await kubectl.arun("apply", "-f", "-", input=BIND_ESPW)
    await wait_bound(env.ws(WMW_C), "bind-espw")
    wmw = env.ws(WMW_C)
    await create_object(
        wmw,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "commonstuff", "labels": {"common": "si"}},
        },
    )
    await kubectl.arun("apply", "-f", "-", input=EP_C)
    await write_slice(env, WMW_C, "edge-placement-c", [florin])
    async with translator(env) as t:
        await wait_idle(t)
        cfg = await syncer_config(env, mb)
        assert cfg is not None
        before = {x["resource"] for x in cfg["spec"]["namespaceScope"]["resources"]}
        assert "deployments" not in before and "configmaps" in before
        # Binding root:compute's kubernetes export adds deployments, pods, services, ingresses.
        await kubectl.arun("apply", "-f", "-", input=BIND_KUBE)
        await kubectl.arun("apply", "-f", "-", input=workload("common", 8081))
        await wait_config(env, mb, expected_sets({"commonstuff"}, [UPSYNC_1, UPSYNC_2]))
        await wait_present(env.ws(mb), r.API_BINDINGS, "bind-kube", None)
        await wait_present(env.ws(mb), r.DEPLOYMENTS, "commond", "commonstuff")


def big_placement(name: str, n_names: int) -> dict[str, Any]:
    """An EdgePlacement of wmw-c upsyncing `n_names` long object names (about 33 bytes each)."""
    names = [f"{name}-object-{i:020d}" for i in range(n_names)]
    return {
        "apiVersion": edge.API_VERSION,
        "kind": "EdgePlacement",
        "metadata": {"name": name},
        "spec": {
            "locationSelectors": [{"matchLabels": {"env": "prod"}}],
            "namespaceSelector": {"matchLabels": {"common": "si"}},
            "upsync": [{"apiGroup": "group9.test", "resources": ["things"], "names": names}],
        },
    }


async def test_syncer_config_the_mailbox_refuses_is_reported_not_retried(env: EdgeEnv) -> None:
    seed = await seed_stage_1_and_2(env)
    florin_mb = seed["mailboxes"]["florin"][1]
    wmw = env.ws(WMW_C)
    async with translator(env) as t:
        await wait_config(env, florin_mb, expected_sets({"commonstuff"}, [UPSYNC_1, UPSYNC_2]))
        # Each placement fits the server (1.5 MiB per object); their upsyncs merged do not.
        for name in ("ep-big-1", "ep-big-2"):
            await wmw.create(r.EDGE_PLACEMENTS, big_placement(name, 27_000))
            await write_slice(env, WMW_C, name, [seed["florin"]])

        async def refused_events() -> set[str] | None:
            events = (await wmw.list(r.EVENTS, "default"))["items"]
            about = {
                e["involvedObject"]["name"]
                for e in events
                if e.get("reason") == "SyncerConfigRefused" and "413" in e.get("message", "")
            }
            return about if about >= {"ep-big-1", "ep-big-2"} else None

        await wait_for(refused_events, 20, "SyncerConfigRefused Events on both placements")
        await wait_idle(t)  # not retrying

        def upsynced(cfg: dict[str, Any] | None, placement: str) -> bool:
            upsync = ((cfg or {}).get("spec") or {}).get("upsync") or []
            return any(str((u.get("names") or [""])[0]).startswith(placement) for u in upsync)

        cfg = await syncer_config(env, florin_mb)
        assert cfg is not None and not upsynced(cfg, "ep-big-2")
        # The other one goes: the rest fits, and is written.
        await wmw.delete(r.EDGE_PLACEMENTS, "ep-big-1")
        await env.ws(WMW_C).delete(r.SINGLE_PLACEMENT_SLICES, "ep-big-1")

        async def written() -> bool:
            cfg = await syncer_config(env, florin_mb)
            return upsynced(cfg, "ep-big-2") and not upsynced(cfg, "ep-big-1")

        await wait_for(written, 20, "the SyncerConfig with ep-big-2's upsync alone")
