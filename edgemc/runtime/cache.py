"""The informer's indexed object store: objects by cluster-aware key, namespace, cluster, custom.

Keys follow kcp's cluster-aware key function: `<cluster>|<namespace>/<name>` or
`<cluster>|<name>`, where the cluster is the object's `kcp.io/cluster` annotation; an object
without that annotation gets the plain client-go key `<namespace>/<name>` or `<name>`.

The store is not thread-safe and needs no locks: it is used from one event loop. Objects are
stored as given (raw dicts); callers must not mutate what they read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

CLUSTER_ANNOTATION = "kcp.io/cluster"

# Built-in index names.
BY_NAMESPACE = "namespace"
BY_CLUSTER = "cluster"
BY_CLUSTER_NAMESPACE = "cluster-namespace"  # value: "<cluster>|<namespace>"

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]


def shows_write(cached_rv: str, written_rv: str) -> bool:
    """Whether a cached object at resourceVersion `cached_rv` shows a write the server
    answered with `written_rv`: the same version, or a later one. resourceVersions are opaque
    to clients, but etcd's, kcp's and the embedded server's are increasing integers; two
    versions not both integers count as later only when equal."""
    if cached_rv == written_rv:
        return True
    return cached_rv.isdigit() and written_rv.isdigit() and int(cached_rv) > int(written_rv)


def cluster_of(obj: Obj) -> str:
    """The logical cluster an object lives in (`kcp.io/cluster`), "" when not on kcp."""
    notes = obj.get("metadata", {}).get("annotations")
    return notes.get(CLUSTER_ANNOTATION, "") if notes else ""


def make_key(cluster: str, namespace: str, name: str) -> str:
    """The store key for the given coordinates (see the module docstring)."""
    local = f"{namespace}/{name}" if namespace else name
    return f"{cluster}|{local}" if cluster else local


def object_key(obj: Obj) -> str:
    """The store key of an object."""
    return meta_key(obj.get("metadata") or {})


def meta_key(meta: Obj) -> str:
    """The store key of an object with this `metadata`."""
    # make_key, spelled out: this runs once per watch event. (Not `annotations`: CPython 3.11
    # makes a bound method for every call on a local named like an import, such as the
    # `annotations` of `from __future__ import annotations`.)
    notes = meta.get("annotations")
    cluster = notes.get(CLUSTER_ANNOTATION) if notes else None
    namespace = meta.get("namespace")
    name = meta.get("name", "")
    if namespace:
        return f"{cluster}|{namespace}/{name}" if cluster else f"{namespace}/{name}"
    return f"{cluster}|{name}" if cluster else name


def split_key(key: str) -> tuple[str, str, str]:
    """(cluster, namespace, name) of a store key."""
    cluster, sep, local = key.partition("|")
    if not sep:
        cluster, local = "", key
    namespace, sep, name = local.partition("/")
    if not sep:
        namespace, name = "", local
    return cluster, namespace, name


class Store:
    """Objects by key, with namespace, cluster and cluster+namespace indexes and custom ones."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Obj] = {}
        # Built-in indexes are maintained inline (they are on the hot path of every event).
        self._by_namespace: dict[str, set[str]] = {}
        self._by_cluster: dict[str, set[str]] = {}
        self._by_cluster_namespace: dict[str, set[str]] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indexes: dict[str, dict[str, set[str]]] = {}
        if indexers:
            self.add_indexers(indexers)

    # -- indexes ------------------------------------------------------------------------

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Register custom indexes `{name: fn(obj) -> values}`; existing objects are indexed."""
        for name, fn in indexers.items():
            if name in self._indexers or name in (BY_NAMESPACE, BY_CLUSTER, BY_CLUSTER_NAMESPACE):
                raise ValueError(f"indexer {name!r} already exists")
            self._indexers[name] = fn
            index: dict[str, set[str]] = {}
            for key, obj in self._items.items():
                for value in fn(obj):
                    index.setdefault(value, set()).add(key)
            self._indexes[name] = index

    def index_keys(self, index: str, value: str) -> list[str]:
        """Keys of the objects whose `index` includes `value`."""
        return sorted(self._index(index).get(value, ()))

    def by_index(self, index: str, value: str) -> list[Obj]:
        """Objects whose `index` includes `value`, in key order."""
        return [self._items[k] for k in self.index_keys(index, value)]

    def index_values(self, index: str) -> list[str]:
        """Values that currently have at least one object in `index`."""
        return sorted(self._index(index))

    def _index(self, name: str) -> dict[str, set[str]]:
        if name == BY_NAMESPACE:
            return self._by_namespace
        if name == BY_CLUSTER:
            return self._by_cluster
        if name == BY_CLUSTER_NAMESPACE:
            return self._by_cluster_namespace
        try:
            return self._indexes[name]
        except KeyError:
            raise KeyError(f"no indexer {name!r}") from None

    # -- reads --------------------------------------------------------------------------

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def get_by(self, cluster: str, namespace: str, name: str) -> Obj | None:
        return self._items.get(make_key(cluster, namespace, name))

    def list(self) -> list[Obj]:
        return list(self._items.values())

    def list_keys(self) -> list[str]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    # -- writes -------------------------------------------------------------------------

    def upsert(self, obj: Obj, key: str | None = None) -> Obj | None:
        """Store `obj` under its key; returns the object it replaced, if any.

        `key`, if given, must be `object_key(obj)` (callers that have it save recomputing).
        """
        if key is None:
            key = object_key(obj)
        old = self._items.get(key)
        self._items[key] = obj
        if old is None:
            # Namespace and cluster are part of the key, so they never change for a key.
            cluster, namespace, _ = split_key(key)
            self._index_builtin(key, cluster, namespace)
        if not self._indexers:
            return old
        for name, fn in self._indexers.items():
            index = self._indexes[name]
            old_values = set(fn(old)) if old is not None else set()
            new_values = set(fn(obj))
            for value in old_values - new_values:
                _discard(index, value, key)
            for value in new_values - old_values:
                index.setdefault(value, set()).add(key)
        return old

    def delete(self, key: str) -> Obj | None:
        """Remove the object under `key`; returns it, or None if there was none."""
        old = self._items.pop(key, None)
        if old is None:
            return None
        cluster, namespace, _ = split_key(key)
        self._unindex_builtin(key, cluster, namespace)
        for name, fn in self._indexers.items():
            index = self._indexes[name]
            for value in fn(old):
                _discard(index, value, key)
        return old

    def _index_builtin(self, key: str, cluster: str, namespace: str) -> None:
        self._by_namespace.setdefault(namespace, set()).add(key)
        self._by_cluster.setdefault(cluster, set()).add(key)
        self._by_cluster_namespace.setdefault(f"{cluster}|{namespace}", set()).add(key)

    def _unindex_builtin(self, key: str, cluster: str, namespace: str) -> None:
        _discard(self._by_namespace, namespace, key)
        _discard(self._by_cluster, cluster, key)
        _discard(self._by_cluster_namespace, f"{cluster}|{namespace}", key)


def _discard(index: dict[str, set[str]], value: str, key: str) -> None:
    keys = index.get(value)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[value]
