"""The scheduler's pure decisions (`edgemc.controllers.scheduling`), without a server.

The central property: resolving through the indexed informer stores gives exactly what a
brute-force evaluation of the selectors (written here independently of the selector code)
gives, for random labels, selectors and instance selectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edgemc.apis.meta import Selector
from edgemc.controllers.scheduling import (
    LOCATION_INSTANCES,
    LOCATION_LABELS,
    PLACEMENT_SELECTORS,
    REASON_INVALID_SELECTOR,
    REASON_NO_LOCATION_MATCHED,
    REASON_NO_LOCATION_SELECTORS,
    REASON_NO_SYNC_TARGET,
    REASON_RESOLVED,
    SLICE_LOCATIONS,
    SLICE_SYNC_TARGETS,
    SYNC_TARGET_LABELS,
    StoreInventory,
    desired_slice,
    desired_status,
    location_instance_index,
    location_label_index,
    owned_by_placement,
    placement_selector_index,
    placements_selecting,
    resolve,
    slice_location_index,
    slice_sync_target_index,
    sync_target_label_index,
    updated_slice,
)
from edgemc.runtime.cache import Obj, Store, cluster_of

IMW = "imwcluster000001"


def location(
    name: str, labels: dict[str, str], instances: Any = None, cluster: str = IMW
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if instances is not None:
        spec["instanceSelector"] = instances
    return {
        "metadata": {"name": name, "labels": labels, "annotations": {"kcp.io/cluster": cluster}},
        "spec": spec,
    }


def sync_target(name: str, labels: dict[str, str], cluster: str = IMW) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{cluster}-{name}",
            "labels": labels,
            "annotations": {"kcp.io/cluster": cluster},
        }
    }


def placement(*selectors: Any, generation: int = 1, name: str = "ep") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "uid": "ep-uid",
            "generation": generation,
            "annotations": {"kcp.io/cluster": "wmwcluster000001"},
        },
        "spec": {"locationSelectors": list(selectors)},
    }


class ListInventory:
    """An `Inventory` that hands out everything: the resolver alone does the matching."""

    def __init__(self, locations: list[Obj], sync_targets: list[Obj]) -> None:
        self.locations = locations
        self.sync_targets = sync_targets

    def candidate_locations(self, selector: Selector) -> list[Obj]:
        return self.locations

    def candidate_sync_targets(self, cluster: str, selector: Selector) -> list[Obj]:
        return [target for target in self.sync_targets if cluster_of(target) == cluster]


def store_inventory(locations: list[dict], sync_targets: list[dict]) -> StoreInventory:
    loc_store = Store(
        {LOCATION_LABELS: location_label_index, LOCATION_INSTANCES: location_instance_index}
    )
    st_store = Store({SYNC_TARGET_LABELS: sync_target_label_index})
    for obj in locations:
        loc_store.upsert(obj)
    for obj in sync_targets:
        st_store.upsert(obj)
    return StoreInventory(loc_store, st_store)


def pairs(resolution: Any) -> list[tuple[str, str]]:
    return [(d.location_name, d.sync_target_name) for d in resolution.destinations]


# -- the seed -----------------------------------------------------------------------------------

SEED_LOCATIONS = [
    location("florin", {"env": "prod"}, {"matchLabels": {"id": "florin"}}),
    location("guilder", {"env": "prod", "extended": "si"}, {"matchLabels": {"id": "guilder"}}),
]
SEED_SYNC_TARGETS = [
    sync_target("florin", {"id": "florin", "env": "prod"}),
    sync_target("guilder", {"id": "guilder", "env": "prod", "extended": "si"}),
]


def test_seed_table() -> None:
    inventory = store_inventory(SEED_LOCATIONS, SEED_SYNC_TARGETS)
    common = resolve(placement({"matchLabels": {"env": "prod"}}), inventory)
    special = resolve(placement({"matchLabels": {"env": "prod", "extended": "si"}}), inventory)
    assert pairs(common) == [("florin", "florin"), ("guilder", "guilder")]
    assert pairs(special) == [("guilder", "guilder")]
    assert common.destination_dicts()[1] == {
        "cluster": IMW,
        "locationName": "guilder",
        "syncTargetName": "guilder",
        "syncTargetUID": f"uid-{IMW}-guilder",
    }
    assert (common.matching_location_count, common.reason) == (2, REASON_RESOLVED)
    assert special.ready and special.matching_location_count == 1


def test_default_location_duplicates_are_distinct_destinations() -> None:
    default = location("default", {}, {})
    inventory = store_inventory([*SEED_LOCATIONS, default], SEED_SYNC_TARGETS)
    got = resolve(placement({}), inventory)
    assert pairs(got) == [
        ("default", "florin"),
        ("default", "guilder"),
        ("florin", "florin"),
        ("guilder", "guilder"),
    ]


def test_overlapping_selectors_do_not_repeat_destinations() -> None:
    inventory = store_inventory(SEED_LOCATIONS, SEED_SYNC_TARGETS)
    got = resolve(
        placement({"matchLabels": {"env": "prod"}}, {"matchLabels": {"extended": "si"}}, {}),
        inventory,
    )
    assert pairs(got) == [("florin", "florin"), ("guilder", "guilder")]
    assert got.matching_location_count == 2


def test_sync_targets_only_from_the_locations_own_cluster() -> None:
    elsewhere = sync_target("florin-twin", {"id": "florin"}, cluster="otherimw00000001")
    inventory = store_inventory(SEED_LOCATIONS, [*SEED_SYNC_TARGETS, elsewhere])
    assert pairs(resolve(placement({"matchLabels": {"env": "prod"}}), inventory)) == [
        ("florin", "florin"),
        ("guilder", "guilder"),
    ]


def test_absent_instance_selector_selects_every_sync_target_of_the_cluster() -> None:
    inventory = store_inventory([location("all", {"env": "prod"})], SEED_SYNC_TARGETS)
    assert pairs(resolve(placement({}), inventory)) == [("all", "florin"), ("all", "guilder")]


# -- reasons ------------------------------------------------------------------------------------


def test_reasons_explain_an_empty_result() -> None:
    inventory = store_inventory(
        [*SEED_LOCATIONS, location("lonely", {"env": "test"}, {"matchLabels": {"id": "x"}})],
        SEED_SYNC_TARGETS,
    )
    none = resolve(placement(), inventory)
    assert (none.reason, none.ready, none.destinations) == (
        REASON_NO_LOCATION_SELECTORS,
        False,
        (),
    )
    unmatched = resolve(placement({"matchLabels": {"env": "dev"}}), inventory)
    assert (unmatched.reason, unmatched.matching_location_count) == (
        REASON_NO_LOCATION_MATCHED,
        0,
    )
    idle = resolve(placement({"matchLabels": {"env": "test"}}), inventory)
    assert (idle.reason, idle.matching_location_count) == (REASON_NO_SYNC_TARGET, 1)
    assert f"{IMW}|lonely" in idle.message
    partial = resolve(placement({"matchLabels": {"env": "test"}}, {}), inventory)
    assert partial.reason == REASON_RESOLVED and f"{IMW}|lonely" in partial.message


def test_invalid_selectors_select_nothing_and_are_reported() -> None:
    inventory = store_inventory(SEED_LOCATIONS, SEED_SYNC_TARGETS)
    bad_operator = {"matchExpressions": [{"key": "env", "operator": "Near", "values": ["x"]}]}
    bad_key = {"matchLabels": {"not a key!": "x"}}
    no_values = {"matchExpressions": [{"key": "env", "operator": "In"}]}
    got = resolve(
        placement(bad_operator, bad_key, no_values, {"matchLabels": {"extended": "si"}}, None),
        inventory,
    )
    assert got.reason == REASON_INVALID_SELECTOR and not got.ready
    for i in range(3):
        assert f"spec.locationSelectors[{i}]" in got.message
    assert "spec.locationSelectors[4]" not in got.message  # null: a nil selector, no error
    assert pairs(got) == [("guilder", "guilder")]
    assert resolve(placement("not an object"), inventory).reason == REASON_INVALID_SELECTOR


def test_invalid_instance_selector_selects_no_sync_target() -> None:
    broken = location("broken", {"env": "prod"}, {"matchExpressions": [{"key": "id"}]})
    inventory = store_inventory([broken], SEED_SYNC_TARGETS)
    got = resolve(placement({}), inventory)
    assert got.reason == REASON_NO_SYNC_TARGET
    assert "invalid spec.instanceSelector" in got.message
    assert location_instance_index(broken) == []


# -- desired objects ----------------------------------------------------------------------------


def test_desired_slice_and_updates_only_on_change() -> None:
    ep = placement({"matchLabels": {"env": "prod"}})
    resolution = resolve(ep, store_inventory(SEED_LOCATIONS, SEED_SYNC_TARGETS))
    sps = desired_slice(ep, resolution)
    assert sps["metadata"] == {
        "name": "ep",
        "ownerReferences": [
            {
                "apiVersion": "edge.kcp.io/v1alpha1",
                "kind": "EdgePlacement",
                "name": "ep",
                "uid": "ep-uid",
            }
        ],
    }
    assert owned_by_placement(sps)
    stored = {**sps, "metadata": {**sps["metadata"], "resourceVersion": "7", "uid": "s"}}
    assert updated_slice(stored, ep, resolution) is None

    fewer = resolve(ep, store_inventory(SEED_LOCATIONS[:1], SEED_SYNC_TARGETS))
    update = updated_slice(stored, ep, fewer)
    assert update is not None
    assert update["metadata"]["resourceVersion"] == "7"
    assert [d["locationName"] for d in update["destinations"]] == ["florin"]


def test_slice_owner_reference_follows_a_recreated_placement() -> None:
    ep = placement({})
    resolution = resolve(ep, store_inventory(SEED_LOCATIONS, SEED_SYNC_TARGETS))
    foreign = {"apiVersion": "v1", "kind": "ConfigMap", "name": "keep", "uid": "cm"}
    old = desired_slice(ep, resolution)
    old["metadata"]["ownerReferences"] = [foreign, {**old["metadata"]["ownerReferences"][0]}]
    old["metadata"]["ownerReferences"][1]["uid"] = "previous-uid"
    update = updated_slice(old, ep, resolution)
    assert update is not None
    assert update["metadata"]["ownerReferences"] == [
        foreign,
        desired_slice(ep, resolution)["metadata"]["ownerReferences"][0],
    ]
    unowned = {"metadata": {"name": "x", "ownerReferences": [foreign]}}
    assert not owned_by_placement(unowned)


def test_status_is_idempotent_and_keeps_transition_times() -> None:
    inventory = store_inventory(SEED_LOCATIONS, SEED_SYNC_TARGETS)
    ep = placement({"matchLabels": {"env": "prod"}}, generation=3)
    first = desired_status(ep, resolve(ep, inventory), "2026-01-01T00:00:00Z")
    assert first is not None
    assert first["specGeneration"] == 3 and first["matchingLocationCount"] == 2
    [ready] = first["conditions"]
    assert ready["type"] == "Ready" and ready["status"] == "True"
    assert ready["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert ready["observedGeneration"] == 3
    ep["status"] = first
    assert desired_status(ep, resolve(ep, inventory), "2026-02-02T00:00:00Z") is None

    # Same Ready status, new message: the transition time stays.
    ep["spec"]["locationSelectors"] = [{"matchLabels": {"extended": "si"}}]
    ep["metadata"]["generation"] = 4
    second = desired_status(ep, resolve(ep, inventory), "2026-02-02T00:00:00Z")
    assert second is not None
    assert second["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert second["matchingLocationCount"] == 1 and second["specGeneration"] == 4

    # A flip to False moves it; other conditions and malformed entries are handled.
    ep["status"] = {
        **second,
        "conditions": [*second["conditions"], {"type": "Other", "status": "True"}, "junk"],
    }
    ep["spec"]["locationSelectors"] = []
    third = desired_status(ep, resolve(ep, inventory), "2026-03-03T00:00:00Z")
    assert third is not None
    ready, other = third["conditions"]
    assert (ready["status"], ready["reason"]) == ("False", REASON_NO_LOCATION_SELECTORS)
    assert ready["lastTransitionTime"] == "2026-03-03T00:00:00Z"
    assert other["type"] == "Other"


def test_slice_indexes_and_event_mapping() -> None:
    ep = placement({"matchLabels": {"env": "prod"}})
    sps = desired_slice(ep, resolve(ep, store_inventory(SEED_LOCATIONS, SEED_SYNC_TARGETS)))
    assert slice_location_index(sps) == [f"{IMW}|florin", f"{IMW}|guilder"]
    assert slice_sync_target_index(sps) == [f"{IMW}|florin", f"{IMW}|guilder"]
    store = Store(
        {SLICE_LOCATIONS: slice_location_index, SLICE_SYNC_TARGETS: slice_sync_target_index}
    )
    store.upsert({**sps, "metadata": {**sps["metadata"], "annotations": {"kcp.io/cluster": "w"}}})
    assert store.index_keys(SLICE_LOCATIONS, f"{IMW}|guilder") == ["w|ep"]
    other = placement({"matchLabels": {"extended": "si"}}, name="other")
    anything = placement({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, name="any")
    placements = Store({PLACEMENT_SELECTORS: placement_selector_index})
    for obj in (ep, other, anything):
        placements.upsert(obj)
    assert placement_selector_index(anything) == ["*"]
    assert placements_selecting({"env": "prod"}, placements) == [anything, ep]
    assert placements_selecting({"env": "prod", "extended": "si"}, placements) == [
        anything,
        ep,
        other,
    ]
    assert placements_selecting({"tier": "x"}, placements) == []


# -- the property: indexed resolution == brute force --------------------------------------------

KEYS = ["env", "zone", "tier"]
VALUES = ["a", "b", "c"]
CLUSTERS = ["imwcluster000001", "imwcluster000002"]

label_sets = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)
expressions = st.one_of(
    st.fixed_dictionaries(
        {
            "key": st.sampled_from(KEYS),
            "operator": st.sampled_from(["In", "NotIn"]),
            "values": st.lists(st.sampled_from(VALUES), min_size=1, max_size=2),
        }
    ),
    st.fixed_dictionaries(
        {"key": st.sampled_from(KEYS), "operator": st.sampled_from(["Exists", "DoesNotExist"])}
    ),
)
selectors = st.fixed_dictionaries(
    {},
    optional={
        "matchLabels": st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2),
        "matchExpressions": st.lists(expressions, max_size=2),
    },
)


def brute_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Label-selector semantics spelled out directly, for comparison."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[dict], list[dict], list[dict]]:
    locations = [
        location(
            f"loc-{i}",
            draw(label_sets),
            draw(st.none() | selectors),
            draw(st.sampled_from(CLUSTERS)),
        )
        for i in range(draw(st.integers(0, 6)))
    ]
    targets = [
        sync_target(f"st-{i}", draw(label_sets), draw(st.sampled_from(CLUSTERS)))
        for i in range(draw(st.integers(0, 6)))
    ]
    placement_selectors = draw(st.lists(selectors, max_size=3))
    return locations, targets, placement_selectors


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_resolution_equals_brute_force(world: tuple[list[dict], list[dict], list[dict]]) -> None:
    locations, targets, placement_selectors = world
    expected = set()
    matching = 0
    for loc in locations:
        if not any(brute_matches(s, loc["metadata"]["labels"]) for s in placement_selectors):
            continue
        matching += 1
        cluster = loc["metadata"]["annotations"]["kcp.io/cluster"]
        instances = loc["spec"].get("instanceSelector") or {}
        for target in targets:
            meta = target["metadata"]
            if meta["annotations"]["kcp.io/cluster"] == cluster and brute_matches(
                instances, meta["labels"]
            ):
                expected.add((cluster, loc["metadata"]["name"], meta["name"], meta["uid"]))

    ep = placement(*placement_selectors)
    for inventory in (store_inventory(locations, targets), ListInventory(locations, targets)):
        got = resolve(ep, inventory)
        tuples = [
            (d.cluster, d.location_name, d.sync_target_name, d.sync_target_uid)
            for d in got.destinations
        ]
        assert tuples == sorted(expected)
        assert got.matching_location_count == matching
        assert got.ready == bool(expected)

    # Event mapping: a Location's labels find exactly the placements that select it.
    placements = Store({PLACEMENT_SELECTORS: placement_selector_index})
    alternatives = [placement(s, name=f"ep-{i}") for i, s in enumerate(placement_selectors)]
    for obj in [ep, *alternatives]:
        placements.upsert(obj)
    for loc in locations:
        labels = loc["metadata"]["labels"]
        want_eps = {"ep"} if any(brute_matches(s, labels) for s in placement_selectors) else set()
        want_eps |= {
            f"ep-{i}" for i, s in enumerate(placement_selectors) if brute_matches(s, labels)
        }
        assert {p["metadata"]["name"] for p in placements_selecting(labels, placements)} == (
            want_eps
        )

    # The reverse lookup used to map SyncTarget events finds exactly the selecting Locations.
    indexed = store_inventory(locations, targets)
    for target in targets:
        meta = target["metadata"]
        want = sorted(
            loc["metadata"]["name"]
            for loc in locations
            if loc["metadata"]["annotations"]["kcp.io/cluster"]
            == meta["annotations"]["kcp.io/cluster"]
            and brute_matches(loc["spec"].get("instanceSelector") or {}, meta["labels"])
        )
        got_names = sorted(loc["metadata"]["name"] for loc in indexed.locations_selecting(target))
        assert got_names == want
