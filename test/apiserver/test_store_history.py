"""The store's watch history: a resource's events after a revision, as a full scan finds them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgemc.embedded.apiserver.storage import Expired, Store

RESOURCES = [("", "configmaps", ""), ("apps", "deployments", "abc"), ("", "secrets", "")]

writes = st.lists(
    st.tuples(st.sampled_from(RESOURCES), st.sampled_from(["a", "b"]), st.booleans()),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops=writes, limit=st.integers(1, 20), since=st.integers(0, 70), compact=st.integers(0, 70))
def test_events_since_is_the_resources_slice_of_the_history(
    ops: list[tuple[tuple[str, str, str], str, bool]], limit: int, since: int, compact: int
) -> None:
    store = Store(history=limit)
    log = []
    for reskey, name, delete in ops:
        event = (
            store.remove(reskey, "c", "ns", name)
            if delete
            else store.put(reskey, "c", "ns", name, {"metadata": {"name": name}})
        )
        if event is not None:
            log.append(event)
    store.compact(compact)
    compact = min(compact, store.revision)  # nothing past the last write is compacted
    kept = [e for e in log[-limit:] if e.rev > compact]
    floor = max(compact, log[-limit - 1].rev if len(log) > limit else 0)
    for reskey in RESOURCES:
        if since < floor:
            with pytest.raises(Expired):
                store.events_since(since, reskey)
            continue
        expected = [e for e in kept if e.reskey == reskey and e.rev > since]
        assert store.events_since(since, reskey) == expected
