"""Informer event delivery with a scripted client: handler order, failing and removed handlers.

The client serves one LIST and then scripted WATCH batches, so the events each handler sees
are exactly the ones listed here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from edgemc.runtime.client import GroupVersionResource
from edgemc.runtime.informer import DeletedFinalStateUnknown, Informer, final_state

from .waiting import wait_until

CM = GroupVersionResource("", "v1", "configmaps")
Event = tuple[str, dict[str, Any]]


def cm(name: str, rv: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "t", "resourceVersion": rv}}


class ScriptedStream:
    """A watch handing out the given batches, then waiting until closed."""

    def __init__(self, batches: list[list[Event]]) -> None:
        self._batches = list(batches)
        self._closed = asyncio.Event()

    async def __aenter__(self) -> ScriptedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closed.set()

    async def next_batch(self) -> Iterator[Event] | None:
        if self._batches:
            return iter(self._batches.pop(0))
        await self._closed.wait()
        return None


class ScriptedClient:
    """An empty LIST at resourceVersion 1, then one watch serving `batches`."""

    base_url = "http://scripted"

    def __init__(self, batches: list[list[Event]]) -> None:
        self.batches = batches

    async def list_all(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"metadata": {"resourceVersion": "1"}, "items": []}

    def watch(self, *args: Any, **kwargs: Any) -> ScriptedStream:
        batches, self.batches = self.batches, []
        return ScriptedStream(batches)


class Recorder:
    def __init__(self, name: str, seen: list[tuple[str, str, str]]) -> None:
        self.name, self.seen = name, seen

    def on_add(self, obj: dict[str, Any]) -> None:
        self.seen.append((self.name, "add", obj["metadata"]["resourceVersion"]))

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.seen.append((self.name, "update", new["metadata"]["resourceVersion"]))

    def on_delete(self, obj: dict[str, Any] | DeletedFinalStateUnknown) -> None:
        self.seen.append((self.name, "delete", final_state(obj)["metadata"]["resourceVersion"]))


@pytest.fixture
async def stopper() -> AsyncIterator[list[Informer]]:
    informers: list[Informer] = []
    yield informers
    for informer in informers:
        await informer.stop()


async def test_handlers_in_order_a_failing_one_stops_no_other(stopper: list[Informer]) -> None:
    batches = [
        [("ADDED", cm("a", "2")), ("MODIFIED", cm("a", "3"))],
        [("BOOKMARK", {"metadata": {"resourceVersion": "4"}}), ("DELETED", cm("a", "5"))],
    ]
    informer = Informer(ScriptedClient(batches), CM)  # type: ignore[arg-type]
    stopper.append(informer)
    seen: list[tuple[str, str, str]] = []
    first, last = Recorder("first", seen), Recorder("last", seen)

    def fail(*args: Any) -> None:
        raise RuntimeError("handler bug")

    informer.add_handler(first.on_add, first.on_update, first.on_delete)
    informer.add_handler(fail, fail, fail)
    informer.add_handler(last.on_add, last.on_update, last.on_delete)
    informer.start()
    await wait_until(lambda: informer.last_resource_version == "5")
    assert seen == [
        ("first", "add", "2"),
        ("last", "add", "2"),
        ("first", "update", "3"),
        ("last", "update", "3"),
        ("first", "delete", "5"),
        ("last", "delete", "5"),
    ]
    assert informer.store.get("t/a") is None


async def test_removed_handler_gets_no_more_events(stopper: list[Informer]) -> None:
    batches = [[("ADDED", cm("a", "2"))], [("MODIFIED", cm("a", "3"))]]
    informer = Informer(ScriptedClient(batches), CM)  # type: ignore[arg-type]
    stopper.append(informer)
    seen: list[tuple[str, str, str]] = []
    kept, removed = Recorder("kept", seen), Recorder("removed", seen)
    informer.add_handler(kept.on_add, kept.on_update, kept.on_delete)
    handler = informer.add_handler(removed.on_add, removed.on_update)

    def remove_after_first_add(obj: dict[str, Any]) -> None:
        informer.remove_handler(handler)

    informer.add_handler(on_add=remove_after_first_add)
    informer.start()
    await wait_until(lambda: informer.last_resource_version == "3")
    assert seen == [("kept", "add", "2"), ("removed", "add", "2"), ("kept", "update", "3")]
