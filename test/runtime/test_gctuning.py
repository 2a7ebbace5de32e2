"""The collector policy of processes holding many objects: survivors of a full collection
are frozen, and a rescan now and then reclaims cycles that died among them."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from edgemc.runtime.gctuning import YOUNG_THRESHOLD, FreezeSurvivors, calm_full_collections


class Node:
    peer: Node


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_survivors_of_a_full_collection_are_frozen_and_young_ones_change_nothing() -> None:
    policy = FreezeSurvivors(rescan_every=3600.0)
    policy("stop", {"generation": 1})
    policy("start", {"generation": 2})
    assert gc.get_freeze_count() == 0
    policy("stop", {"generation": 2})
    assert gc.get_freeze_count() > 0


def test_a_due_rescan_unfreezes_once_and_reclaims_cycles_that_died_frozen() -> None:
    a, b = Node(), Node()
    a.peer, b.peer = b, a
    alive = weakref.ref(a)
    gc.freeze()  # as the policy does after a full collection
    del a, b
    gc.collect()
    assert alive() is not None, "a frozen cycle is not scanned"
    policy = FreezeSurvivors(rescan_every=0.0)
    policy("stop", {"generation": 2})
    assert gc.get_freeze_count() == 0, "a due rescan unfreezes"
    gc.collect()
    assert alive() is None
    policy("stop", {"generation": 2})  # the rescanning collection's end: freeze again
    assert gc.get_freeze_count() > 0


def test_installing_twice_adds_one_callback_and_raises_the_young_threshold() -> None:
    before = [cb for cb in gc.callbacks if isinstance(cb, FreezeSurvivors)]
    calm_full_collections()
    calm_full_collections()
    after = [cb for cb in gc.callbacks if isinstance(cb, FreezeSurvivors)]
    assert len(after) == 1 and (not before or before == after)
    assert gc.get_threshold()[0] >= YOUNG_THRESHOLD
