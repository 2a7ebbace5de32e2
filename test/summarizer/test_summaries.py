"""Unit tests of the pure status summarization (`edgemc.controllers.summaries`), no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edgemc.apis import edge
from edgemc.apis.meta import format_timestamp, validate_dns1123_subdomain, validate_label_value
from edgemc.controllers.summaries import (
    REASON_FAILED,
    REASON_MAILBOX_MISSING,
    REASON_NO_STATUS,
    REASON_NOT_CURRENT,
    REASON_NOT_PROJECTED,
    REASON_NOT_READY,
    REASON_STALE,
    DestinationState,
    Subject,
    aggregated_source_status,
    desired_summary,
    label_value,
    seconds_until_stale,
    summarize,
    summary_name,
    updated_summary,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
FRESH = format_timestamp(NOW - timedelta(seconds=5))
OLD = format_timestamp(NOW - timedelta(seconds=600))
THRESHOLD = 60.0
DEPLOYMENT = Subject("apps", "v1", "deployments", "Deployment", "commonstuff", "commond")
JOB = Subject("batch", "v1", "jobs", "Job", "ns", "j")
CONFIGMAP = Subject("", "v1", "configmaps", "ConfigMap", "ns", "cm")
SOURCE = {"kind": "Deployment", "metadata": {"name": "commond", "generation": 3}}


def copy(generation: int = 1, status: dict[str, Any] | None = None, **spec: Any) -> dict:
    obj: dict[str, Any] = {"metadata": {"generation": generation}, "spec": spec}
    if status is not None:
        obj["status"] = status
    return obj


def dest(
    name: str,
    copy_obj: dict | None = None,
    heartbeat: str | None = FRESH,
    mailbox_exists: bool = True,
) -> DestinationState:
    return DestinationState(
        sync_target_name=name,
        location_name=name,
        cluster="imw",
        mailbox=f"imw-mb-{name}",
        mailbox_exists=mailbox_exists,
        copy=copy_obj,
        heartbeat=heartbeat,
    )


def ready_copy(replicas: int = 1, generation: int = 1) -> dict:
    counts = {
        "observedGeneration": generation,
        "replicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "updatedReplicas": replicas,
    }
    return copy(generation, counts, replicas=replicas)


def test_seed_common_two_of_two_ready() -> None:
    status = summarize(
        DEPLOYMENT, SOURCE, [dest("florin", ready_copy()), dest("guilder", ready_copy())], NOW, 60
    )
    assert status == {
        "observedGeneration": 3,
        "destinations": 2,
        "reporting": 2,
        "current": 2,
        "ready": 2,
        "stale": 0,
        "missing": 0,
        "brokenCount": 0,
        "workload": {
            "replicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "updatedReplicas": 2,
        },
    }


def test_each_reason() -> None:
    dests = [
        dest("a", mailbox_exists=False, copy_obj=None),
        dest("b", None),
        dest("c", ready_copy(), heartbeat=OLD),
        dest("d", copy(1)),
        dest("e", copy(2, {"observedGeneration": 1, "readyReplicas": 1})),
        dest("f", copy(1, {"observedGeneration": 1, "readyReplicas": 0}, replicas=2)),
        dest("g", ready_copy(), heartbeat=None),
    ]
    status = summarize(DEPLOYMENT, SOURCE, dests, NOW, THRESHOLD)
    reasons = {b["syncTargetName"]: b["reason"] for b in status["broken"]}
    assert reasons == {
        "a": REASON_MAILBOX_MISSING,
        "b": REASON_NOT_PROJECTED,
        "c": REASON_STALE,
        "d": REASON_NO_STATUS,
        "e": REASON_NOT_CURRENT,
        "f": REASON_NOT_READY,
        "g": REASON_STALE,
    }
    assert (status["missing"], status["stale"], status["reporting"]) == (2, 2, 4)
    assert (status["current"], status["ready"], status["brokenCount"]) == (3, 0, 7)
    messages = {b["syncTargetName"]: b["message"] for b in status["broken"]}
    assert messages["c"] == f"last syncer heartbeat at {OLD}"
    assert messages["g"] == "no syncer heartbeat"
    later = summarize(DEPLOYMENT, SOURCE, dests, NOW + timedelta(seconds=7), THRESHOLD)
    assert later == status  # nothing in it depends on the time, beyond staleness


def test_jobs_and_kinds_without_counts() -> None:
    done = copy(1, {"succeeded": 1})
    failed = copy(1, {"failed": 2, "active": 1})
    status = summarize(JOB, {}, [dest("a", done), dest("b", failed)], NOW, THRESHOLD)
    assert status["workload"] == {"active": 1, "succeeded": 1, "failed": 2}
    assert [b["reason"] for b in status["broken"]] == [REASON_FAILED]
    plain = summarize(CONFIGMAP, {}, [dest("a", copy(1, {"x": 1}))], NOW, THRESHOLD)
    assert "workload" not in plain and plain["ready"] == 1


def test_daemonset_counts() -> None:
    ds = Subject("apps", "v1", "daemonsets", "DaemonSet", "ns", "d")
    status_in = {"desiredNumberScheduled": 2, "numberReady": 1, "numberAvailable": 1}
    status = summarize(ds, {}, [dest("a", copy(1, status_in))], NOW, THRESHOLD)
    assert status["workload"]["replicas"] == 2 and status["workload"]["readyReplicas"] == 1
    assert status["broken"][0]["reason"] == REASON_NOT_READY


def test_bad_input_never_raises() -> None:
    weird = copy(1, {"observedGeneration": "x", "readyReplicas": "many", "replicas": None})
    weird["metadata"]["generation"] = "?"
    status = summarize(DEPLOYMENT, {}, [dest("a", weird, heartbeat="not a time")], NOW, 1)
    assert status["stale"] == 1 and status["workload"]["readyReplicas"] == 0


def test_summary_names_are_dns_names_and_distinct() -> None:
    assert summary_name("apps", "deployments", "commond") == "deployments.apps-commond"
    assert summary_name("", "pods", "p") == "pods.core-p"
    tricky = [
        ("a-b.io", "foo", "x"),
        ("a", "foo", "b.io-x"),
        ("core", "pods", "p"),
        ("", "pods", "p"),
        ("apps", "deployments", "x" * 253),
        ("apps", "deployments", "x" * 252 + "y"),
    ]
    names = [summary_name(*t) for t in tricky]
    assert len(set(names)) == len(names)
    for name in names:
        assert validate_dns1123_subdomain(name) == [], name


@given(st.text(max_size=300))
def test_label_values_are_valid(text: str) -> None:
    assert validate_label_value(label_value(text)) == []


def test_desired_and_updated_summary() -> None:
    status = summarize(DEPLOYMENT, SOURCE, [dest("florin", ready_copy())], NOW, THRESHOLD)
    desired = desired_summary(DEPLOYMENT, ["edge-placement-c"], status)
    assert desired["metadata"]["labels"] == {
        edge.LABEL_SUBJECT_RESOURCE: "deployments.apps",
        edge.LABEL_SUBJECT_NAME: "commond",
        edge.LABEL_SUBJECT_NAMESPACE: "commonstuff",
        edge.LABEL_EDGE_PLACEMENT: "edge-placement-c",
    }
    edge.StatusSummary.model_validate(desired)  # the shape the CRD is generated from
    stored = {**desired, "metadata": {**desired["metadata"], "resourceVersion": "7", "uid": "u"}}
    assert updated_summary(stored, desired) is None
    stored["metadata"]["labels"] = {**desired["metadata"]["labels"], "mine": "x"}
    assert updated_summary(stored, desired) is None  # other labels are someone else's
    changed = {**desired, "status": {**status, "ready": 0}}
    update = updated_summary(stored, changed)
    assert update is not None and update["metadata"]["resourceVersion"] == "7"
    assert update["metadata"]["labels"]["mine"] == "x"


def test_aggregated_source_status() -> None:
    two = summarize(
        DEPLOYMENT, SOURCE, [dest("a", ready_copy()), dest("b", ready_copy())], NOW, THRESHOLD
    )
    source = {**SOURCE, "status": {"conditions": [{"type": "X"}]}}
    new = aggregated_source_status(source, two)
    assert new == {
        "conditions": [{"type": "X"}],
        "replicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "updatedReplicas": 2,
        "observedGeneration": 3,
    }
    assert aggregated_source_status({**source, "status": new}, two) is None
    behind = summarize(DEPLOYMENT, SOURCE, [dest("a", copy(1))], NOW, THRESHOLD)
    assert "observedGeneration" not in (aggregated_source_status(SOURCE, behind) or {})
    assert aggregated_source_status({"kind": "Job"}, two) is None


def test_seconds_until_stale() -> None:
    dests = [dest("a", heartbeat=FRESH), dest("b", heartbeat=OLD), dest("c", heartbeat=None)]
    assert seconds_until_stale(dests, NOW, THRESHOLD) == 55
    assert seconds_until_stale(dests[1:], NOW, THRESHOLD) is None


# -- properties -------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=50)
statuses = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "observedGeneration": st.integers(min_value=0, max_value=3),
            "replicas": counts,
            "readyReplicas": counts,
            "availableReplicas": counts,
            "updatedReplicas": counts,
        }
    ),
)
destinations = st.lists(
    st.builds(
        lambda i, exists, has_copy, gen, status, hb, replicas: dest(
            f"st-{i}",
            copy(gen, status, replicas=replicas) if has_copy else None,
            heartbeat=[FRESH, OLD, None][hb],
            mailbox_exists=exists,
        ),
        st.integers(min_value=0, max_value=10_000),
        st.booleans(),
        st.booleans(),
        st.integers(min_value=1, max_value=3),
        statuses,
        st.integers(min_value=0, max_value=2),
        st.integers(min_value=0, max_value=3),
    ),
    max_size=60,
    unique_by=lambda d: d.sync_target_name,
)


@settings(max_examples=200, deadline=None)
@given(destinations, st.randoms(use_true_random=False))
def test_summary_is_independent_of_order(dests: list[DestinationState], rnd: Any) -> None:
    shuffled = list(dests)
    rnd.shuffle(shuffled)
    assert summarize(DEPLOYMENT, SOURCE, dests, NOW, THRESHOLD) == summarize(
        DEPLOYMENT, SOURCE, shuffled, NOW, THRESHOLD
    )


@settings(max_examples=200, deadline=None)
@given(destinations, st.integers(min_value=0, max_value=25))
def test_broken_list_is_bounded_and_counts_add_up(
    dests: list[DestinationState], bound: int
) -> None:
    status = summarize(DEPLOYMENT, SOURCE, dests, NOW, THRESHOLD, max_broken=bound)
    assert len(status.get("broken", [])) == min(bound, status["brokenCount"])
    assert status["destinations"] == len(dests)
    assert status["reporting"] + status["missing"] <= status["destinations"]
    assert status["ready"] <= status["current"] <= status["reporting"]
    assert status["ready"] + status["brokenCount"] == status["destinations"]
    full = summarize(DEPLOYMENT, SOURCE, dests, NOW, THRESHOLD)
    assert len(full.get("broken", [])) <= edge.MAX_BROKEN_DESTINATIONS
    reporting = [d for d in dests if d.copy is not None and d.copy.get("status")]
    ready_sum = sum(d.copy["status"]["readyReplicas"] for d in reporting if d.mailbox_exists)
    assert full["workload"]["readyReplicas"] == ready_sum
