"""Status return translates `observedGeneration`: the edge copy counts its own generations.

Found by the chaos test (e2e/test_chaos.py): a copy made after two edits of the mailbox
original starts at generation 1, so the edge's observedGeneration 1 returned verbatim left the
summary saying "edge observed generation 1 < 2" (NotCurrent) forever.
"""

from __future__ import annotations

from typing import Any

from edgemc.controllers.syncer.objects import status_update


def deployment(generation: int, status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "n", "generation": generation},
        "spec": {"replicas": 3},
    }
    if status is not None:
        obj["status"] = status
    return obj


def test_a_current_copy_reports_the_originals_generation() -> None:
    original = deployment(2)
    copy = deployment(1, {"observedGeneration": 1, "readyReplicas": 3})
    update = status_update(original, copy)
    assert update is not None
    assert update["status"] == {"observedGeneration": 2, "readyReplicas": 3}
    assert status_update(update, copy) is None  # returned once, then nothing to do


def test_a_copy_not_yet_observed_stays_below_the_originals_generation() -> None:
    original = deployment(5)
    copy = deployment(4, {"observedGeneration": 3, "readyReplicas": 1})
    update = status_update(original, copy)
    assert update is not None
    assert update["status"]["observedGeneration"] == 3
    original = deployment(2)
    copy = deployment(7, {"observedGeneration": 6})
    update = status_update(original, copy)
    assert update is not None and update["status"]["observedGeneration"] == 1


def test_a_status_without_observed_generation_is_returned_as_it_is() -> None:
    original = deployment(3)
    copy = deployment(1, {"succeeded": 1})
    update = status_update(original, copy)
    assert update is not None and update["status"] == {"succeeded": 1}
