"""kubectl's imperative `create` commands send protobuf bodies: the server stores what the
same command would have sent as JSON (`--dry-run=client -o json`), and refuses what it
cannot decode with a clear 415 instead of guessing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from edgemc.embedded.apiserver import protobuf

SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields")

COMMANDS = [
    ("configmap", "cm1", ["--from-literal=a=b", "--from-literal=index.html=<p>hi</p>"]),
    ("secret", "s1", ["generic", "--from-literal=password=s3cr3t", "--type=Opaque"]),
    ("namespace", "ns1", []),
    ("serviceaccount", "sa1", []),
    ("deployment", "d1", ["--image=nginx:1.25", "--port=80", "--replicas=3"]),
    ("deployment", "d0", ["--image=nginx", "--replicas=0"]),  # a pointer zero stays 0
]


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` without what the server adds (metadata it sets, status, defaults)."""
    meta = {k: v for k, v in obj["metadata"].items() if k not in SERVER_FIELDS}
    meta.pop("namespace", None)
    labels = {
        k: v for k, v in (meta.pop("labels", None) or {}).items()
        if k != "kubernetes.io/metadata.name"  # the Namespace's own, set by the server
    }  # fmt: skip
    if labels:
        meta["labels"] = labels
    out = {**obj, "metadata": meta}
    out.pop("status", None)
    template = (out.get("spec") or {}).get("template")
    if template:  # kubectl writes `creationTimestamp: null` there; stored, it is absent
        template["metadata"].pop("creationTimestamp", None)
    return out


async def kubectl(k: Any, *args: str) -> str:
    return (await asyncio.to_thread(k.run, *args)).stdout


@pytest.mark.parametrize(("kind", "name", "args"), COMMANDS, ids=[c[1] for c in COMMANDS])
async def test_created_object_is_what_json_would_have_made(
    apiserver: Any, kubectl_for: Any, kind: str, name: str, args: list[str]
) -> None:
    k = kubectl_for(apiserver)
    command = ["create", kind, *args[:1], name, *args[1:]] if kind == "secret" else [
        "create", kind, name, *args
    ]  # fmt: skip
    wanted = json.loads(await kubectl(k, *command, "--dry-run=client", "-o", "json"))
    await kubectl(k, *command)
    resource = {"configmap": "configmap", "secret": "secret"}.get(kind, kind)
    stored = json.loads(await kubectl(k, "get", resource, name, "-o", "json"))
    have = comparable(stored)
    want = comparable(wanted)
    if kind == "deployment":  # the server defaults what kubectl leaves out
        for key in ("progressDeadlineSeconds", "revisionHistoryLimit"):
            have["spec"].pop(key, None)
        have["spec"]["strategy"] = want["spec"]["strategy"]
        template = have["spec"]["template"]["spec"]
        want_template = want["spec"]["template"]["spec"]
        for key in list(template):
            if key not in want_template:
                del template[key]
        for container, wanted_container in zip(
            template["containers"], want_template["containers"], strict=True
        ):
            for key in list(container):
                if key not in wanted_container:
                    del container[key]
            for port, wanted_port in zip(
                container.get("ports", []), wanted_container.get("ports", []), strict=True
            ):
                for key in list(port):
                    if key not in wanted_port:  # protocol: TCP, a server default
                        del port[key]
    if kind == "namespace":
        have.pop("spec", None)
        want.pop("spec", None)
    assert have == want


def test_unknown_kinds_and_fields_are_refused() -> None:
    with pytest.raises(protobuf.Unsupported, match="k8s"):
        protobuf.decode(b'{"kind": "ConfigMap"}')
    # runtime.Unknown{typeMeta{apiVersion "v1", kind "Pod"}, raw ""}
    pod = protobuf.MAGIC + b"\x0a\x09\x0a\x02v1\x12\x03Pod\x12\x00"
    with pytest.raises(protobuf.Unsupported, match="Pod"):
        protobuf.decode(pod)
    # A ConfigMap with field 9 (unknown here) set: refused, not dropped.
    raw = b"\x4a\x01x"
    cm = protobuf.MAGIC + b"\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12" + bytes([len(raw)]) + raw
    with pytest.raises(protobuf.Unsupported, match="field 9 of ConfigMap"):
        protobuf.decode(cm)
    truncated = protobuf.MAGIC + b"\x0a\x0f\x0a\x02v1\x12\x09Conf"
    with pytest.raises(protobuf.Unsupported, match="truncated"):
        protobuf.decode(truncated)
