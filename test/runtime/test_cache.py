"""Tests of the indexed store: kcp-style keys, built-in and custom indexes."""

from __future__ import annotations

import pytest

from edgemc.runtime.cache import (
    BY_CLUSTER,
    BY_CLUSTER_NAMESPACE,
    BY_NAMESPACE,
    Store,
    cluster_of,
    make_key,
    object_key,
    shows_write,
    split_key,
)


def obj(name: str, namespace: str = "", cluster: str = "", **labels: str) -> dict:
    meta: dict = {"name": name, "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    if cluster:
        meta["annotations"] = {"kcp.io/cluster": cluster}
    return {"metadata": meta}


@pytest.mark.parametrize(
    ("o", "key"),
    [
        (obj("florin", cluster="apmziqj9p9fqlflm"), "apmziqj9p9fqlflm|florin"),
        (obj("cm", "ns1", "c1"), "c1|ns1/cm"),
        (obj("cm", "ns1"), "ns1/cm"),
        (obj("node1"), "node1"),
    ],
)
def test_keys_round_trip(o: dict, key: str) -> None:
    assert object_key(o) == key
    cluster, namespace, name = split_key(key)
    assert (cluster, namespace, name) == (
        cluster_of(o),
        o["metadata"].get("namespace", ""),
        o["metadata"]["name"],
    )
    assert make_key(cluster, namespace, name) == key


def test_same_name_in_two_clusters_are_two_objects() -> None:
    store = Store()
    store.upsert(obj("x", "default", "c1"))
    store.upsert(obj("x", "default", "c2"))
    assert len(store) == 2
    assert store.get_by("c2", "default", "x") is not None
    assert [object_key(o) for o in store.by_index(BY_CLUSTER, "c1")] == ["c1|default/x"]
    assert len(store.by_index(BY_NAMESPACE, "default")) == 2
    assert store.index_keys(BY_CLUSTER_NAMESPACE, "c2|default") == ["c2|default/x"]


def test_upsert_returns_old_and_delete_unindexes() -> None:
    store = Store()
    first = obj("a", "ns", "c")
    assert store.upsert(first) is None
    second = obj("a", "ns", "c", app="x")
    assert store.upsert(second) is first
    assert store.get("c|ns/a") is second
    assert store.delete("c|ns/a") is second
    assert store.delete("c|ns/a") is None
    assert store.index_values(BY_NAMESPACE) == []
    assert store.index_values(BY_CLUSTER) == []


def test_custom_indexer_follows_updates() -> None:
    store = Store()
    store.upsert(obj("a", "ns", app="web"))
    store.add_indexers({"app": lambda o: [o["metadata"]["labels"].get("app", "")]})
    assert store.index_keys("app", "web") == ["ns/a"]
    store.upsert(obj("a", "ns", app="db"))
    store.upsert(obj("b", "ns", app="db"))
    assert store.index_keys("app", "web") == []
    assert store.index_keys("app", "db") == ["ns/a", "ns/b"]
    store.delete("ns/b")
    assert store.index_keys("app", "db") == ["ns/a"]
    with pytest.raises(ValueError):
        store.add_indexers({"app": lambda o: []})
    with pytest.raises(KeyError):
        store.by_index("nope", "x")


def test_multi_valued_indexer() -> None:
    store = Store({"labels": lambda o: [f"{k}={v}" for k, v in o["metadata"]["labels"].items()]})
    store.upsert(obj("a", a="1", b="2"))
    store.upsert(obj("b", a="1"))
    assert store.index_keys("labels", "a=1") == ["a", "b"]
    assert store.index_keys("labels", "b=2") == ["a"]


def test_shows_write() -> None:
    assert shows_write("42", "42")
    assert shows_write("43", "42")
    assert shows_write("100", "99")  # as numbers, not strings
    assert not shows_write("41", "42")
    assert not shows_write("", "42")
    assert shows_write("opaque", "opaque")
    assert not shows_write("opaque-2", "opaque-1")  # not comparable: only equality counts
