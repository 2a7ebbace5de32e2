"""metadata.generation of custom resources, as apiextensions-apiserver counts it: with a
status subresource only changes outside metadata and status count; without one, status is
content like any other field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from polling import wait_for

from edgemc.embedded.apiserver.server import ApiServer, ServerConfig
from edgemc.runtime import Client, ClusterConfig, GroupVersionResource, NotFound

CRDS = GroupVersionResource("apiextensions.k8s.io", "v1", "customresourcedefinitions")


def crd(plural: str, status_subresource: bool) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        },
    }
    if status_subresource:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.demo.io"},
        "spec": {
            "group": "demo.io",
            "names": {"plural": plural, "singular": plural[:-1], "kind": plural[:-1].title()},
            "scope": "Namespaced",
            "versions": [version],
        },
    }


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    server = ApiServer(ServerConfig(port=0, tls=False))
    await server.start()
    c = Client(ClusterConfig.for_server(server.url, server.admin_token))
    try:
        yield c
    finally:
        await c.close()
        await server.stop()


@pytest.mark.parametrize(("status_subresource", "after_status_change"), [(True, 1), (False, 2)])
async def test_status_changes_count_only_without_a_status_subresource(
    client: Client, status_subresource: bool, after_status_change: int
) -> None:
    plural = "gadgets" if status_subresource else "gizmos"
    await client.create(CRDS, crd(plural, status_subresource))
    gvr = GroupVersionResource("demo.io", "v1", plural)

    async def served() -> bool:
        try:
            await client.list(gvr, "default")
        except NotFound:
            return False
        return True

    await wait_for(served, 10, f"{plural} served")
    obj = {"apiVersion": "demo.io/v1", "kind": plural[:-1].title(), "metadata": {"name": "a"}}
    created = await client.create(gvr, {**obj, "spec": {"x": 1}}, "default")
    assert created["metadata"]["generation"] == 1
    # A status change through the main resource (with a status subresource, ignored).
    updated = await client.update(gvr, {**created, "status": {"ready": True}}, "default")
    assert updated["metadata"]["generation"] == after_status_change
    # A label: metadata never counts.
    updated["metadata"]["labels"] = {"l": "v"}
    labelled = await client.update(gvr, updated, "default")
    assert labelled["metadata"]["generation"] == after_status_change
    # A spec change always counts.
    respecced = await client.update(gvr, {**labelled, "spec": {"x": 2}}, "default")
    assert respecced["metadata"]["generation"] == after_status_change + 1
