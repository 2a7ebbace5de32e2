"""Warning Events about objects the placement translator cannot use, each recorded once.

An object the API server accepted may still be unusable here: a Customizer whose JSONPath or
value cannot be applied, a workload object naming a Customizer that does not exist, a copy
the mailbox refuses, an EdgePlacement naming resources that are never propagated. The
translator goes on with everything else and says so with a Warning Event next to the object
(its namespace, or `default` for a cluster-scoped object), where `kubectl describe` and
`kubectl get events` show it, with `involvedObject` pointing at it.

Reconciles repeat, so the same (object, reason, message) is recorded once per process: the
last `remember` of them are kept (an LRU set), which bounds the memory whatever the input and
lets a problem that went away and came back be recorded again eventually.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from edgemc.apis.meta import format_timestamp
from edgemc.controllers import resources as r
from edgemc.runtime import ApiError, Client, get_logger

log = get_logger("edgemc.controllers.placement")

Obj = dict[str, Any]

# Event names are `<object name>.<hex nanoseconds>` (kubectl's recorder), cut to fit 253.
_MAX_NAME = 253
# Upstream's recorder limits an Event message to 1 KiB; a longer one is cut.
MAX_MESSAGE = 1024


def event_name(object_name: str) -> str:
    """A fresh Event name for an object (a valid DNS subdomain when the object's name is)."""
    suffix = f".{time.time_ns():x}"
    prefix = object_name[: _MAX_NAME - len(suffix)].rstrip("-.")
    return f"{prefix or 'event'}{suffix}"


def warning_event(
    involved: Obj, api_version: str, kind: str, reason: str, message: str, component: str
) -> Obj:
    """A core/v1 Warning Event about `involved`, an object of `api_version` and `kind` as the
    API returned it (list items may lack their apiVersion and kind, so they are given)."""
    meta = involved.get("metadata") or {}
    now = format_timestamp()
    ref = {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": event_name(meta.get("name") or ""),
            "namespace": meta.get("namespace") or "default",
        },
        "involvedObject": {k: v for k, v in ref.items() if v},
        "reason": reason,
        "message": message,
        "type": "Warning",
        "source": {"component": component},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


@dataclass(frozen=True)
class Report:
    """A Warning to record: about `involved` (of `api_version`, `kind`) in `cluster`."""

    cluster: str
    involved: Obj
    api_version: str
    kind: str
    reason: str
    message: str


class EventRecorder:
    """Records Warning Events through `client` (any logical cluster), each once."""

    def __init__(self, client: Client, component: str, *, remember: int = 4096) -> None:
        self.client = client
        self.component = component
        self.remember = remember
        self._recorded: OrderedDict[tuple[str, ...], None] = OrderedDict()

    async def warn(
        self, cluster: str, involved: Obj, api_version: str, kind: str, reason: str, message: str
    ) -> None:
        """Record a Warning Event about `involved` (of `api_version` and `kind`) in logical
        cluster `cluster`, unless this process recorded the same one already (or is
        recording it). Never raises: a failure is logged, and the next call tries again."""
        meta = involved.get("metadata") or {}
        key = (
            cluster,
            kind,
            str(meta.get("namespace") or ""),
            str(meta.get("name")),
            str(meta.get("uid")),
            reason,
            message,
        )
        if key in self._recorded:
            self._recorded.move_to_end(key)
            return
        self._recorded[key] = None
        if len(self._recorded) > self.remember:
            self._recorded.popitem(last=False)
        event = warning_event(involved, api_version, kind, reason, message, self.component)
        try:
            await self.client.cluster(cluster).create(
                r.EVENTS, event, event["metadata"]["namespace"]
            )
        except ApiError as err:
            self._recorded.pop(key, None)
            log.error("Cannot record Event", err, cluster=cluster, reason=reason, about=key[3])

    async def record(self, report: Report) -> None:
        """`warn` with the fields of `report`."""
        await self.warn(
            report.cluster,
            report.involved,
            report.api_version,
            report.kind,
            report.reason,
            report.message,
        )
