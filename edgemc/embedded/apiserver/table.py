"""Server-side printing: `meta.k8s.io/v1` Tables with the columns kubectl shows upstream.

Built-in kinds get upstream's printer columns (names as upstream spells them; kubectl
upper-cases them). The native printers are keyed by group/resource, so a kind served from a
schema (kcp's `deployments.apps` APIResourceSchema) keeps its familiar columns, as kcp does.
Other custom types print `Name` plus their CRD `additionalPrinterColumns` (`Age` when the CRD
has none, as apiextensions defaults it); a column of type `date` shows an age, a missing
value is a null cell (kubectl prints it empty).

JSONPath: the simple subset CRD printer columns use, implemented here: `.a.b`, `.a['k']`,
`.a["k"]` (backslash escapes such as `x\\.y` taken literally), `.a\\.b`, `[0]`, `[*]`,
`[?(@.f=="v")]` / `!=`, optional `{...}` braces. The first match is printed.

AGE cells follow kubectl's human-readable durations (`5s`, `2m4s`, `57m`, `8h`, `3d`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from edgemc.apis.meta import SelectorError, selector_from_label_selector
from edgemc.embedded.apiserver.resources import ResourceType

Obj = dict[str, Any]
Column = dict[str, Any]

NONE = "<none>"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def to_table(
    rt: ResourceType,
    objects: Iterable[Obj],
    *,
    include_object: str = "Metadata",
    now: datetime | None = None,
    resource_version: str = "",
    continue_token: str = "",
) -> dict[str, Any]:
    """A Table of `objects`; rows carry PartialObjectMetadata, the object, or nothing."""
    now = now or datetime.now(UTC)
    columns, row_cells = printer_for(rt)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": row_cells(obj, now)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata") or {},
            }
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [dict(c) for c in columns],
        "rows": rows,
    }


RowCells = Callable[[Obj, datetime], list[Any]]


def printer_for(rt: ResourceType) -> tuple[list[Column], RowCells]:
    """Column definitions and a row function for a type."""
    native = NATIVE_PRINTERS.get((rt.group, rt.resource))
    if native is not None:
        return native
    if rt.builtin:
        return _DEFAULT_PRINTER
    return _custom_printer(rt.printer_columns or (AGE_PRINTER_COLUMN,))


def human_duration(seconds: float) -> str:
    """kubectl's human-readable duration (apimachinery `duration.HumanDuration`)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes, hours = s // 60, s // 3600
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def age(timestamp: Any, now: datetime) -> str:
    """An RFC 3339 timestamp as an age (`<unknown>` when absent or unparsable)."""
    when = parse_time(timestamp)
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


def parse_time(timestamp: Any) -> datetime | None:
    if not isinstance(timestamp, str) or not timestamp:
        return None
    try:
        when = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# JSONPath subset
# --------------------------------------------------------------------------------------------

_STEP = re.compile(
    r"""\.(?P<field>(?:\\.|[^.\[\\])+)        # .name, with \. escapes
      | \[\s*(?P<q>['"])(?P<key>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*\]   # ['key'] / ["key"]
      | \[\s*(?P<index>-?\d+)\s*\]                # [0]
      | \[\s*\*\s*\]|\.\*                         # [*] / .*
      | \[\?\(@(?P<fpath>(?:\.[^=!)\s]+)+)\s*(?P<op>==|!=)\s*(?P<lit>'[^']*'|"[^"]*"|[^)\s]+)\s*\)\]
    """,
    re.X,
)


class JSONPathError(ValueError):
    """A printer-column JSONPath outside the supported subset."""


def compile_jsonpath(expression: str) -> Callable[[Any], list[Any]]:
    """A function returning every value `expression` selects in a document."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    text = text.removeprefix("$")
    steps: list[Callable[[Any], list[Any]]] = []
    pos = 0
    while pos < len(text):
        match = _STEP.match(text, pos)
        if match is None:
            raise JSONPathError(f"unsupported JSONPath {expression!r} at {text[pos:]!r}")
        steps.append(_step(match))
        pos = match.end()

    def evaluate(doc: Any) -> list[Any]:
        current = [doc]
        for step in steps:
            current = [out for value in current for out in step(value)]
        return current

    return evaluate


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _step(match: re.Match[str]) -> Callable[[Any], list[Any]]:
    name = match.group("field")
    key = match.group("key")
    if name is not None or key is not None:
        wanted = _unescape(name if name is not None else key)
        return lambda v: [v[wanted]] if isinstance(v, dict) and wanted in v else []
    if match.group("index") is not None:
        index = int(match.group("index"))
        return lambda v: [v[index]] if isinstance(v, list) and -len(v) <= index < len(v) else []
    if match.group("fpath") is not None:
        sub = compile_jsonpath(match.group("fpath"))
        literal = match.group("lit")
        if literal[0] in "'\"":
            expected: Any = literal[1:-1]
        else:
            expected = orjson.loads(literal)
        negate = match.group("op") == "!="

        def keep(item: Any) -> bool:
            found = sub(item)
            return (bool(found) and found[0] == expected) != negate

        return lambda v: [i for i in v if keep(i)] if isinstance(v, list) else []
    return lambda v: (
        list(v.values()) if isinstance(v, dict) else list(v) if isinstance(v, list) else []
    )


# --------------------------------------------------------------------------------------------
# Columns and cells
# --------------------------------------------------------------------------------------------


def _col(
    name: str, description: str, type_: str = "string", priority: int = 0, fmt: str = ""
) -> Column:
    return {
        "name": name,
        "type": type_,
        "format": fmt,
        "description": description,
        "priority": priority,
    }


NAME = _col("Name", "The object's name, unique within its namespace.", fmt="name")
AGE = _col("Age", "Time since the object was created (metadata.creationTimestamp).")
CREATED_AT = _col("Created At", "When the object was created (RFC 3339, UTC).", "date")
AGE_PRINTER_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def _get(obj: Any, *keys: str | int, default: Any = None) -> Any:
    for key in keys:
        if isinstance(obj, dict) and isinstance(key, str):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and 0 <= key < len(obj):
            obj = obj[key]
        else:
            return default
        if obj is None:
            return default
    return obj


def _name(obj: Obj) -> str:
    return _get(obj, "metadata", "name", default="")


def _created(obj: Obj, now: datetime) -> str:
    return age(_get(obj, "metadata", "creationTimestamp"), now)


def _len(value: Any) -> int:
    return len(value) if isinstance(value, dict | list) else 0


def _config_keys(obj: Obj) -> int:
    return _len(obj.get("data")) + _len(obj.get("binaryData"))


def format_label_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector: `app=x,tier in (a,b)`, `<none>` for none or empty."""
    try:
        text = str(selector_from_label_selector(selector)) if selector is not None else ""
    except SelectorError:
        return "<error>"
    return text or NONE


def _containers_images(spec: Obj | None) -> list[str]:
    containers = [c for c in _get(spec, "containers", default=[]) if isinstance(c, dict)]
    return [
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
    ]


_CONTAINERS = _col("Containers", "Names of each container in the template.", priority=1)
_IMAGES = _col("Images", "Images referenced by each container in the template.", priority=1)
_SELECTOR = _col("Selector", "Label selector for pods.", priority=1)


def _deployment_row(obj: Obj, now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        _name(obj),
        f"{status.get('readyReplicas') or 0}/{spec.get('replicas') or 0}",
        status.get("updatedReplicas") or 0,
        status.get("availableReplicas") or 0,
        _created(obj, now),
        *_containers_images(_get(spec, "template", "spec")),
        format_label_selector(spec.get("selector")),
    ]


def _replicaset_row(obj: Obj, now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        _name(obj),
        spec.get("replicas") or 0,
        status.get("replicas") or 0,
        status.get("readyReplicas") or 0,
        _created(obj, now),
        *_containers_images(_get(spec, "template", "spec")),
        format_label_selector(spec.get("selector")),
    ]


def _pod_row(obj: Obj, now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    reason = status.get("reason") or status.get("phase") or ""
    restarts, last_restart = 0, None
    initializing = False
    init_specs = spec.get("initContainers") or []
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += cs.get("restartCount") or 0
        last_restart = _later(last_restart, _get(cs, "lastState", "terminated", "finishedAt"))
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        if _is_sidecar(init_specs, cs.get("name")) and cs.get("started"):
            continue
        initializing = True
        if terminated:
            reason = "Init:" + (terminated.get("reason") or _exit_reason(terminated))
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        break
    ready = 0
    if not initializing or _condition_true(status, "Initialized"):
        restarts, has_running = 0, False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount") or 0
            last_restart = _later(last_restart, _get(cs, "lastState", "terminated", "finishedAt"))
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated:
                reason = terminated.get("reason") or _exit_reason(terminated)
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"
    if _get(obj, "metadata", "deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    restart_cell = str(restarts)
    if last_restart is not None:
        restart_cell += f" ({human_duration((now - last_restart).total_seconds())} ago)"
    gates = spec.get("readinessGates") or []
    gates_cell = NONE
    if gates:
        true = sum(1 for g in gates if _condition_true(status, g.get("conditionType")))
        gates_cell = f"{true}/{len(gates)}"
    return [
        _name(obj),
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        restart_cell,
        _created(obj, now),
        status.get("podIP") or NONE,
        spec.get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        gates_cell,
    ]


def _later(current: datetime | None, timestamp: Any) -> datetime | None:
    when = parse_time(timestamp)
    if when is None:
        return current
    return when if current is None or when > current else current


def _is_sidecar(init_specs: list[Any], name: Any) -> bool:
    return any(
        isinstance(c, dict) and c.get("name") == name and c.get("restartPolicy") == "Always"
        for c in init_specs
    )


def _exit_reason(terminated: Obj) -> str:
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return f"ExitCode:{terminated.get('exitCode', 0)}"


def _condition_true(status: Obj, type_: Any) -> bool:
    return any(
        isinstance(c, dict) and c.get("type") == type_ and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def _service_row(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    external = list(spec.get("externalIPs") or [])
    if stype == "LoadBalancer":
        ingress = _get(obj, "status", "loadBalancer", "ingress", default=[])
        lb = [i.get("ip") or i.get("hostname") for i in ingress if isinstance(i, dict)]
        external = [a for a in lb if a] + external
        external_cell = ",".join(external) if external else "<pending>"
    elif stype == "ExternalName":
        external_cell = spec.get("externalName") or NONE
    else:
        external_cell = ",".join(external) if external else NONE
    ports = []
    for port in spec.get("ports") or []:
        protocol = port.get("protocol") or "TCP"
        node = f":{port['nodePort']}" if port.get("nodePort") else ""
        ports.append(f"{port.get('port')}{node}/{protocol}")
    selector = spec.get("selector") or {}
    return [
        _name(obj),
        stype,
        spec.get("clusterIP") or NONE,
        external_cell,
        ",".join(ports) if ports else NONE,
        _created(obj, now),
        ",".join(f"{k}={selector[k]}" for k in sorted(selector)) if selector else NONE,
    ]


def _event_row(obj: Obj, now: datetime) -> list[Any]:
    first = obj.get("firstTimestamp") or obj.get("eventTime")
    last = (
        _get(obj, "series", "lastObservedTime") or obj.get("lastTimestamp") or obj.get("eventTime")
    )
    first_seen, last_seen = age(first, now), age(last, now)
    count = obj.get("count") or _get(obj, "series", "count") or 1
    if count > 1:
        last_seen = f"{last_seen} (x{count} over {first_seen})"
    involved = obj.get("involvedObject") or {}
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    host = source.get("host") or ""
    return [
        last_seen,
        obj.get("type") or "",
        obj.get("reason") or "",
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        involved.get("fieldPath") or "",
        f"{component}, {host}" if host else component,
        (obj.get("message") or "").strip(),
        first_seen,
        count,
        _name(obj),
    ]


def _quota_row(obj: Obj, now: datetime) -> list[Any]:
    hard = _get(obj, "status", "hard", default={})
    used = _get(obj, "status", "used", default={})
    requests, limits = [], []
    for resource in sorted(hard):
        target = limits if resource.split(".")[0] == "limits" and "." in resource else requests
        target.append(f"{resource}: {used.get(resource, '0')}/{hard[resource]}")
    return [_name(obj), _created(obj, now), ", ".join(requests), ", ".join(limits)]


def _binding_row(obj: Obj, now: datetime) -> list[Any]:
    ref = obj.get("roleRef") or {}
    subjects = [s for s in obj.get("subjects") or [] if isinstance(s, dict)]

    def names(kind: str) -> str:
        return ", ".join(s.get("name", "") for s in subjects if s.get("kind") == kind)

    accounts = ", ".join(
        f"{s.get('namespace', '')}/{s.get('name', '')}"
        for s in subjects
        if s.get("kind") == "ServiceAccount"
    )
    return [
        _name(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _created(obj, now),
        names("User"),
        names("Group"),
        accounts,
    ]


def _ingress_row(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    rules = [r for r in spec.get("rules") or [] if isinstance(r, dict)]
    hosts = [r["host"] for r in rules if r.get("host")][:3]
    hosts_cell = ",".join(hosts) if hosts else "*"
    if len(rules) > 3 and len(hosts) == 3:
        hosts_cell += f" + {len(rules) - 3} more..."
    ingress = _get(obj, "status", "loadBalancer", "ingress", default=[])
    addresses = [i.get("ip") or i.get("hostname") for i in ingress if isinstance(i, dict)]
    return [
        _name(obj),
        spec.get("ingressClassName") or NONE,
        hosts_cell,
        ",".join(a for a in addresses if a),
        "80, 443" if spec.get("tls") else "80",
        _created(obj, now),
    ]


def _created_at_row(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), _get(obj, "metadata", "creationTimestamp")]


_DEFAULT_PRINTER: tuple[list[Column], RowCells] = ([NAME, CREATED_AT], _created_at_row)
_BINDING_COLUMNS = [
    NAME,
    _col("Role", "Role referenced by this binding."),
    AGE,
    _col("Users", "Users in the binding.", priority=1),
    _col("Groups", "Groups in the binding.", priority=1),
    _col("ServiceAccounts", "ServiceAccounts in the binding.", priority=1),
]

NATIVE_PRINTERS: dict[tuple[str, str], tuple[list[Column], RowCells]] = {
    ("", "namespaces"): (
        [NAME, _col("Status", "The status of the namespace."), AGE],
        lambda o, now: [_name(o), _get(o, "status", "phase", default=""), _created(o, now)],
    ),
    ("", "configmaps"): (
        [NAME, _col("Data", "Number of keys.", "integer"), AGE],
        lambda o, now: [_name(o), _config_keys(o), _created(o, now)],
    ),
    ("", "secrets"): (
        [NAME, _col("Type", "Secret type."), _col("Data", "Number of keys.", "integer"), AGE],
        lambda o, now: [_name(o), o.get("type") or "", _len(o.get("data")), _created(o, now)],
    ),
    ("", "serviceaccounts"): (
        [NAME, _col("Secrets", "Number of secrets.", "integer"), AGE],
        lambda o, now: [_name(o), _len(o.get("secrets")), _created(o, now)],
    ),
    ("", "services"): (
        [
            NAME,
            _col("Type", "The type of the service."),
            _col("Cluster-IP", "The cluster IP of the service."),
            _col("External-IP", "The external IPs of the service."),
            _col("Port(s)", "The ports of the service."),
            AGE,
            _col("Selector", "Labels of the pods traffic goes to.", priority=1),
        ],
        _service_row,
    ),
    ("", "pods"): (
        [
            NAME,
            _col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
            _col("Status", "The aggregate status of the containers in this pod."),
            _col("Restarts", "Container restarts, and how long ago the last one was."),
            AGE,
            _col("IP", "IP address allocated to the pod.", priority=1),
            _col("Node", "Name of the Node the Pod is assigned to.", priority=1),
            _col("Nominated Node", "Node nominated by preemption.", priority=1),
            _col("Readiness Gates", "Pod readiness gates.", priority=1),
        ],
        _pod_row,
    ),
    ("", "events"): (
        [
            _col("Last Seen", "The last time this event was observed."),
            _col("Type", "Type of this event (Normal, Warning)."),
            _col("Reason", "Why the action was taken."),
            _col("Object", "The object this event is about."),
            _col("Subobject", "The subobject this event is about.", priority=1),
            _col("Source", "The component reporting this event.", priority=1),
            _col("Message", "A human-readable description of the status of this operation."),
            _col("First Seen", "The first time this event was observed.", priority=1),
            _col("Count", "The number of times this event has occurred.", "integer", priority=1),
            dict(NAME, priority=1),
        ],
        _event_row,
    ),
    ("", "limitranges"): ([NAME, CREATED_AT], _created_at_row),
    ("", "resourcequotas"): (
        [
            NAME,
            AGE,
            _col("Request", "Used/hard of request quotas."),
            _col("Limit", "Used/hard of limit quotas."),
        ],
        _quota_row,
    ),
    ("rbac.authorization.k8s.io", "roles"): ([NAME, CREATED_AT], _created_at_row),
    ("rbac.authorization.k8s.io", "clusterroles"): ([NAME, CREATED_AT], _created_at_row),
    ("rbac.authorization.k8s.io", "rolebindings"): (_BINDING_COLUMNS, _binding_row),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): (_BINDING_COLUMNS, _binding_row),
    ("apps", "deployments"): (
        [
            NAME,
            _col("Ready", "Number of the pod with ready state."),
            _col("Up-to-date", "Replicas with the current template.", "integer"),
            _col("Available", "Available replicas.", "integer"),
            AGE,
            _CONTAINERS,
            _IMAGES,
            _SELECTOR,
        ],
        _deployment_row,
    ),
    ("apps", "replicasets"): (
        [
            NAME,
            _col("Desired", "Number of desired pods.", "integer"),
            _col("Current", "Number of actual replicas.", "integer"),
            _col("Ready", "The number of ready replicas for this replica set.", "integer"),
            AGE,
            _CONTAINERS,
            _IMAGES,
            _SELECTOR,
        ],
        _replicaset_row,
    ),
    ("coordination.k8s.io", "leases"): (
        [NAME, _col("Holder", "The holder of the lease."), AGE],
        lambda o, now: [_name(o), _get(o, "spec", "holderIdentity", default=""), _created(o, now)],
    ),
    ("networking.k8s.io", "ingresses"): (
        [
            NAME,
            _col("Class", "The name of the IngressClass resource."),
            _col("Hosts", "Hosts that incoming requests are matched against."),
            _col("Address", "Address is a list containing ingress points for the load-balancer."),
            _col("Ports", "Ports of TLS configurations that open."),
            AGE,
        ],
        _ingress_row,
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions"): ([NAME, CREATED_AT], _created_at_row),
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Custom (CRD additionalPrinterColumns) printers
# --------------------------------------------------------------------------------------------


def _custom_printer(printer_columns: Iterable[dict[str, Any]]) -> tuple[list[Column], RowCells]:
    columns = [NAME]
    cells: list[Callable[[Obj, datetime], Any]] = []
    for spec in printer_columns:
        ctype = spec.get("type") or "string"
        columns.append(
            {
                "name": spec.get("name", ""),
                "type": ctype,
                "format": spec.get("format") or "",
                "description": spec.get("description") or "",
                "priority": spec.get("priority") or 0,
            }
        )
        try:
            find = compile_jsonpath(spec.get("jsonPath") or "")
        except JSONPathError:
            find = _nothing
        cells.append(_cell_function(find, ctype))

    def row(obj: Obj, now: datetime) -> list[Any]:
        return [_name(obj), *(cell(obj, now) for cell in cells)]

    return columns, row


def _nothing(_doc: Any) -> list[Any]:
    return []


def _cell_function(find: Callable[[Any], list[Any]], ctype: str) -> Callable[[Obj, datetime], Any]:
    def cell(obj: Obj, now: datetime) -> Any:
        found = find(obj)
        if not found or found[0] is None:
            return None
        value = found[0]
        if ctype == "date":
            return age(value, now) if parse_time(value) else "<invalid>"
        if ctype == "string":
            return _text(value)
        if ctype == "integer" and isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    return cell


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return str(value)
