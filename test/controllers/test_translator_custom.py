"""Customization per destination and conflict reporting, on the seed's Stage 1-2 state."""

from __future__ import annotations

from edgeenv import EdgeEnv, wait_for
from test_translator_reactions import configmap, wait_present
from test_translator_seed import IMW, WMW_C, WMW_S, seed_stage_1_and_2, translator

from edgemc.apis import edge
from edgemc.controllers import resources as r
from edgemc.controllers.placement.translator import CONDITION_CONFLICT

CUSTOMIZER = """
apiVersion: edge.kcp.io/v1alpha1
kind: Customizer
metadata:
  namespace: commonstuff
  name: example-customizer
  annotations:
    edge.kcp.io/expand-parameters: "true"
replacements:
- path: "$.spec.template.spec.containers.0.env.0.value"
  value: '"env is %(env)"'
"""


async def test_customization_per_destination(env: EdgeEnv) -> None:
    seed = await seed_stage_1_and_2(env)
    florin_mb = env.ws(seed["mailboxes"]["florin"][1])
    guilder_mb = env.ws(seed["mailboxes"]["guilder"][1])
    imw = env.ws(IMW)
    for name in ("florin", "guilder"):
        await imw.patch(r.LOCATIONS, name, {"metadata": {"labels": {"loc-name": name}}})
    wmw = env.ws(WMW_C)
    await env.kubectl(WMW_C).arun("apply", "-f", "-", input=CUSTOMIZER)
    deployment = await wmw.get(r.DEPLOYMENTS, "commond", "commonstuff")
    deployment["metadata"].setdefault("annotations", {})[edge.ANNOTATION_CUSTOMIZER] = (
        "example-customizer"
    )
    deployment["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "EXAMPLE_VAR", "value": "example value"}
    ]
    await wmw.update(r.DEPLOYMENTS, deployment)
    await wmw.create(
        r.CONFIGMAPS,
        configmap(
            "commonstuff",
            "page",
            {"index.html": "at %(loc-name), 100%% %(nope)"},
            annotations={edge.ANNOTATION_EXPAND_PARAMETERS: "true"},
        ),
    )
    async with translator(env):
        for client, name in ((florin_mb, "florin"), (guilder_mb, "guilder")):

            async def customized(client=client, name=name) -> bool:
                try:
                    d = await client.get(r.DEPLOYMENTS, "commond", "commonstuff")
                    cm = await client.get(r.CONFIGMAPS, "page", "commonstuff")
                except Exception:
                    return False
                env_value = d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"]
                return (
                    env_value == "env is prod"
                    and cm["data"]["index.html"] == f"at {name}, 100% %(nope)"
                )

            await wait_for(customized, 20, f"customized copies in {name}'s mailbox")
        # The source stays as written.
        source = await wmw.get(r.CONFIGMAPS, "page", "commonstuff")
        assert source["data"]["index.html"] == "at %(loc-name), 100%% %(nope)"
        # A Location label change re-customizes.
        await imw.patch(r.LOCATIONS, "florin", {"metadata": {"labels": {"loc-name": "fl"}}})

        async def relabelled() -> bool:
            cm = await florin_mb.get(r.CONFIGMAPS, "page", "commonstuff")
            return cm["data"]["index.html"] == "at fl, 100% %(nope)"

        await wait_for(relabelled, 20, "re-customized after a Location change")


def conflict_condition(ep: dict) -> dict | None:
    for cond in (ep.get("status") or {}).get("conditions") or []:
        if cond["type"] == CONDITION_CONFLICT:
            return cond
    return None


async def test_conflicting_objects_are_reported(env: EdgeEnv) -> None:
    seed = await seed_stage_1_and_2(env)
    guilder_mb = env.ws(seed["mailboxes"]["guilder"][1])
    wmw_s = env.ws(WMW_S)
    await wmw_s.create(
        r.NAMESPACES,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "commonstuff", "labels": {"special": "si"}},
        },
    )
    await wmw_s.create(r.CONFIGMAPS, configmap("commonstuff", "httpd-htdocs", {"x": "other"}))
    async with translator(env):
        await wait_present(guilder_mb, r.CONFIGMAPS, "httpd-htdocs", "commonstuff")
        for ws, name in ((WMW_C, "edge-placement-c"), (WMW_S, "edge-placement-s")):

            async def reported(ws=ws, name=name) -> dict | None:
                ep = await env.ws(ws).get(r.EDGE_PLACEMENTS, name)
                cond = conflict_condition(ep)
                return cond if cond and cond["status"] == "True" else None

            cond = await wait_for(reported, 20, f"conflict condition on {name}")
            assert "configmaps commonstuff/httpd-htdocs" in cond["message"]

            async def event(ws=ws, name=name) -> bool:
                events = await env.ws(ws).list(r.EVENTS, "default")
                return any(
                    e["involvedObject"]["name"] == name and e["reason"] == "WorkloadConflict"
                    for e in events["items"]
                )

            await wait_for(event, 20, f"Event for {name}")
        # One deterministic winner: the copy from the logical cluster that sorts first.
        clusters = sorted([await env.cluster_of(WMW_C), await env.cluster_of(WMW_S)])
        winner = WMW_C if clusters[0] == await env.cluster_of(WMW_C) else WMW_S
        want = (await env.ws(winner).get(r.CONFIGMAPS, "httpd-htdocs", "commonstuff"))["data"]
        copy = await guilder_mb.get(r.CONFIGMAPS, "httpd-htdocs", "commonstuff")
        assert copy["data"] == want
        # Resolving the conflict clears the condition.
        await wmw_s.delete(r.CONFIGMAPS, "httpd-htdocs", "commonstuff")

        async def cleared() -> bool:
            ep = await wmw_s.get(r.EDGE_PLACEMENTS, "edge-placement-s")
            cond = conflict_condition(ep)
            return cond is not None and cond["status"] == "False"

        await wait_for(cleared, 20, "conflict condition cleared")
