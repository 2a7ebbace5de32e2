"""Protobuf request bodies of built-in kinds, decoded into the JSON form the server stores.

kubectl's imperative commands (`kubectl create configmap|secret|namespace|serviceaccount|
deployment`) send `application/vnd.kubernetes.protobuf`: the 4-byte magic `k8s\\0`, then a
`runtime.Unknown` message holding the TypeMeta and the object's own protobuf bytes. This
module reads the wire format and maps the fields of the kinds listed in `KINDS` to their JSON
names (field numbers from k8s.io/api and k8s.io/apimachinery, the wire contract). A kind or a
non-empty field outside that table is refused with a message asking for JSON: never guessed.

The Go encoder writes every non-pointer field, zero values included, where JSON would omit
them (`omitempty`); zero scalars are dropped here except for the pointer fields marked
`keep_zero` (`replicas: 0` must stay 0). Empty messages stay `{}`, as Go's JSON writes them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"


class Unsupported(ValueError):
    """A body this decoder cannot map faithfully (the caller answers 415 or 400)."""


@dataclass(frozen=True)
class F:
    """One field: its JSON name, its kind (`s` string, `i` integer, `b` bool, `y` bytes,
    `time`, `quantity`, `intstr`, `map`, `map-bytes`, `map-quantity`, or a message name)."""

    name: str
    kind: str
    repeated: bool = False
    keep_zero: bool = False


Message = dict[int, F]

MESSAGES: dict[str, Message] = {
    "ObjectMeta": {
        1: F("name", "s"),
        2: F("generateName", "s"),
        3: F("namespace", "s"),
        4: F("selfLink", "s"),
        5: F("uid", "s"),
        6: F("resourceVersion", "s"),
        7: F("generation", "i"),
        8: F("creationTimestamp", "time"),
        9: F("deletionTimestamp", "time"),
        10: F("deletionGracePeriodSeconds", "i", keep_zero=True),
        11: F("labels", "map"),
        12: F("annotations", "map"),
        13: F("ownerReferences", "OwnerReference", repeated=True),
        14: F("finalizers", "s", repeated=True),
    },
    "OwnerReference": {
        1: F("kind", "s"),
        3: F("name", "s"),
        4: F("uid", "s"),
        5: F("apiVersion", "s"),
        6: F("controller", "b", keep_zero=True),
        7: F("blockOwnerDeletion", "b", keep_zero=True),
    },
    "LabelSelector": {
        1: F("matchLabels", "map"),
        2: F("matchExpressions", "LabelSelectorRequirement", repeated=True),
    },
    "LabelSelectorRequirement": {
        1: F("key", "s"),
        2: F("operator", "s"),
        3: F("values", "s", repeated=True),
    },
    # core/v1
    "Namespace": {
        1: F("metadata", "ObjectMeta"),
        2: F("spec", "NamespaceSpec"),
        3: F("status", "NamespaceStatus"),
    },
    "NamespaceSpec": {1: F("finalizers", "s", repeated=True)},
    "NamespaceStatus": {1: F("phase", "s")},
    "ConfigMap": {
        1: F("metadata", "ObjectMeta"),
        2: F("data", "map"),
        3: F("binaryData", "map-bytes"),
        4: F("immutable", "b", keep_zero=True),
    },
    "Secret": {
        1: F("metadata", "ObjectMeta"),
        2: F("data", "map-bytes"),
        3: F("type", "s"),
        4: F("stringData", "map"),
        5: F("immutable", "b", keep_zero=True),
    },
    "ServiceAccount": {
        1: F("metadata", "ObjectMeta"),
        2: F("secrets", "ObjectReference", repeated=True),
        3: F("imagePullSecrets", "LocalObjectReference", repeated=True),
        4: F("automountServiceAccountToken", "b", keep_zero=True),
    },
    "ObjectReference": {
        1: F("kind", "s"),
        2: F("namespace", "s"),
        3: F("name", "s"),
        4: F("uid", "s"),
        5: F("apiVersion", "s"),
        6: F("resourceVersion", "s"),
        7: F("fieldPath", "s"),
    },
    "LocalObjectReference": {1: F("name", "s")},
    "PodTemplateSpec": {1: F("metadata", "ObjectMeta"), 2: F("spec", "PodSpec")},
    "PodSpec": {
        2: F("containers", "Container", repeated=True),
        3: F("restartPolicy", "s"),
        4: F("terminationGracePeriodSeconds", "i", keep_zero=True),
        5: F("activeDeadlineSeconds", "i", keep_zero=True),
        6: F("dnsPolicy", "s"),
        7: F("nodeSelector", "map"),
        8: F("serviceAccountName", "s"),
        9: F("serviceAccount", "s"),
        10: F("nodeName", "s"),
        11: F("hostNetwork", "b"),
        12: F("hostPID", "b"),
        13: F("hostIPC", "b"),
        15: F("imagePullSecrets", "LocalObjectReference", repeated=True),
        16: F("hostname", "s"),
        17: F("subdomain", "s"),
        19: F("schedulerName", "s"),
        20: F("initContainers", "Container", repeated=True),
        21: F("automountServiceAccountToken", "b", keep_zero=True),
        24: F("priorityClassName", "s"),
        25: F("priority", "i", keep_zero=True),
        27: F("shareProcessNamespace", "b", keep_zero=True),
        29: F("runtimeClassName", "s"),
        30: F("enableServiceLinks", "b", keep_zero=True),
        35: F("setHostnameAsFQDN", "b", keep_zero=True),
        37: F("hostUsers", "b", keep_zero=True),
    },
    "Container": {
        1: F("name", "s"),
        2: F("image", "s"),
        3: F("command", "s", repeated=True),
        4: F("args", "s", repeated=True),
        5: F("workingDir", "s"),
        6: F("ports", "ContainerPort", repeated=True),
        7: F("env", "EnvVar", repeated=True),
        8: F("resources", "ResourceRequirements"),
        13: F("terminationMessagePath", "s"),
        14: F("imagePullPolicy", "s"),
        16: F("stdin", "b"),
        17: F("stdinOnce", "b"),
        18: F("tty", "b"),
        20: F("terminationMessagePolicy", "s"),
    },
    "ContainerPort": {
        1: F("name", "s"),
        2: F("hostPort", "i"),
        3: F("containerPort", "i"),
        4: F("protocol", "s"),
        5: F("hostIP", "s"),
    },
    "EnvVar": {1: F("name", "s"), 2: F("value", "s")},
    "ResourceRequirements": {1: F("limits", "map-quantity"), 2: F("requests", "map-quantity")},
    # apps/v1
    "Deployment": {
        1: F("metadata", "ObjectMeta"),
        2: F("spec", "DeploymentSpec"),
        3: F("status", "DeploymentStatus"),
    },
    "DeploymentSpec": {
        1: F("replicas", "i", keep_zero=True),
        2: F("selector", "LabelSelector"),
        3: F("template", "PodTemplateSpec"),
        4: F("strategy", "DeploymentStrategy"),
        5: F("minReadySeconds", "i"),
        6: F("revisionHistoryLimit", "i", keep_zero=True),
        7: F("paused", "b"),
        9: F("progressDeadlineSeconds", "i", keep_zero=True),
    },
    "DeploymentStrategy": {1: F("type", "s"), 2: F("rollingUpdate", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: F("maxUnavailable", "intstr"), 2: F("maxSurge", "intstr")},
    "DeploymentStatus": {
        1: F("observedGeneration", "i"),
        2: F("replicas", "i"),
        3: F("updatedReplicas", "i"),
        4: F("availableReplicas", "i"),
        5: F("unavailableReplicas", "i"),
        7: F("readyReplicas", "i"),
        8: F("collisionCount", "i", keep_zero=True),
    },
}

# (apiVersion, kind) of a body -> its message
KINDS: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): "Namespace",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("apps/v1", "Deployment"): "Deployment",
}

_SCALARS = {"s", "i", "b", "y"}


def decode(data: bytes) -> dict[str, Any]:
    """The JSON object of a protobuf request body; `Unsupported` says why not."""
    if not data.startswith(MAGIC):
        raise Unsupported("the protobuf body does not start with the 'k8s\\x00' prefix")
    envelope = _fields(memoryview(data)[len(MAGIC) :])
    type_meta = _fields(_last(envelope, 1) or b"")
    api_version = _text(_last(type_meta, 1) or b"")
    kind = _text(_last(type_meta, 2) or b"")
    if _last(envelope, 3) or _last(envelope, 4):
        raise Unsupported("protobuf bodies with a content encoding or type are not supported")
    message = KINDS.get((api_version, kind))
    if message is None:
        raise Unsupported(f"{kind or 'an object'} ({api_version}) is not accepted in protobuf here")
    obj = _message(message, _last(envelope, 2) or b"")
    return {"apiVersion": api_version, "kind": kind, **obj}


# -- the wire format -------------------------------------------------------------------------

Wire = dict[int, list[Any]]  # field number -> the values in order (int or memoryview)


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise Unsupported("truncated protobuf varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise Unsupported("protobuf varint longer than 64 bits")


def _fields(buf: bytes | memoryview) -> Wire:
    buf = memoryview(buf)
    out: Wire = {}
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, pos = _varint(buf, pos)
        elif wire_type == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise Unsupported("truncated protobuf field")
            value, pos = buf[pos : pos + size], pos + size
        elif wire_type in (1, 5):
            width = 8 if wire_type == 1 else 4
            value, pos = int.from_bytes(buf[pos : pos + width], "little"), pos + width
        else:
            raise Unsupported(f"protobuf wire type {wire_type} is not supported")
        out.setdefault(number, []).append(value)
    return out


def _last(wire: Wire, number: int) -> Any:
    values = wire.get(number)
    return values[-1] if values else None


def _text(raw: Any) -> str:
    if not isinstance(raw, bytes | memoryview):
        raise Unsupported("a protobuf string field has the wrong wire type")
    try:
        return bytes(raw).decode()
    except (UnicodeDecodeError, TypeError) as exc:
        raise Unsupported("a protobuf string is not UTF-8") from exc


def _int(raw: Any) -> int:
    if not isinstance(raw, int):
        raise Unsupported("a protobuf integer field has the wrong wire type")
    return raw - (1 << 64) if raw >= 1 << 63 else raw  # int32/int64 are two's complement


# -- messages -> JSON ------------------------------------------------------------------------


def _message(name: str, raw: Any) -> dict[str, Any]:
    table = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, values in _fields(raw).items():
        field = table.get(number)
        if field is None:
            if all(isinstance(v, memoryview) and not len(v) for v in values):
                continue  # an empty message the encoder always writes
            raise Unsupported(f"field {number} of {name} is not supported in protobuf here")
        decoded = [_value(field, v) for v in values]
        if field.repeated:
            out[field.name] = decoded
            continue
        value = decoded[-1]
        if field.kind.startswith("map"):
            value = {k: v for entry in decoded for k, v in entry.items()}
        if value is None or (field.kind in _SCALARS and not value and not field.keep_zero):
            continue
        out[field.name] = value
    return out


def _value(field: F, raw: Any) -> Any:
    kind = field.kind
    if kind == "s":
        return _text(raw)
    if kind == "i":
        return _int(raw)
    if kind == "b":
        return bool(_int(raw))
    if kind == "y":
        return base64.b64encode(bytes(raw)).decode()
    if kind == "time":
        wire = _fields(raw)
        seconds = _int(_last(wire, 1) or 0)
        if not seconds:
            return None  # Go's zero time: JSON null
        when = datetime.fromtimestamp(seconds, UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "quantity":
        return _text(_last(_fields(raw), 1) or b"")
    if kind == "intstr":
        wire = _fields(raw)
        if _int(_last(wire, 1) or 0) == 1:
            return _text(_last(wire, 3) or b"")
        return _int(_last(wire, 2) or 0)
    if kind in ("map", "map-bytes", "map-quantity"):
        entry = _fields(raw)
        key = _text(_last(entry, 1) or b"")
        value = _last(entry, 2) or b""
        if kind == "map":
            return {key: _text(value)}
        if kind == "map-bytes":
            return {key: base64.b64encode(bytes(value)).decode()}
        return {key: _text(_last(_fields(value), 1) or b"")}
    return _message(kind, raw)
