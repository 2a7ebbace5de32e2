"""OpenAPI documents: their shape, and the real kubectl creating/applying against them.

The kubectl tests run a deliberately tiny aiohttp app (discovery, the OpenAPI documents from
edgemc.embedded.apiserver.openapi, a create/get/patch echo that runs our defaulting and
validation, and Tables) so that the documents are proven good enough for kubectl 1.32 on
their own, independently of the full server. Upstream behaviour checked: with a PATCH
operation carrying x-kubernetes-group-version-kind and a fieldValidation parameter, kubectl
skips client-side validation and sends fieldValidation=Strict; apply uses a strategic merge
patch for built-in kinds; explain reads components.schemas.
"""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from edgemc.embedded.apiserver.builtin import BUILTIN_TYPES, definitions
from edgemc.embedded.apiserver.defaults import apply_defaults
from edgemc.embedded.apiserver.openapi import (
    STRATEGIC_MERGE_PATCH,
    content_hash,
    group_version_key,
    openapi_v2,
    openapi_v3_document,
    openapi_v3_index,
)
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.table import to_table
from edgemc.embedded.apiserver.validation import validate_object

KUBECTL = shutil.which("kubectl")

WIDGETS = ResourceType(
    group="example.com",
    version="v1",
    resource="widgets",
    kind="Widget",
    namespaced=True,
    singular="widget",
    list_kind="WidgetList",
    subresources=("status",),
    printer_columns=(
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
        {"name": "Colour", "type": "string", "jsonPath": ".spec.colour"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ),
    schema={
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    },
    source="crd",
)


# --------------------------------------------------------------------------------------------
# Document shape
# --------------------------------------------------------------------------------------------


def _patch_ops(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        item["patch"]
        for item in doc["paths"].values()
        if "patch" in item and item["patch"]["x-kubernetes-group-version-kind"]["kind"] == kind
    ]


def test_index_lists_every_group_version_with_its_document_hash() -> None:
    types = [*BUILTIN_TYPES, WIDGETS]
    index = openapi_v3_index(types)
    assert set(index["paths"]) == {
        "api/v1",
        "apis/apps/v1",
        "apis/rbac.authorization.k8s.io/v1",
        "apis/coordination.k8s.io/v1",
        "apis/networking.k8s.io/v1",
        "apis/apiextensions.k8s.io/v1",
        "apis/example.com/v1",
    }
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    digest = content_hash(openapi_v3_document("apps", "v1", types))
    assert url == f"/openapi/v3/apis/apps/v1?hash={digest}"
    assert len(digest) == 128 and digest.isupper()
    prefixed = openapi_v3_index(types, prefix="/clusters/root")
    assert prefixed["paths"]["api/v1"]["serverRelativeURL"].startswith(
        "/clusters/root/openapi/v3/api/v1?hash="
    )


def test_hash_is_stable_and_follows_content() -> None:
    first = openapi_v3_index(BUILTIN_TYPES)
    assert openapi_v3_index(BUILTIN_TYPES) == first
    with_crd = openapi_v3_index([*BUILTIN_TYPES, WIDGETS])
    assert with_crd["paths"]["apis/apps/v1"] == first["paths"]["apis/apps/v1"]
    bigger = ResourceType(**{**WIDGETS.__dict__, "schema": {"type": "object"}})
    assert (
        openapi_v3_index([bigger])["paths"]["apis/example.com/v1"]
        != openapi_v3_index([WIDGETS])["paths"]["apis/example.com/v1"]
    )


def test_builtin_patch_operation_declares_gvk_field_validation_and_strategic_merge() -> None:
    doc = openapi_v3_document("apps", "v1", BUILTIN_TYPES)
    assert doc["openapi"].startswith("3.")
    [patch, status_patch] = _patch_ops(doc, "Deployment")
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "kind": "Deployment",
        "version": "v1",
    }
    assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in patch["parameters"])
    assert STRATEGIC_MERGE_PATCH in patch["requestBody"]["content"]
    assert status_patch["operationId"] == "patchAppsV1NamespacedDeploymentStatus"
    post = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"]
    assert any(p["name"] == "fieldValidation" for p in post["parameters"])
    assert "/apis/apps/v1/deployments" in doc["paths"]
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Scale"


def test_components_are_the_transitive_closure_with_rewritten_refs() -> None:
    doc = openapi_v3_document("apps", "v1", BUILTIN_TYPES)
    schemas = doc["components"]["schemas"]
    assert "io.k8s.api.apps.v1.Deployment" in schemas
    assert "io.k8s.api.core.v1.Container" in schemas
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    text = orjson.dumps(schemas).decode()
    assert "#/$defs/" not in text
    for ref in _all_refs(schemas):
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in schemas
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["type"] == "object"
    assert "enum" not in deployment["properties"]["kind"]
    replicas = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"]
    assert replicas["type"] == "integer"
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    # The shared definitions are not modified by exporting them.
    assert definitions()["io.k8s.api.apps.v1.Deployment"]["type"] == ["object", "null"]


def test_custom_type_document_uses_the_crd_schema_and_merge_patches_only() -> None:
    doc = openapi_v3_document("example.com", "v1", [*BUILTIN_TYPES, WIDGETS])
    schemas = doc["components"]["schemas"]
    widget = schemas["com.example.v1.Widget"]
    assert widget["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}
    ]
    assert widget["properties"]["spec"]["properties"]["size"] == {"type": "integer"}
    assert widget["properties"]["metadata"] == {
        "$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
    assert schemas["com.example.v1.WidgetList"]["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/com.example.v1.Widget"
    }
    [patch, _status] = _patch_ops(doc, "Widget")
    assert STRATEGIC_MERGE_PATCH not in patch["requestBody"]["content"]
    assert "application/merge-patch+json" in patch["requestBody"]["content"]
    assert WIDGETS.schema is not None and "metadata" not in WIDGETS.schema["properties"]
    assert not [p for p in doc["paths"] if "/apis/apps/" in p]


def test_openapi_v2_is_swagger_with_definitions() -> None:
    doc = openapi_v2([*BUILTIN_TYPES, WIDGETS])
    assert doc["swagger"] == "2.0"
    assert "io.k8s.api.core.v1.ConfigMap" in doc["definitions"]
    assert "com.example.v1.Widget" in doc["definitions"]
    for ref in _all_refs(doc["definitions"]):
        assert ref.startswith("#/definitions/")
    patch = doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]
    assert STRATEGIC_MERGE_PATCH in patch["consumes"]
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    assert any(p["in"] == "body" for p in patch["parameters"])


def _all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _all_refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _all_refs(item)]
    return []


# --------------------------------------------------------------------------------------------
# A tiny server for the real kubectl
# --------------------------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str


@dataclass
class TinyServer:
    """Discovery + OpenAPI from our modules + an echo store; records every request."""

    prefix: str
    types: list[ResourceType]
    # The prefix written into serverRelativeURL (kubectl accepts it with or without).
    index_prefix: str = ""
    requests: list[Recorded] = field(default_factory=list)
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    revision: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            Recorded(request.method, request.path, dict(request.query), request.content_type or "")
        )
        path = request.path
        if not path.startswith(self.prefix):
            return _status(404, "NotFound", "wrong prefix")
        parts = [p for p in path[len(self.prefix) :].split("/") if p]
        if parts == ["version"]:
            return web.json_response(
                {"major": "1", "minor": "32", "gitVersion": "v1.32.0+edgemc", "platform": "linux"}
            )
        if parts == ["api"]:
            return web.json_response({"kind": "APIVersions", "versions": ["v1"]})
        if parts == ["apis"]:
            return web.json_response(self.group_list())
        if parts[:1] == ["openapi"]:
            return self.openapi(parts[1:])
        if parts[:1] == ["api"] and len(parts) == 2:
            return web.json_response(self.resource_list("", parts[1]))
        if parts[:1] == ["apis"] and len(parts) == 3:
            return web.json_response(self.resource_list(parts[1], parts[2]))
        return await self.rest(request, parts)

    def group_list(self) -> dict[str, Any]:
        groups: dict[str, str] = {}
        for rt in self.types:
            if rt.group:
                groups.setdefault(rt.group, rt.version)
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                    "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
                }
                for g, v in groups.items()
            ],
        }

    def resource_list(self, group: str, version: str) -> dict[str, Any]:
        resources: list[dict[str, Any]] = []
        for rt in self.types:
            if (rt.group, rt.version) != (group, version):
                continue
            resources.append(
                {
                    "name": rt.resource,
                    "singularName": rt.singular,
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": list(rt.verbs),
                    "shortNames": list(rt.short_names),
                    "categories": list(rt.categories),
                }
            )
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "groupVersion": gv, "resources": resources}

    def openapi(self, parts: list[str]) -> web.Response:
        if parts == ["v3"]:
            return web.json_response(openapi_v3_index(self.types, prefix=self.index_prefix))
        if parts[:1] == ["v3"] and len(parts) in (3, 4):
            group, version = ("", parts[2]) if parts[1] == "api" else (parts[2], parts[3])
            if group_version_key(group, version) == "/".join(parts[1:]):
                return web.json_response(openapi_v3_document(group, version, self.types))
        return _status(404, "NotFound", "the server could not find the requested resource")

    async def rest(self, request: web.Request, parts: list[str]) -> web.Response:
        # /api/v1/namespaces/{ns}/{resource}[/{name}] or /apis/{g}/{v}/namespaces/...
        head = 2 if parts[0] == "api" else 3
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[head:]
        namespace = ""
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource, name = rest[0], rest[1] if len(rest) > 1 else ""
        rt = next(t for t in self.types if (t.group, t.resource) == (group, resource))
        key = (resource, namespace, name)
        if request.method == "GET" and not name:
            items = [o for (r, ns, _), o in sorted(self.objects.items()) if r == resource]
            if "as=Table" in request.headers.get("Accept", ""):
                return web.json_response(to_table(rt, items, resource_version=str(self.revision)))
            return web.json_response(
                {"kind": rt.list_kind, "apiVersion": rt.api_version, "items": items}
            )
        if request.method == "GET":
            if key not in self.objects:
                return _status(404, "NotFound", f'{resource} "{name}" not found')
            return web.json_response(self.objects[key])
        body = orjson.loads(await request.read())
        mode = request.query.get("fieldValidation", "Warn")
        if request.method == "POST":
            obj = body
            obj.setdefault("metadata", {})["namespace"] = namespace
            name = obj["metadata"]["name"]
            key = (resource, namespace, name)
            obj["metadata"]["uid"] = str(uuid.uuid4())
            obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
            code = 201
        elif request.method == "PATCH":
            obj = _merge(copy.deepcopy(self.objects[key]), body)
            code = 200
        else:
            return _status(405, "MethodNotAllowed", "not here")
        apply_defaults(rt, obj)
        result = validate_object(rt, obj, field_validation=mode)
        error = result.to_error(rt, name)
        if error is not None:
            return web.json_response(error.status(), status=error.code)
        self.revision += 1
        obj["metadata"]["resourceVersion"] = str(self.revision)
        self.objects[key] = obj
        # RFC 7234 warn-text is a quoted-string: quotes inside must be escaped, or kubectl
        # drops the header.
        headers = {"Warning": ", ".join(f'299 - "{_quoted(w)}"' for w in result.warnings)}
        return web.json_response(obj, status=code, headers=headers if result.warnings else None)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return patch
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge(target.get(key), value)
    return target


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return web.json_response(body, status=code)


@dataclass
class Kubectl:
    kubeconfig: Path
    cache_dir: Path
    workdir: Path

    async def run(self, *args: str) -> tuple[int, str, str]:
        if KUBECTL is None:
            pytest.fail("kubectl (v1.32) must be on PATH")
        proc = await asyncio.create_subprocess_exec(
            KUBECTL,
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.cache_dir}",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.workdir,
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        return proc.returncode or 0, out.decode(), err.decode()

    async def ok(self, *args: str) -> str:
        code, out, err = await self.run(*args)
        assert code == 0, f"kubectl {' '.join(args)} failed: {out}\n{err}"
        return out + err


@pytest.fixture(
    params=[("", ""), ("/clusters/root", "/clusters/root"), ("/clusters/root", "")],
    ids=["no-prefix", "cluster-prefix", "cluster-prefix-relative-index"],
)
async def tiny(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[TinyServer, Kubectl]]:
    prefix, index_prefix = request.param
    server = TinyServer(prefix, [*BUILTIN_TYPES, WIDGETS], index_prefix=index_prefix)
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: tiny
  cluster: {{server: "http://127.0.0.1:{port}{prefix}"}}
users:
- name: tiny
  user: {{token: test}}
contexts:
- name: tiny
  context: {{cluster: tiny, user: tiny, namespace: default}}
current-context: tiny
"""
    )
    try:
        yield server, Kubectl(kubeconfig, tmp_path / "cache", tmp_path)
    finally:
        await runner.cleanup()


CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: cm1
data:
  a: "1"
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: %d
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
"""


def _writes(server: TinyServer, method: str) -> list[Recorded]:
    return [r for r in server.requests if r.method == method]


async def test_kubectl_create_and_apply_validate_on_the_server(
    tiny: tuple[TinyServer, Kubectl],
) -> None:
    server, kubectl = tiny
    (kubectl.workdir / "cm.yaml").write_text(CONFIGMAP)
    (kubectl.workdir / "deploy.yaml").write_text(DEPLOYMENT % 2)

    out = await kubectl.ok("create", "-f", "cm.yaml")
    assert "configmap/cm1 created" in out
    out = await kubectl.ok("apply", "-f", "deploy.yaml")
    assert "deployment.apps/web created" in out
    posts = _writes(server, "POST")
    assert [r.query.get("fieldValidation") for r in posts] == ["Strict", "Strict"]
    assert posts[1].query.get("fieldManager") == "kubectl-client-side-apply"
    assert any(r.path.endswith("/openapi/v3") for r in server.requests)
    assert all(r.path.startswith(server.prefix) for r in server.requests)

    # A second apply is a strategic merge patch computed from our OpenAPI v3 schemas
    # (kubectl warns on stderr if it had to fall back).
    (kubectl.workdir / "deploy.yaml").write_text(DEPLOYMENT % 3)
    out = await kubectl.ok("apply", "-f", "deploy.yaml")
    assert "deployment.apps/web configured" in out
    assert "warning" not in out.lower()
    [patch] = _writes(server, "PATCH")
    assert patch.content_type == STRATEGIC_MERGE_PATCH
    assert patch.query.get("fieldValidation") == "Strict"
    assert server.objects[("deployments", "default", "web")]["spec"]["replicas"] == 3


async def test_kubectl_shows_strict_and_warn_unknown_field_answers(
    tiny: tuple[TinyServer, Kubectl],
) -> None:
    _server, kubectl = tiny
    (kubectl.workdir / "bad.yaml").write_text(CONFIGMAP + "foo: bar\n")
    code, out, err = await kubectl.run("create", "-f", "bad.yaml")
    assert code != 0
    assert (
        'Error from server (BadRequest): error when creating "bad.yaml": ConfigMap in version '
        '"v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "foo"'
    ) in err
    out = await kubectl.ok("create", "--validate=warn", "-f", "bad.yaml")
    assert 'Warning: unknown field "foo"' in out
    assert "configmap/cm1 created" in out


async def test_kubectl_custom_resource_apply_uses_merge_patch(
    tiny: tuple[TinyServer, Kubectl],
) -> None:
    server, kubectl = tiny
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: %d}\n"
    (kubectl.workdir / "w.yaml").write_text(widget % 1)
    await kubectl.ok("apply", "-f", "w.yaml")
    (kubectl.workdir / "w.yaml").write_text(widget % 2)
    await kubectl.ok("apply", "-f", "w.yaml")
    [patch] = _writes(server, "PATCH")
    assert patch.content_type == "application/merge-patch+json"
    assert patch.query.get("fieldValidation") == "Strict"


async def test_kubectl_explain_reads_component_schemas(tiny: tuple[TinyServer, Kubectl]) -> None:
    _server, kubectl = tiny
    out = await kubectl.ok("explain", "deployments.spec.replicas")
    assert "replicas" in out and "<integer>" in out
    out = await kubectl.ok("explain", "widgets.spec")
    assert "size" in out


async def test_kubectl_get_prints_our_tables(tiny: tuple[TinyServer, Kubectl]) -> None:
    _server, kubectl = tiny
    (kubectl.workdir / "deploy.yaml").write_text(DEPLOYMENT % 2)
    (kubectl.workdir / "cm.yaml").write_text(CONFIGMAP)
    await kubectl.ok("create", "-f", "deploy.yaml", "-f", "cm.yaml")
    out = await kubectl.ok("get", "deployments")
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row.split()[:4] == ["web", "0/2", "0", "0"]
    out = await kubectl.ok("get", "deploy", "-o", "wide")
    assert out.splitlines()[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert "nginx:1.25" in out and "app=web" in out
    out = await kubectl.ok("get", "cm", "--show-labels")
    assert out.splitlines()[0].split() == ["NAME", "DATA", "AGE", "LABELS"]
    out = await kubectl.ok("get", "deploy", "-A")
    assert out.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert out.splitlines()[1].split()[:2] == ["default", "web"]
    # A custom resource's printer columns; a missing value (null cell) prints empty.
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 4}\n"
    (kubectl.workdir / "w.yaml").write_text(widget)
    await kubectl.ok("create", "-f", "w.yaml")
    header, row = (await kubectl.ok("get", "widgets")).splitlines()[:2]
    assert header.split() == ["NAME", "SIZE", "COLOUR", "AGE"]
    assert row.split()[:2] == ["w1", "4"]
    assert len(row.split()) == 3 and "<nil>" not in row
