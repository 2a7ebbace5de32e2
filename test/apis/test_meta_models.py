"""The metav1 pydantic models: Kubernetes JSON names, lossless round trips, condition helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from edgemc.apis.meta import (
    Condition,
    LabelSelector,
    ObjectMeta,
    OwnerReference,
    controller_of,
    find_condition,
    format_timestamp,
    parse_timestamp,
    selector_from_label_selector,
    set_condition,
)

META = {
    "name": "web",
    "namespace": "default",
    "uid": "6f1c",
    "resourceVersion": "42",
    "generation": 3,
    "creationTimestamp": "2023-05-09T12:00:00Z",
    "labels": {"app": "web"},
    "annotations": {"kcp.io/cluster": "root:wmw"},
    "finalizers": ["example.com/cleanup"],
    "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1",
         "controller": True, "blockOwnerDeletion": True},
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "u2"},
    ],
    "managedFields": [{"manager": "kubectl", "operation": "Update"}],
    "selfLink": "/api/v1/namespaces/default/pods/web",
}  # fmt: skip


def test_object_meta_round_trips_losslessly() -> None:
    meta = ObjectMeta.model_validate(META)
    assert meta.resource_version == "42"
    assert meta.owner_references[0].block_owner_deletion is True
    assert meta.to_dict() == META


def test_population_by_python_name_and_json_name() -> None:
    by_alias = LabelSelector.model_validate({"matchLabels": {"a": "b"}})
    by_name = LabelSelector(match_labels={"a": "b"})
    assert by_alias == by_name
    assert by_name.to_dict() == {"matchLabels": {"a": "b"}}
    assert LabelSelector().to_dict() == {}
    ref = OwnerReference(api_version="v1", kind="K", name="n", uid="u")
    assert ref.to_dict() == {"apiVersion": "v1", "kind": "K", "name": "n", "uid": "u"}


def test_label_selector_model_feeds_selector() -> None:
    selector = LabelSelector.model_validate(
        {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}
    )
    assert selector.match_expressions[0].values == ["prod"]
    assert selector_from_label_selector(selector).matches({"env": "prod"})


def test_controller_of() -> None:
    meta = ObjectMeta.model_validate(META)
    assert controller_of(meta).name == "web-1"
    assert controller_of(ObjectMeta(name="x")) is None


def test_timestamps() -> None:
    when = datetime(2023, 5, 9, 12, 0, 1, 999, tzinfo=UTC)
    assert format_timestamp(when) == "2023-05-09T12:00:01Z"
    assert format_timestamp(when.astimezone(timezone(timedelta(hours=2)))) == "2023-05-09T12:00:01Z"
    assert parse_timestamp("2023-05-09T12:00:01Z") == when.replace(microsecond=0)
    assert format_timestamp().endswith("Z")


def test_set_condition_changes_transition_time_only_on_status_change() -> None:
    conditions: list[Condition] = []
    ready = Condition(type="Ready", status="False", reason="Waiting")
    assert set_condition(conditions, ready, now="2023-01-01T00:00:00Z")
    assert conditions[0].last_transition_time == "2023-01-01T00:00:00Z"
    assert ready.last_transition_time is None  # the argument is not modified

    same = Condition(type="Ready", status="False", reason="Waiting")
    assert not set_condition(conditions, same, now="2023-01-02T00:00:00Z")
    reworded = Condition(type="Ready", status="False", reason="Waiting", message="still")
    assert set_condition(conditions, reworded, now="2023-01-02T00:00:00Z")
    assert conditions[0].last_transition_time == "2023-01-01T00:00:00Z"

    done = Condition(type="Ready", status="True", reason="Done", observed_generation=2)
    assert set_condition(conditions, done, now="2023-01-03T00:00:00Z")
    found = find_condition(conditions, "Ready")
    assert found.status == "True" and found.last_transition_time == "2023-01-03T00:00:00Z"
    assert found.to_dict() == {
        "type": "Ready",
        "status": "True",
        "reason": "Done",
        "lastTransitionTime": "2023-01-03T00:00:00Z",
        "observedGeneration": 2,
    }
    assert find_condition(conditions, "Synced") is None
