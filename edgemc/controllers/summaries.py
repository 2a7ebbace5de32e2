"""Pure status summarization: from cached mailbox copies to StatusSummary content (no I/O).

The status summarizer (`edgemc.controllers.summarizer`) gathers, for one placed workload
object (the *subject*), what every destination of its EdgePlacements holds: the mailbox
copy (with the status the edge syncer returned), and the heartbeat of the mailbox's syncer.
This module turns that into the summary and the source status to write.

Per destination, in order of precedence for the one reason listed:

* `MailboxMissing`: no mailbox workspace for the destination (yet); counts as missing.
* `NotProjected`: the mailbox has no copy of the subject (yet); counts as missing.
* `Stale`: SyncerConfig `the-one` has no `status.lastSyncerHeartbeatTime`, or it is older
  than the threshold; the status shown may be outdated. Counted whatever else holds.
* `NoStatus`: the copy carries no status (the edge has not reported).
* `NotCurrent`: the copy's `status.observedGeneration` is below its `metadata.generation`
  (a status without observedGeneration, e.g. a Job's, counts as current).
* `Failed` (Jobs with failed pods) and `NotReady` (fewer ready replicas than wanted).

Everything is order-independent: destinations are reduced with sums and the listed broken
ones are sorted, so the same inputs always give the same content (and so no extra write).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edgemc.apis import edge
from edgemc.apis.meta import parse_timestamp

Obj = dict[str, Any]

REASON_MAILBOX_MISSING = "MailboxMissing"
REASON_NOT_PROJECTED = "NotProjected"
REASON_STALE = "Stale"
REASON_NO_STATUS = "NoStatus"
REASON_NOT_CURRENT = "NotCurrent"
REASON_FAILED = "Failed"
REASON_NOT_READY = "NotReady"

REPLICATED_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet"})
"""Kinds whose summed counts can also be written into the source object's status."""
WORKLOAD_KINDS = REPLICATED_KINDS | {"DaemonSet", "Job"}

# DaemonSet status names for the counts that other workload kinds call *Replicas.
_DAEMONSET_COUNTS = {
    "replicas": "desiredNumberScheduled",
    "readyReplicas": "numberReady",
    "availableReplicas": "numberAvailable",
    "updatedReplicas": "updatedNumberScheduled",
}
_REPLICA_COUNTS = ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas")
_JOB_COUNTS = ("active", "succeeded", "failed")
SOURCE_STATUS_FIELDS = (*_REPLICA_COUNTS, "observedGeneration")
"""The fields of a source object's status that aggregation owns (others are left alone)."""

_MAX_NAME = 253
_DIGEST = 12
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Subject:
    """A placed workload object, by API coordinates (the summary lives in its workspace)."""

    group: str
    version: str
    resource: str
    kind: str
    namespace: str
    name: str

    @property
    def group_resource(self) -> str:
        """`<resource>.<group>`, or `<resource>` for the core group."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def reference(self) -> Obj:
        return edge.SubjectReference(
            group=self.group or None,
            version=self.version,
            resource=self.resource,
            kind=self.kind,
            namespace=self.namespace or None,
            name=self.name,
        ).to_dict()


@dataclass(frozen=True)
class DestinationState:
    """What the caches hold for one destination of a subject."""

    sync_target_name: str
    location_name: str
    cluster: str
    mailbox: str
    mailbox_exists: bool
    copy: Obj | None
    heartbeat: str | None  # SyncerConfig the-one's status.lastSyncerHeartbeatTime


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_DIGEST]


def summary_name(group: str, resource: str, name: str) -> str:
    """The StatusSummary name of a subject: `<resource>.<group or core>-<name>`.

    That form is used when neither resource nor group has a `-` (so the first `-` ends them)
    and it fits in 253 characters; otherwise `<digest>-<truncated form>`, whose first
    segment has no `.` and so never equals a plain name. Distinct subjects get distinct names.
    """
    shown = group or "core"
    plain = f"{resource}.{shown}-{name}"
    plain_ok = "-" not in resource and "-" not in shown and group != "core"
    if plain_ok and len(plain) <= _MAX_NAME:
        return plain
    digest = _digest(f"{group}/{resource}/{name}")
    tail = plain[: _MAX_NAME - _DIGEST - 1].rstrip("-.")
    return f"{digest}-{tail}"


def label_value(text: str) -> str:
    """`text` if it is a valid label value, else a digest form that is one."""
    if len(text) <= 63 and _LABEL_VALUE.match(text):
        return text
    return f"h-{_digest(text)}"


def summary_labels(subject: Subject, placements: Sequence[str]) -> dict[str, str]:
    labels = {
        edge.LABEL_SUBJECT_RESOURCE: label_value(subject.group_resource),
        edge.LABEL_SUBJECT_NAME: label_value(subject.name),
    }
    if subject.namespace:
        labels[edge.LABEL_SUBJECT_NAMESPACE] = subject.namespace
    if placements:
        labels[edge.LABEL_EDGE_PLACEMENT] = label_value(min(placements))
    return labels


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def heartbeat_age(heartbeat: str | None, now: datetime) -> float | None:
    """Seconds since `heartbeat`, None when absent or unreadable."""
    if not heartbeat:
        return None
    try:
        return (now - parse_timestamp(heartbeat)).total_seconds()
    except (ValueError, TypeError):
        return None


def is_stale(heartbeat: str | None, now: datetime, threshold: float) -> bool:
    age = heartbeat_age(heartbeat, now)
    return age is None or age > threshold


def workload_counts(kind: str, status: Obj) -> dict[str, int]:
    """The counts of one edge copy's status, under the StatusSummary's names."""
    if kind == "Job":
        return {k: _int(status.get(k)) for k in _JOB_COUNTS}
    if kind == "DaemonSet":
        return {k: _int(status.get(v)) for k, v in _DAEMONSET_COUNTS.items()}
    return {k: _int(status.get(k)) for k in _REPLICA_COUNTS}


def _wanted(kind: str, copy: Obj, status: Obj) -> int:
    spec = copy.get("spec") or {}
    if kind == "Job":
        completions = spec.get("completions")
        return completions if isinstance(completions, int) else 1
    if kind == "DaemonSet":
        return _int(status.get("desiredNumberScheduled"))
    replicas = spec.get("replicas")
    return replicas if isinstance(replicas, int) else 1


@dataclass(frozen=True)
class DestinationVerdict:
    """One destination, classified."""

    reporting: bool
    current: bool
    ready: bool
    stale: bool
    missing: bool
    reason: str | None  # None = healthy
    message: str
    counts: dict[str, int] | None


def classify(
    kind: str, dest: DestinationState, now: datetime, threshold: float
) -> DestinationVerdict:
    """Classify one destination (see the module docstring for the reasons)."""
    stale = is_stale(dest.heartbeat, now, threshold)
    if not dest.mailbox_exists:
        msg = f"mailbox workspace {dest.mailbox} not found"
        return DestinationVerdict(
            False, False, False, stale, True, REASON_MAILBOX_MISSING, msg, None
        )
    if dest.copy is None:
        msg = f"no copy in mailbox {dest.mailbox}"
        return DestinationVerdict(False, False, False, stale, True, REASON_NOT_PROJECTED, msg, None)
    status = dest.copy.get("status")
    reporting = isinstance(status, dict) and bool(status)
    status = status if isinstance(status, dict) else {}
    generation = _int((dest.copy.get("metadata") or {}).get("generation"))
    observed = status.get("observedGeneration")
    current = reporting and (not isinstance(observed, int) or observed >= generation)
    counts = workload_counts(kind, status) if reporting and kind in WORKLOAD_KINDS else None
    problem: tuple[str, str] | None = None
    if kind in WORKLOAD_KINDS and counts is not None:
        wanted = _wanted(kind, dest.copy, status)
        if kind == "Job":
            if counts["failed"] > 0:
                problem = (REASON_FAILED, f"{counts['failed']} failed pods")
            elif counts["succeeded"] < wanted:
                problem = (REASON_NOT_READY, f"{counts['succeeded']}/{wanted} completions")
        elif counts["readyReplicas"] < wanted:
            problem = (REASON_NOT_READY, f"{counts['readyReplicas']}/{wanted} replicas ready")
    if stale:
        # The time, not the age: an age would change the summary at every reconcile.
        known = heartbeat_age(dest.heartbeat, now) is not None
        when = f"last syncer heartbeat at {dest.heartbeat}" if known else "no syncer heartbeat"
        reason, message = REASON_STALE, when
    elif not reporting:
        reason, message = REASON_NO_STATUS, "the edge has not reported status"
    elif not current:
        reason, message = REASON_NOT_CURRENT, f"edge observed generation {observed} < {generation}"
    elif problem is not None:
        reason, message = problem
    else:
        reason, message = None, ""
    ready = reason is None
    return DestinationVerdict(reporting, current, ready, stale, False, reason, message, counts)


def summarize(
    subject: Subject,
    source: Obj,
    destinations: Iterable[DestinationState],
    now: datetime,
    threshold: float,
    max_broken: int = edge.MAX_BROKEN_DESTINATIONS,
) -> Obj:
    """The `status` of the subject's StatusSummary (JSON form)."""
    totals = {"destinations": 0, "reporting": 0, "current": 0, "ready": 0, "stale": 0}
    missing = 0
    broken: list[tuple[str, str, str, Obj]] = []
    workload: dict[str, int] | None = {} if subject.kind in WORKLOAD_KINDS else None
    for dest in destinations:
        verdict = classify(subject.kind, dest, now, threshold)
        totals["destinations"] += 1
        totals["reporting"] += verdict.reporting
        totals["current"] += verdict.current
        totals["ready"] += verdict.ready
        totals["stale"] += verdict.stale
        missing += verdict.missing
        if workload is not None and verdict.counts is not None:
            for name, value in verdict.counts.items():
                workload[name] = workload.get(name, 0) + value
        if verdict.reason is not None:
            entry = edge.BrokenDestination(
                sync_target_name=dest.sync_target_name,
                location_name=dest.location_name or None,
                cluster=dest.cluster,
                mailbox=dest.mailbox or None,
                reason=verdict.reason,
                message=verdict.message or None,
            ).to_dict()
            broken.append((dest.sync_target_name, dest.cluster, dest.location_name, entry))
    broken.sort(key=lambda b: b[:3])
    status = edge.StatusSummaryStatus(
        observed_generation=(source.get("metadata") or {}).get("generation"),
        missing=missing,
        broken_count=len(broken),
        **totals,
    ).to_dict()
    if broken:
        status["broken"] = [entry for *_, entry in broken[:max_broken]]
    if workload is not None:
        if not workload:
            names = _JOB_COUNTS if subject.kind == "Job" else _REPLICA_COUNTS
            workload = dict.fromkeys(names, 0)
        status["workload"] = edge.WorkloadCounts.model_validate(workload).to_dict()
    return status


def desired_summary(
    subject: Subject,
    placements: Sequence[str],
    status: Obj,
) -> Obj:
    """The whole StatusSummary object (without server metadata) for a subject."""
    return {
        "apiVersion": edge.API_VERSION,
        "kind": edge.StatusSummary.descriptor.kind,
        "metadata": {
            "name": summary_name(subject.group, subject.resource, subject.name),
            "namespace": subject.namespace,
            "labels": summary_labels(subject, placements),
        },
        "subject": subject.reference(),
        "placements": sorted(placements),
        "status": status,
    }


def updated_summary(current: Obj, desired: Obj) -> Obj | None:
    """`current` made equal to `desired` in what the summarizer owns; None if it already is."""
    meta = current.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    wanted_labels = desired["metadata"]["labels"]
    same = all(labels.get(k) == v for k, v in wanted_labels.items()) and all(
        current.get(k) == desired[k] for k in ("subject", "placements", "status")
    )
    if same:
        return None
    labels.update(wanted_labels)
    out = dict(current)
    out["metadata"] = {**meta, "labels": labels}
    for key in ("subject", "placements", "status"):
        out[key] = desired[key]
    return out


def aggregated_source_status(source: Obj, summary_status: Obj) -> Obj | None:
    """The source object's status with the summed counts, or None if it already has them.

    Only for Deployments, ReplicaSets and StatefulSets; `observedGeneration` is the source's
    generation once every destination is current (as Karmada does), else left as it was.
    """
    if source.get("kind") not in REPLICATED_KINDS:
        return None
    counts = summary_status.get("workload") or {}
    status = dict(source.get("status") or {})
    wanted = {k: _int(counts.get(k)) for k in _REPLICA_COUNTS}
    destinations = summary_status.get("destinations", 0)
    generation = (source.get("metadata") or {}).get("generation")
    if destinations and summary_status.get("current") == destinations and generation:
        wanted["observedGeneration"] = generation
    if all(status.get(k) == v for k, v in wanted.items()):
        return None
    status.update(wanted)
    return status


def seconds_until_stale(
    destinations: Iterable[DestinationState], now: datetime, threshold: float
) -> float | None:
    """When the first destination that is fresh now turns stale (None: none will)."""
    soonest: float | None = None
    for dest in destinations:
        age = heartbeat_age(dest.heartbeat, now)
        if age is None or age > threshold:
            continue
        left = threshold - age
        soonest = left if soonest is None else min(soonest, left)
    return soonest
