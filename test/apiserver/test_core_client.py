"""Conformance of the embedded server with kubernetes-asyncio and raw HTTP.

Each test names the upstream Kubernetes behaviour it checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import orjson
import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from edgemc.embedded.apiserver.server import ApiServer, ServerConfig


async def wait_until(cond: Callable[[], object], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while True:
            if await _value(cond()):
                return
            await asyncio.sleep(0.005)


async def _value(result: object) -> object:
    if asyncio.iscoroutine(result):
        return await result
    return result


@pytest.fixture
async def core(apiserver: ApiServer, tmp_path) -> AsyncIterator[client.CoreV1Api]:
    path = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    api_client = await config.new_client_from_config(config_file=str(path))
    async with api_client:
        yield client.CoreV1Api(api_client)


def cm(name: str, **labels: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"k": name},
    }


async def test_stale_update_conflicts(core: client.CoreV1Api):
    """Optimistic concurrency: an update with an old resourceVersion gets 409 Conflict."""
    created = await core.create_namespaced_config_map("default", cm("a"))
    created.data = {"k": "first"}
    await core.replace_namespaced_config_map("a", "default", created)
    created.data = {"k": "second"}
    with pytest.raises(ApiException) as err:
        await core.replace_namespaced_config_map("a", "default", created)
    assert err.value.status == 409
    assert orjson.loads(err.value.body)["reason"] == "Conflict"


async def test_watch_from_compacted_revision_is_gone(apiserver: ApiServer, core):
    """A watch from a revision older than the retained history gets 410 Expired."""
    first = await core.create_namespaced_config_map("default", cm("a"))
    await core.create_namespaced_config_map("default", cm("b"))
    apiserver.compact()
    w = watch.Watch()
    with pytest.raises(ApiException) as err:
        async with asyncio.timeout(10):
            async for _ in w.stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=first.metadata.resource_version,
                timeout_seconds=5,
            ):
                pass
    assert err.value.status == 410


async def test_watch_resumes_from_any_retained_revision(core: client.CoreV1Api):
    """Watch from resourceVersion R delivers exactly the later changes, in order."""
    base = await core.list_namespaced_config_map("default")
    rv = base.metadata.resource_version
    for name in ("a", "b", "c"):
        await core.create_namespaced_config_map("default", cm(name))
    await core.delete_namespaced_config_map("b", "default")
    seen: list[tuple[str, str]] = []
    w = watch.Watch()
    async with asyncio.timeout(10):
        async for event in w.stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=2
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 4:
                w.stop()
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c"), ("DELETED", "b")]


async def test_label_selector_watch_sees_objects_leave(core: client.CoreV1Api):
    """A selector watch reports an object that stops matching as DELETED."""
    base = await core.list_namespaced_config_map("default")
    await core.create_namespaced_config_map("default", cm("a", tier="front"))
    await core.patch_namespaced_config_map("a", "default", {"metadata": {"labels": {"tier": "db"}}})
    seen = []
    w = watch.Watch()
    async with asyncio.timeout(10):
        async for event in w.stream(
            core.list_namespaced_config_map,
            "default",
            label_selector="tier=front",
            resource_version=base.metadata.resource_version,
            timeout_seconds=2,
        ):
            seen.append(event["type"])
            if len(seen) == 2:
                w.stop()
    assert seen == ["ADDED", "DELETED"]


async def test_paging_with_limit_and_continue(core: client.CoreV1Api):
    """List paging: limit + continue return every object once, with one list revision."""
    for i in range(7):
        await core.create_namespaced_config_map("default", cm(f"p{i}", paged="yes"))
    names: list[str] = []
    token = None
    revisions = set()
    while True:
        page = await core.list_namespaced_config_map(
            "default", label_selector="paged", limit=3, _continue=token
        )
        names += [item.metadata.name for item in page.items]
        revisions.add(page.metadata.resource_version)
        token = page.metadata._continue
        if not token:
            break
    assert names == [f"p{i}" for i in range(7)]
    assert len(revisions) == 1


async def test_field_selector(core: client.CoreV1Api):
    """Field selectors on metadata.name; unsupported fields are a 400."""
    await core.create_namespaced_config_map("default", cm("x1"))
    await core.create_namespaced_config_map("default", cm("x2"))
    got = await core.list_namespaced_config_map("default", field_selector="metadata.name!=x1")
    assert "x1" not in [i.metadata.name for i in got.items]
    with pytest.raises(ApiException) as err:
        await core.list_namespaced_config_map("default", field_selector="data.k=x1")
    assert err.value.status == 400


async def test_finalizers_hold_deletion(core: client.CoreV1Api):
    """An object with finalizers gets deletionTimestamp and goes when the last one is removed."""
    obj = cm("held")
    obj["metadata"]["finalizers"] = ["example.com/hold"]
    await core.create_namespaced_config_map("default", obj)
    await core.delete_namespaced_config_map("held", "default")
    held = await core.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    await core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        await core.read_namespaced_config_map("held", "default")
    assert err.value.status == 404


async def test_garbage_collection_of_dependents(core: client.CoreV1Api):
    """Background propagation: dependents go when their only owner is deleted."""
    owner = await core.create_namespaced_config_map("default", cm("owner"))
    dep = cm("dependent")
    dep["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    ]
    await core.create_namespaced_config_map("default", dep)
    await core.delete_namespaced_config_map("owner", "default")

    async def dependent_gone() -> bool:
        try:
            await core.read_namespaced_config_map("dependent", "default")
        except ApiException as exc:
            return exc.status == 404
        return False

    await wait_until(dependent_gone)


async def test_namespace_deletion_removes_contents(core: client.CoreV1Api):
    """Deleting a namespace terminates it, removes its objects, then removes it."""
    await core.create_namespace({"metadata": {"name": "scratch"}})
    await core.create_namespaced_config_map("scratch", cm("inside"))
    await core.delete_namespace("scratch")

    async def gone() -> bool:
        try:
            await core.read_namespace("scratch")
        except ApiException as exc:
            return exc.status == 404
        return False

    await wait_until(gone)
    with pytest.raises(ApiException) as err:
        await core.create_namespaced_config_map("scratch", cm("late"))
    assert err.value.status == 404


async def test_errors_are_status_objects(apiserver: ApiServer):
    """Bad JSON 400, unknown resource 404, invalid name 422, oversized 413, no token 401."""
    headers = {"Authorization": f"Bearer {apiserver.admin_token}"}
    base = apiserver.url + "/api/v1/namespaces/default/configmaps"
    async with aiohttp.ClientSession(
        headers=headers, connector=aiohttp.TCPConnector(ssl=apiserver.client_ssl())
    ) as http:

        async def post(url: str, data: bytes, **kw) -> tuple[int, dict]:
            async with http.post(
                url, data=data, headers={"Content-Type": "application/json"}, **kw
            ) as resp:
                return resp.status, await resp.json()

        status, body = await post(base, b"{nope")
        assert (status, body["kind"], body["reason"]) == (400, "Status", "BadRequest")
        status, body = await post(apiserver.url + "/api/v1/namespaces/default/nopes", b"{}")
        assert (status, body["reason"]) == (404, "NotFound")
        status, body = await post(base, orjson.dumps(cm("Bad_Name")))
        assert (status, body["reason"]) == (422, "Invalid")
        big = cm("big")
        big["data"] = {"k": "x" * (4 * 1024 * 1024)}
        status, body = await post(base, orjson.dumps(big))
        assert (status, body["reason"]) == (413, "RequestEntityTooLarge")
        async with http.get(base) as resp:
            assert resp.status == 200
            names = [i["metadata"]["name"] for i in (await resp.json())["items"]]
        assert "big" not in names and "Bad_Name" not in names
    async with (
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=apiserver.client_ssl())
        ) as anonymous,
        anonymous.get(base) as resp,
    ):
        assert resp.status == 401


async def test_restart_keeps_objects_and_revisions(tmp_path):
    """Persistence: a restarted server has every object, the revision counter and history."""
    cfg = ServerConfig(port=0, data_dir=tmp_path / "data")
    first = ApiServer(cfg)
    await first.start()
    path = first.write_kubeconfig(tmp_path / "kc")
    async with await config.new_client_from_config(config_file=str(path)) as api_client:
        core = client.CoreV1Api(api_client)
        created = await core.create_namespaced_config_map("default", cm("kept"))
        rv = int(created.metadata.resource_version)
    await first.stop()

    second = ApiServer(ServerConfig(port=0, data_dir=tmp_path / "data"))
    await second.start()
    try:
        path = second.write_kubeconfig(tmp_path / "kc2")
        async with await config.new_client_from_config(config_file=str(path)) as api_client:
            core = client.CoreV1Api(api_client)
            kept = await core.read_namespaced_config_map("kept", "default")
            assert kept.metadata.uid == created.metadata.uid
            more = await core.create_namespaced_config_map("default", cm("after"))
            assert int(more.metadata.resource_version) > rv
            seen = []
            w = watch.Watch()
            async with asyncio.timeout(10):
                async for event in w.stream(
                    core.list_namespaced_config_map,
                    "default",
                    resource_version=str(rv - 1),
                    timeout_seconds=2,
                ):
                    seen.append(event["object"].metadata.name)
                    if "after" in seen:
                        w.stop()
            assert seen == ["kept", "after"]
    finally:
        await second.stop()
