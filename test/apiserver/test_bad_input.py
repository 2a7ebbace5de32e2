"""Bad input at the server: every malformed request gets a 4xx Kubernetes Status, fast, on a
live connection, and nothing stored before changes.

Hypothesis generates the requests: undecodable or non-object bodies, wrong types in known
fields of built-in kinds and of the edge.kcp.io CRDs (installed from config/crds), missing
fields, odd names, huge lists, unknown resources and kinds, and invalid selectors and query
parameters. Oversized, truncated and trickled bodies are sent over raw sockets. Each test
starts by storing sentinel objects and ends by checking that they are exactly as they were
and that ordinary requests are still answered.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
import pytest
import yaml
import yarl
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from polling import wait_for

from edgemc.embedded.apiserver.handlers import MAX_BODY_BYTES
from edgemc.embedded.apiserver.server import ApiServer

CRDS = sorted((Path(__file__).parents[2] / "config" / "crds").glob("*.yaml"))
CM = "/api/v1/namespaces/default/configmaps"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
EDGE = "/apis/edge.kcp.io/v1alpha1"
EPL = f"{EDGE}/edgeplacements"
SC = f"{EDGE}/syncerconfigs"
CUST = f"{EDGE}/namespaces/default/customizers"
# kube's name rule for most kinds (DNS-1123 subdomain).
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
names = (f"x{i}" for i in itertools.count())


class Api:
    """Raw requests as the admin; the answer is (status, decoded JSON or text)."""

    def __init__(self, session: aiohttp.ClientSession, server: ApiServer) -> None:
        self.session = session
        self.server = server

    async def send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        headers = {"Content-Type": content_type} if body is not None else {}
        async with (
            asyncio.timeout(10),  # never a hang
            self.session.request(
                method, self.server.url + path, data=body, headers=headers, params=params
            ) as resp,
        ):
            raw = await resp.read()
            try:
                return resp.status, orjson.loads(raw)
            except orjson.JSONDecodeError:
                return resp.status, raw.decode(errors="replace")

    async def rejected(self, method: str, path: str, body: bytes | None = None, **kw: Any) -> Any:
        status, answer = await self.send(method, path, body, **kw)
        assert_status(status, answer, method, path, body)
        return answer

    async def outcome(self, method: str, path: str, body: bytes | None = None, **kw: Any) -> Any:
        """Either accepted (2xx) or rejected with a 4xx Status; the status is returned."""
        status, answer = await self.send(method, path, body, **kw)
        if status >= 300:
            assert_status(status, answer, method, path, body)
        return status, answer


def assert_status(status: int, answer: Any, method: str, path: str, body: Any) -> None:
    what = f"{method} {path} {body!r:.300}"
    assert 400 <= status < 500, f"{what}: {status} {answer!r:.500}"
    assert isinstance(answer, dict), f"{what}: not a Status: {answer!r:.300}"
    assert (answer.get("kind"), answer.get("status"), answer.get("code")) == (
        "Status",
        "Failure",
        status,
    ), f"{what}: {answer}"


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}}


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def edgeplacement(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "EdgePlacement",
        "metadata": {"name": name},
        "spec": {
            "locationSelectors": [{"matchLabels": {"env": "prod"}}],
            "namespaceSelector": {"matchLabels": {"app": "x"}},
            "nonNamespacedObjects": [
                {"apiGroup": "", "resources": ["namespaces"], "resourceNames": ["a"]}
            ],
            "upsync": [{"apiGroup": "", "resources": ["pods"], "namespaces": ["a"]}],
        },
    }


def syncerconfig(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "SyncerConfig",
        "metadata": {"name": name},
        "spec": {
            "namespaceScope": {},
            "clusterScope": [
                {"apiVersion": "v1", "group": "", "resource": "namespaces", "objects": ["a"]}
            ],
            "upsync": [{"apiGroup": "", "resources": ["pods"], "names": ["*"]}],
        },
    }


def customizer(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "Customizer",
        "metadata": {"name": name},
        "replacements": [{"path": "$.spec.replicas", "value": "2"}],
    }


# (collection path, object maker) of the kinds under test.
KINDS = {
    "configmap": (CM, configmap),
    "deployment": (DEPLOY, deployment),
    "edgeplacement": (EPL, edgeplacement),
    "syncerconfig": (SC, syncerconfig),
    "customizer": (CUST, customizer),
}

# Known fields (paths into the object) and the JSON types they must have.
STRING, INTEGER, BOOLEAN, OBJECT, ARRAY = "string", "integer", "boolean", "object", "array"
TYPED_FIELDS: dict[str, list[tuple[tuple[str | int, ...], str]]] = {
    "configmap": [
        (("metadata",), OBJECT),
        (("metadata", "name"), STRING),
        (("metadata", "labels"), OBJECT),
        (("data",), OBJECT),
        (("data", "a"), STRING),
    ],
    "deployment": [
        (("spec",), OBJECT),
        (("spec", "replicas"), INTEGER),
        (("spec", "selector"), OBJECT),
        (("spec", "template", "spec", "containers"), ARRAY),
        (("spec", "template", "spec", "containers", 0, "image"), STRING),
    ],
    "edgeplacement": [
        (("spec",), OBJECT),
        (("spec", "locationSelectors"), ARRAY),
        (("spec", "locationSelectors", 0), OBJECT),
        (("spec", "namespaceSelector"), OBJECT),
        (("spec", "namespaceSelector", "matchLabels"), OBJECT),
        (("spec", "nonNamespacedObjects", 0, "resources"), ARRAY),
        (("spec", "upsync"), ARRAY),
        (("spec", "upsync", 0, "apiGroup"), STRING),
    ],
    "syncerconfig": [
        (("spec",), OBJECT),
        (("spec", "clusterScope"), ARRAY),
        (("spec", "clusterScope", 0, "objects"), ARRAY),
        (("spec", "namespaceScope"), OBJECT),
        (("spec", "upsync", 0, "names"), ARRAY),
    ],
    "customizer": [
        (("replacements",), ARRAY),
        (("replacements", 0), OBJECT),
        (("replacements", 0, "path"), STRING),
    ],
}

# orjson writes 64-bit integers only; larger ones are sent as text in test_huge_numbers.
ints = st.integers(-(2**63), 2**63 - 1)
json_scalars = st.none() | st.booleans() | ints | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def wrong_type(expected: str) -> st.SearchStrategy[Any]:
    """JSON values that are not of the `expected` type (null is "missing", not wrong)."""
    choices = {
        STRING: ints | st.booleans() | st.lists(json_scalars, max_size=2),
        INTEGER: st.text(max_size=5) | st.booleans() | st.lists(ints, max_size=2),
        BOOLEAN: st.text(max_size=5)
        | ints
        | st.dictionaries(st.text(max_size=3), json_scalars, max_size=2),
        OBJECT: st.text(max_size=5) | ints | st.booleans() | st.lists(json_scalars, max_size=2),
        ARRAY: st.text(max_size=5)
        | ints
        | st.booleans()
        | st.dictionaries(st.text(max_size=3), json_scalars, max_size=2),
    }
    return choices[expected]


def set_path(obj: Any, path: tuple[str | int, ...], value: Any) -> None:
    for step in path[:-1]:
        obj = obj[step]
    obj[path[-1]] = value


def undecodable(data: bytes) -> bool:
    """Neither JSON nor YAML, or a scalar: nothing the server may take as an object."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            value = yaml.safe_load(data)
        except yaml.YAMLError:
            return True
    return not isinstance(value, dict | list)


async def install_edge_crds(api: Api) -> None:
    for path in CRDS:
        crd = yaml.safe_load(path.read_text())
        status, answer = await api.send(
            "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", dumps(crd)
        )
        assert status == 201, answer

    async def served() -> bool:
        status, answer = await api.send("GET", EDGE)
        return status == 200 and len(answer["resources"]) >= len(CRDS)

    await wait_for(served, 10, "the edge.kcp.io resources")


@pytest.fixture
async def api(apiserver: ApiServer) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {apiserver.admin_token}"},
        connector=aiohttp.TCPConnector(ssl=apiserver.client_ssl()),
    ) as session:
        api = Api(session, apiserver)
        await install_edge_crds(api)
        sentinels = {}
        for kind, (collection, make) in KINDS.items():
            status, created = await api.send("POST", collection, dumps(make(f"sentinel-{kind}")))
            assert status == 201, (kind, created.get("message"))
            sentinels[kind] = created
        yield api
        # Nothing stored before changed, and ordinary requests are still served.
        for kind, (collection, _) in KINDS.items():
            status, now = await api.send("GET", f"{collection}/sentinel-{kind}")
            assert (status, now) == (200, sentinels[kind]), kind
            status, listing = await api.send("GET", collection)
            assert status == 200 and listing["items"], kind


kinds = st.sampled_from(sorted(KINDS))


@EXAMPLES
@given(kind=kinds, data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
async def test_undecodable_bodies_are_rejected(api: Api, kind: str, data: bytes) -> None:
    assume(undecodable(data))
    collection, _ = KINDS[kind]
    sentinel = f"{collection}/sentinel-{kind}"
    for content_type in ("application/json", "application/yaml"):
        await api.rejected("POST", collection, data, content_type=content_type)
        await api.rejected("PUT", sentinel, data, content_type=content_type)
    for content_type in (
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
    ):
        await api.rejected("PATCH", sentinel, data, content_type=content_type)


@EXAMPLES
@given(kind=kinds, data=st.data())
async def test_wrong_types_in_known_fields_are_rejected(api: Api, kind: str, data: Any) -> None:
    collection, make = KINDS[kind]
    path, expected = data.draw(st.sampled_from(TYPED_FIELDS[kind]))
    value = data.draw(wrong_type(expected))
    obj = make(next(names))
    set_path(obj, path, value)
    answer = await api.rejected("POST", collection, dumps(obj))
    assert answer["reason"] in ("Invalid", "BadRequest"), answer
    # The same change as an update of the stored sentinel.
    sentinel = make(f"sentinel-{kind}")
    set_path(sentinel, path, value)
    await api.rejected("PUT", f"{collection}/sentinel-{kind}", dumps(sentinel))


@EXAMPLES
@given(kind=kinds, data=st.data())
async def test_missing_fields_are_rejected_or_defaulted(api: Api, kind: str, data: Any) -> None:
    collection, make = KINDS[kind]
    name = next(names)
    obj = make(name)
    leaves = [(k,) for k in obj] + [("metadata", k) for k in obj["metadata"]]
    for path in data.draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=3, unique=True)):
        target: Any = obj
        for step in path[:-1]:
            target = target.get(step, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            target.pop(path[-1], None)
    status, _ = await api.outcome("POST", collection, dumps(obj))
    if status < 300:  # then it is stored under its name, complete
        got_status, got = await api.send("GET", f"{collection}/{name}")
        assert got_status == 200 and got["kind"] == make(name)["kind"], got


odd_names = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="abcXYZ-._ /%é€😀\u0000\t", max_size=30),
    st.integers(254, 400).map(lambda n: "a" * n),
    st.sampled_from(["", ".", "..", "-a", "a-", "A", "a_b", "a/b", "a%2Fb", "a..b", " a"]),
)


@EXAMPLES
@given(kind=kinds, name=odd_names)
async def test_odd_names_are_rejected_or_served_back(api: Api, kind: str, name: str) -> None:
    collection, make = KINDS[kind]
    obj = make(name)
    status, answer = await api.outcome("POST", collection, dumps(obj))
    if status < 300:
        assert DNS_SUBDOMAIN.match(name) and len(name) <= 253, f"accepted name {name!r}"
        got_status, got = await api.send("GET", f"{collection}/{quote(name, safe='')}")
        assert (got_status, got["metadata"]["name"]) == (200, name)
        await api.send("DELETE", f"{collection}/{quote(name, safe='')}")
    else:
        assert answer["reason"] in ("Invalid", "BadRequest", "AlreadyExists"), answer
    if name in ("", ".", ".."):
        return  # not a name in a URL: the collection, or a path the client normalizes away
    # The name in a URL: never a server error.
    for method, body in (("GET", None), ("PUT", dumps(obj)), ("DELETE", None)):
        await api.outcome(method, f"{collection}/{quote(name, safe='')}", body)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(["edgeplacement", "syncerconfig", "configmap"]), n=st.integers(1000, 20000)
)
async def test_huge_lists_are_answered(api: Api, kind: str, n: int) -> None:
    collection, make = KINDS[kind]
    name = next(names)
    obj = make(name)
    if kind == "edgeplacement":
        obj["spec"]["locationSelectors"] = [{"matchLabels": {f"k{i}": "v"}} for i in range(n)]
    elif kind == "syncerconfig":
        obj["spec"]["clusterScope"] = [
            {"apiVersion": "v1", "group": "", "resource": f"r{i}"} for i in range(n)
        ]
    else:
        obj["data"] = {f"k{i}": "v" * 10 for i in range(n)}
    status, _ = await api.outcome("POST", collection, dumps(obj))
    if status < 300:
        got_status, _ = await api.send("GET", f"{collection}/{name}")
        assert got_status == 200


@EXAMPLES
@given(
    group=st.sampled_from(["", "apps", "nope.io", "edge.kcp.io"]),
    version=st.sampled_from(["v1", "v1alpha1", "v2", "x"]),
    resource=st.sampled_from(["things", "configmaps", "edgeplacements", "deployments"]),
    kind=st.sampled_from(["Thing", "Secret", "ConfigMap", "EdgePlacement", ""]),
)
async def test_unknown_resources_and_mismatched_kinds(
    api: Api, group: str, version: str, resource: str, kind: str
) -> None:
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    body = {"apiVersion": f"{group}/{version}" if group else version, "kind": kind}
    body["metadata"] = {"name": next(names)}
    for path in (f"{prefix}/{resource}", f"{prefix}/namespaces/default/{resource}"):
        await api.outcome("POST", path, dumps(body))
        await api.outcome("GET", path)
    # A body of another kind than the URL's resource is refused.
    await api.rejected("POST", CM, dumps({**body, "kind": "Secret", "apiVersion": "v1"}))


@EXAMPLES
@given(
    selector=st.text(max_size=40) | st.text(alphabet="abc=!,()in notexists", max_size=30),
    key=st.sampled_from(["labelSelector", "fieldSelector"]),
    watch=st.booleans(),
)
async def test_selectors_are_parsed_or_rejected(
    api: Api, selector: str, key: str, watch: bool
) -> None:
    params = {key: selector}
    if watch:
        params |= {"watch": "1", "timeoutSeconds": "0"}
    for path in (CM, EPL):
        await api.outcome("GET", path, params=params)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "abc"},
        {"resourceVersion": "abc"},
        {"continue": "not-a-token"},
        {"watch": "1", "resourceVersion": "x1"},
        {"watch": "1", "timeoutSeconds": "soon"},
        {"labelSelector": "a in (b"},
        {"fieldSelector": "spec.nope=1"},
    ],
)
async def test_bad_query_parameters_are_400(api: Api, params: dict[str, str]) -> None:
    answer = await api.rejected("GET", CM, params=params)
    assert answer["code"] == 400


@pytest.mark.parametrize("name", [0, False, [], {}])
async def test_update_with_a_falsy_name_is_rejected(api: Api, name: Any) -> None:
    own = next(names)
    status, _ = await api.send("POST", CM, dumps(configmap(own)))
    assert status == 201
    body = configmap(own)
    body["metadata"]["name"] = name
    answer = await api.rejected("PUT", f"{CM}/{own}", dumps(body))
    assert answer["reason"] == "BadRequest", answer


async def test_update_into_another_namespace_is_400(api: Api) -> None:
    own = next(names)
    status, _ = await api.send("POST", CM, dumps(configmap(own)))
    assert status == 201
    body = configmap(own)
    body["metadata"]["namespace"] = "elsewhere"
    answer = await api.rejected("PUT", f"{CM}/{own}", dumps(body))
    assert answer["message"] == (
        "the namespace of the object (elsewhere) does not match the namespace on the request "
        "(default)"
    )


@pytest.mark.parametrize("name", ["", None])
async def test_update_without_a_name_is_400_and_changes_nothing(api: Api, name: Any) -> None:
    own = next(names)
    status, _ = await api.send("POST", CM, dumps(configmap(own)))
    assert status == 201
    body = configmap(own)
    body["data"] = {"changed": "yes"}
    if name is None:
        del body["metadata"]["name"]
    else:
        body["metadata"]["name"] = name
    answer = await api.rejected("PUT", f"{CM}/{own}", dumps(body))
    assert answer["code"] == 400, answer
    assert answer["message"] == (
        f"the name of the object ({own} based on URL) was undeterminable: name must be provided"
    )
    status, stored = await api.send("GET", f"{CM}/{own}")
    assert status == 200 and "changed" not in (stored.get("data") or {})


async def test_empty_string_for_a_defaulted_integer_is_rejected(api: Api) -> None:
    """Go's decoder refuses a string for an int32 before defaulting could fill it in."""
    body = deployment(next(names))
    body["spec"]["replicas"] = ""
    answer = await api.rejected("POST", DEPLOY, dumps(body))
    assert answer["reason"] == "BadRequest", answer
    assert (
        "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type "
        "int32" in answer["message"]
    )


async def test_absent_replicas_are_defaulted(api: Api) -> None:
    body = deployment(next(names))
    del body["spec"]["replicas"]
    status, created = await api.send("POST", DEPLOY, dumps(body))
    assert (status, created["spec"]["replicas"]) == (201, 1), created


CONTAINERS = "spec.template.spec.containers"


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ("null-container", {f"{CONTAINERS}[0].name", f"{CONTAINERS}[0].image"}),
        ("no-image", {f"{CONTAINERS}[0].image"}),
        ("null-image", {f"{CONTAINERS}[0].image"}),
        ("no-containers", {CONTAINERS}),
        ("no-init-image", {"spec.template.spec.initContainers[0].image"}),
    ],
)
async def test_incomplete_containers_are_invalid(api: Api, change: str, fields: set[str]) -> None:
    body = deployment(next(names))
    pod_spec = body["spec"]["template"]["spec"]
    containers = pod_spec["containers"]
    if change == "null-container":
        containers[0] = None
    elif change == "no-image":
        containers[0]["image"] = ""
    elif change == "null-image":
        containers[0]["image"] = None
    elif change == "no-containers":
        containers.clear()
    else:
        pod_spec["initContainers"] = [{"name": "init"}]
    answer = await api.rejected("POST", DEPLOY, dumps(body))
    assert answer["reason"] == "Invalid", answer
    causes = answer["details"]["causes"]
    assert {c["field"] for c in causes} == fields, causes
    assert {(c["reason"], c["message"]) for c in causes} == {
        ("FieldValueRequired", "Required value")
    }


async def test_a_pod_without_an_image_is_invalid(api: Api) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": next(names)},
        "spec": {"containers": [{"name": "c"}]},
    }
    answer = await api.rejected("POST", "/api/v1/namespaces/default/pods", dumps(pod))
    assert [c["field"] for c in answer["details"]["causes"]] == ["spec.containers[0].image"]


@pytest.mark.parametrize("number", [b"-1e999", b"1e999", b"NaN", b"1.5"])
async def test_huge_numbers_are_rejected(api: Api, number: bytes) -> None:
    body = dumps(deployment(next(names))).replace(b'"replicas":1', b'"replicas":' + number)
    await api.rejected("POST", DEPLOY, body)


@pytest.mark.parametrize(
    "number", [b"2147483648", b"-2147483649", b"1" + b"0" * 30, b"99999999999999999999"]
)
async def test_integer_beyond_int32_is_rejected(api: Api, number: bytes) -> None:
    body = dumps(deployment(next(names))).replace(b'"replicas":1', b'"replicas":' + number)
    answer = await api.rejected("POST", DEPLOY, body)
    assert answer["reason"] == "BadRequest", answer
    assert "into Go struct field DeploymentSpec.spec.replicas of type int32" in answer["message"]


async def test_int32_bounds_are_accepted(api: Api) -> None:
    body = deployment(next(names))
    body["spec"]["replicas"] = 2**31 - 1
    status, created = await api.send("POST", DEPLOY, dumps(body))
    assert (status, created["spec"]["replicas"]) == (201, 2**31 - 1), created


async def test_an_encoded_slash_stays_in_the_name(api: Api) -> None:
    """DELETE .../configmaps/%2F once deleted the whole collection (split after decoding)."""
    url = yarl.URL(f"{api.server.url}{CM}/%2F", encoded=True)
    async with api.session.delete(url) as resp:
        assert resp.status == 404, await resp.text()
    status, _ = await api.send("GET", f"{CM}/sentinel-configmap")
    assert status == 200


async def test_wrong_content_type_is_415(api: Api) -> None:
    answer = await api.rejected(
        "POST", CM, dumps(configmap(next(names))), content_type="text/plain"
    )
    assert answer["code"] == 415


# -- bodies that are too big, cut short or trickled, over raw sockets --------------------------


async def raw_request(
    server: ApiServer, head: str, body: bytes, *, close_after: bool = False
) -> bytes:
    """Send `head` (request line + headers, no blank line) and `body`; the raw answer."""
    url = urlsplit(server.url)
    context = server.client_ssl()
    assert isinstance(context, ssl.SSLContext)
    reader, writer = await asyncio.open_connection(url.hostname, url.port, ssl=context)
    try:
        auth = f"Authorization: Bearer {server.admin_token}\r\nHost: {url.netloc}\r\n"
        writer.write((head + "\r\n" + auth + "\r\n").encode() + body)
        await writer.drain()
        if close_after:
            return b""
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()


def status_of(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    code = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        size, _, rest = body.partition(b"\r\n")
        body = rest[: int(size, 16)]
    return code, orjson.loads(body)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_oversized_bodies_are_413(api: Api, method: str) -> None:
    server = api.server
    big = configmap("sentinel-configmap")
    big["data"] = {"a": "x" * (MAX_BODY_BYTES + 10)}
    data = dumps(big)
    path = CM if method == "POST" else f"{CM}/sentinel-configmap"
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    # Declared length: refused before the body is read.
    await api.rejected(method, path, data, content_type=content_type)
    # No declared length (chunked): cut off at the limit.
    chunk = f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n"
    head = (
        f"{method} {path} HTTP/1.1\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close"
    )
    code, status = status_of(await raw_request(server, head, chunk))
    assert (code, status["reason"]) == (413, "RequestEntityTooLarge")


async def test_truncated_and_trickled_bodies_change_nothing(api: Api) -> None:
    server = api.server
    body = dumps(configmap("truncated"))
    head = (
        f"POST {CM} HTTP/1.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close"
    )
    # The client goes away half-way through its body.
    await raw_request(server, head, body[: len(body) // 2], close_after=True)
    # A slow client holding a half-sent body does not hold up anyone else.
    url = urlsplit(server.url)
    _, writer = await asyncio.open_connection(url.hostname, url.port, ssl=server.client_ssl())
    try:
        auth = f"Authorization: Bearer {server.admin_token}\r\nHost: {url.netloc}\r\n"
        writer.write((head + "\r\n" + auth + "\r\n").encode())
        writer.write(dumps(configmap("slow"))[:10])
        await writer.drain()
        status, listing = await api.send("GET", CM)
        assert status == 200
        names_now = {item["metadata"]["name"] for item in listing["items"]}
        assert "truncated" not in names_now and "slow" not in names_now
    finally:
        writer.close()
    status, _ = await api.send("GET", f"{CM}/truncated")
    assert status == 404


@pytest.mark.parametrize("mode", ["Warn", "Ignore"])
async def test_unknown_fields_are_dropped_when_not_strict(api: Api, mode: str) -> None:
    own = next(names)
    body = {**configmap(own), "color": "blue", "metadata": {"name": own, "shade": "dark"}}
    status, stored = await api.send("POST", CM, dumps(body), params={"fieldValidation": mode})
    assert status == 201, stored
    assert "color" not in stored and "shade" not in stored["metadata"]
    status, got = await api.send("GET", f"{CM}/{own}")
    assert status == 200 and "color" not in got and "shade" not in got["metadata"]
    assert got["data"] == {"a": "b"}
