"""Conformance of the embedded server with the real kubectl (v1.32) over HTTP.

Each test names the upstream Kubernetes behaviour it checks.
"""

from __future__ import annotations

import asyncio
import subprocess

import pytest
import yaml

CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: site
  namespace: default
  labels: {app: web}
data:
  index.html: hello
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  namespace: default
  name: commond
spec:
  selector: {matchLabels: {app: common}}
  template:
    metadata:
      labels: {app: common}
    spec:
      containers:
      - name: httpd
        image: library/httpd:%s
        ports:
        - name: http
          containerPort: 80
          hostPort: 8081
          protocol: TCP
"""

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList, shortNames: [wd]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, default: 3}
              color: {type: string}
          status:
            type: object
            properties:
              ready: {type: boolean}
"""


async def kubectl(k, *args: str, input: str | None = None, check: bool = True):
    """Run kubectl off the event loop so the in-process server keeps serving."""
    return await asyncio.to_thread(k.run, *args, input=input, check=check)


async def test_version_has_no_skew_warning(apiserver, kubectl_for):
    """kubectl version: the server reports a 1.32 version within kubectl's supported skew."""
    k = kubectl_for(apiserver)
    proc = await kubectl(k, "version")
    assert "Server Version: v1.32.0+edgemc" in proc.stdout
    assert "WARNING" not in proc.stderr


async def test_create_get_yaml_and_custom_columns(apiserver, kubectl_for):
    """kubectl create validates with the server's OpenAPI (no --validate=false) and reads back."""
    k = kubectl_for(apiserver)
    out = await kubectl(k, "create", "-f", "-", input=CONFIGMAP)
    assert out.stdout.strip() == "configmap/site created"
    got = yaml.safe_load((await kubectl(k, "get", "configmap", "site", "-o", "yaml")).stdout)
    assert got["data"] == {"index.html": "hello"}
    assert got["metadata"]["uid"] and got["metadata"]["resourceVersion"].isdigit()
    cols = await kubectl(
        k, "get", "cm", "-o", "custom-columns=NAME:.metadata.name,APP:.metadata.labels.app"
    )
    assert "site" in cols.stdout and "web" in cols.stdout
    again = await kubectl(k, "create", "-f", "-", input=CONFIGMAP, check=False)
    assert again.returncode != 0 and "AlreadyExists" in again.stderr


async def test_apply_twice_then_change_uses_strategic_merge(apiserver, kubectl_for):
    """kubectl apply: created, unchanged, configured; containers merge by name."""
    k = kubectl_for(apiserver)
    first = await kubectl(k, "apply", "-f", "-", input=DEPLOYMENT % "2.4")
    assert first.stdout.strip() == "deployment.apps/commond created"
    second = await kubectl(k, "apply", "-f", "-", input=DEPLOYMENT % "2.4")
    assert second.stdout.strip() == "deployment.apps/commond unchanged"
    third = await kubectl(k, "apply", "-f", "-", input=DEPLOYMENT % "2.5")
    assert third.stdout.strip() == "deployment.apps/commond configured"
    dep = yaml.safe_load((await kubectl(k, "get", "deploy", "commond", "-o", "yaml")).stdout)
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["library/httpd:2.5"]
    assert dep["metadata"]["generation"] == 2
    table = await kubectl(k, "get", "deployments")
    assert table.stdout.split("\n")[0].split() == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
    ]


async def test_label_annotate_patch_delete(apiserver, kubectl_for):
    """kubectl label/annotate/patch (merge, json, strategic) and delete."""
    k = kubectl_for(apiserver)
    await kubectl(k, "create", "-f", "-", input=CONFIGMAP)
    await kubectl(k, "label", "cm", "site", "tier=front")
    await kubectl(k, "annotate", "cm", "site", "note=x")
    await kubectl(k, "patch", "cm", "site", "--type=merge", "-p", '{"data":{"b":"2"}}')
    await kubectl(
        k, "patch", "cm", "site", "--type=json", "-p", '[{"op":"remove","path":"/data/b"}]'
    )
    await kubectl(k, "patch", "cm", "site", "-p", '{"data":{"c":"3"}}')
    got = yaml.safe_load((await kubectl(k, "get", "cm", "site", "-o", "yaml")).stdout)
    assert got["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert got["metadata"]["annotations"]["note"] == "x"
    assert got["data"] == {"index.html": "hello", "c": "3"}
    selected = await kubectl(k, "get", "cm", "-l", "tier in (front,back),app!=db", "-o", "name")
    assert selected.stdout.split() == ["configmap/site"]
    deleted = await kubectl(k, "delete", "cm", "site")
    assert 'configmap "site" deleted' in deleted.stdout
    missing = await kubectl(k, "get", "cm", "site", check=False)
    assert 'configmaps "site" not found' in missing.stderr


async def test_get_watch_streams_changes(apiserver, kubectl_for):
    """kubectl get -w: a Table watch prints a line per change."""
    k = kubectl_for(apiserver)
    await kubectl(k, "create", "-f", "-", input=CONFIGMAP)
    proc = await asyncio.create_subprocess_exec(
        "kubectl",
        f"--kubeconfig={k.kubeconfig}",
        f"--cache-dir={k.cache_dir}",
        "get",
        "cm",
        "-w",
        "--request-timeout=20s",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        async with asyncio.timeout(20):
            while not any(line.startswith("site ") for line in lines):
                lines.append((await proc.stdout.readline()).decode())
            await kubectl(k, "label", "cm", "site", "watched=yes")
            await kubectl(
                k, "create", "-f", "-", input=CONFIGMAP.replace("name: site", "name: second")
            )
            while not any(line.startswith("second ") for line in lines):
                lines.append((await proc.stdout.readline()).decode())
        assert lines[0].split()[:3] == ["NAME", "DATA", "AGE"]
        assert sum(1 for line in lines if line.startswith("site ")) >= 2
    finally:
        proc.kill()
        await proc.wait()


async def test_crd_lifecycle(apiserver, kubectl_for):
    """CRD: created, established, served with defaulting, printer columns, status subresource;
    deleting the CRD removes its objects."""
    k = kubectl_for(apiserver)
    await kubectl(k, "create", "-f", "-", input=CRD)
    await kubectl(
        k, "wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s"
    )
    widget = (
        "apiVersion: example.com/v1\nkind: Widget\n"
        "metadata: {name: w1, namespace: default}\nspec: {color: red}\n"
    )
    await kubectl(k, "apply", "-f", "-", input=widget)
    got = yaml.safe_load((await kubectl(k, "get", "widget", "w1", "-o", "yaml")).stdout)
    assert got["spec"] == {"color": "red", "size": 3}
    table = await kubectl(k, "get", "wd")
    header = table.stdout.split("\n")[0].split()
    assert header == ["NAME", "SIZE", "AGE"]
    assert table.stdout.split("\n")[1].split()[:2] == ["w1", "3"]
    bad = await kubectl(
        k,
        "apply",
        "-f",
        "-",
        input=widget.replace("color: red", "color: red, shape: round"),
        check=False,
    )
    assert bad.returncode != 0 and 'unknown field "spec.shape"' in bad.stderr
    await kubectl(k, "delete", "crd", "widgets.example.com")
    gone = await kubectl(k, "get", "widgets.example.com", check=False)
    assert gone.returncode != 0


@pytest.mark.parametrize("bad", ["{not yaml: [", "kind: Nope\napiVersion: v1\nmetadata: {name: x}"])
async def test_bad_input_is_a_clear_error(apiserver, kubectl_for, bad):
    """Malformed YAML and unknown kinds give an error and change nothing."""
    k = kubectl_for(apiserver)
    before = (await kubectl(k, "get", "cm", "-A", "-o", "name")).stdout
    proc = await kubectl(k, "create", "-f", "-", input=bad, check=False)
    assert proc.returncode != 0 and proc.stderr.strip()
    assert (await kubectl(k, "get", "cm", "-A", "-o", "name")).stdout == before
