"""Revisioned object store: one global revision counter, SQLite persistence, watch history.

Every write gets the next revision of one counter shared by all resources and logical
clusters (like one etcd under kcp), which becomes the object's `metadata.resourceVersion`.
Objects live in memory for reads; with a data directory every write is also committed to
SQLite (WAL) before it is acknowledged, together with a bounded event history, so that a
restarted server keeps every object, the counter and the recent history watchers resume from,
even when the process was killed mid-write (test/apiserver/test_durability.py). Commits are not
fsynced one by one (`synchronous=NORMAL`): a power loss or OS crash may lose the last
acknowledged writes, though never leave the database inconsistent.

Stored dicts are never mutated: writers pass in a new dict and readers must copy before
changing what they get.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

# (group, resource, identity): the storage identity of a resource. kcp stores objects of a
# resource bound from an APIExport under the export's identity hash, apart from a local CRD of
# the same group/resource; identity is "" for built-in and local kinds.
ResKey = tuple[str, str, str]

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

# How many events are kept for watchers to resume from. A watch from an older revision gets
# 410 Expired and must relist. Memory grows with this times the average object size.
DEFAULT_HISTORY = 20_000

# A watcher whose queue holds this many undelivered events is too slow; its queue is dropped
# and it is closed (the client then resumes from its last revision) rather than letting the
# queue grow unbounded. The queue holds references to every version it carries, so a stuck
# watcher keeps up to this many old object versions alive; the watch handler also cuts a
# client that takes no data for `LimitsConfig.watch_send_timeout`, usually much sooner.
MAX_WATCHER_BACKLOG = 50_000


@dataclass(frozen=True, slots=True)
class Event:
    rev: int
    type: str
    reskey: ResKey
    cluster: str
    namespace: str
    name: str
    obj: dict[str, Any]
    prev: dict[str, Any] | None


class Expired(Exception):
    """The requested revision is older than the retained history."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass(eq=False)
class Watcher:
    """One watch stream's subscription: a filter over events and a queue of matching ones."""

    reskey: ResKey
    accept: Callable[[Event], Event | None]
    # The one logical cluster it watches; None: every cluster (wildcard or a plain server).
    cluster: str | None = None
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    closed: bool = False

    def offer(self, event: Event) -> None:
        if self.closed:
            return
        out = self.accept(event)
        if out is None:
            return
        if self.queue.qsize() >= MAX_WATCHER_BACKLOG:
            while not self.queue.empty():  # what it would resume from is in the history
                self.queue.get_nowait()
            self.close()
            return
        self.queue.put_nowait(out)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


def _reskey_str(reskey: ResKey) -> str:
    return "/".join(reskey)


def _reskey_from(text: str) -> ResKey:
    group, resource, identity = text.split("/", 2)
    return (group, resource, identity)


class Store:
    """All objects of all logical clusters, keyed by resource, cluster, namespace and name."""

    def __init__(self, path: Path | None = None, history: int = DEFAULT_HISTORY) -> None:
        self._data: dict[ResKey, dict[str, dict[tuple[str, str], dict[str, Any]]]] = {}
        self._history: deque[Event] = deque()
        # The same events by resource: a watch resumes from its own resource's events
        # without scanning every other resource's.
        self._history_of: dict[ResKey, deque[Event]] = {}
        self._history_limit = history
        self._floor = 0  # watch from any revision >= floor can be served
        self._rev = 0
        # By resource and logical cluster (None: all): an event is offered only to the
        # watchers of its own cluster and to wildcard ones, not to one per mailbox.
        self._watchers: dict[tuple[ResKey, str | None], set[Watcher]] = {}
        self._listeners: list[Callable[[Event], None]] = []
        self._db: sqlite3.Connection | None = None
        self._closed = False
        self._writes_since_prune = 0
        if path is not None:
            self._open(path)

    # -- persistence ---------------------------------------------------------------------

    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # durable across a killed process, see above
        db.executescript(
            """
            CREATE TABLE IF NOT EXISTS objects (
                reskey TEXT, cluster TEXT, ns TEXT, name TEXT, data BLOB,
                PRIMARY KEY (reskey, cluster, ns, name));
            CREATE TABLE IF NOT EXISTS events (
                rev INTEGER PRIMARY KEY, type TEXT, reskey TEXT, cluster TEXT, ns TEXT,
                name TEXT, data BLOB, prev BLOB);
            CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER);
            """
        )
        self._db = db
        meta = dict(db.execute("SELECT k, v FROM meta").fetchall())
        self._rev = int(meta.get("rev", 0))
        for reskey, cluster, ns, name, data in db.execute(
            "SELECT reskey, cluster, ns, name, data FROM objects"
        ):
            bucket = self._data.setdefault(_reskey_from(reskey), {}).setdefault(cluster, {})
            bucket[(ns, name)] = orjson.loads(data)
        rows = db.execute(
            "SELECT rev, type, reskey, cluster, ns, name, data, prev FROM events "
            "ORDER BY rev DESC LIMIT ?",
            (self._history_limit,),
        ).fetchall()
        for rev, typ, reskey, cluster, ns, name, data, prev in reversed(rows):
            self._remember(
                Event(
                    rev,
                    typ,
                    _reskey_from(reskey),
                    cluster,
                    ns,
                    name,
                    orjson.loads(data),
                    orjson.loads(prev) if prev else None,
                )
            )
        # Revisions between the last kept event and the counter (none normally) are unknown.
        self._floor = self._history[0].rev - 1 if self._history else self._rev

    def _persist(self, event: Event) -> None:
        db = self._db
        if db is None:
            if self._closed:  # a request still in flight after stop(): refuse, do not lose it
                raise RuntimeError("the store is closed")
            return
        key = _reskey_str(event.reskey)
        data = orjson.dumps(event.obj)
        db.execute("BEGIN")
        try:
            if event.type == DELETED:
                db.execute(
                    "DELETE FROM objects WHERE reskey=? AND cluster=? AND ns=? AND name=?",
                    (key, event.cluster, event.namespace, event.name),
                )
            else:
                db.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)",
                    (key, event.cluster, event.namespace, event.name, data),
                )
            db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.rev,
                    event.type,
                    key,
                    event.cluster,
                    event.namespace,
                    event.name,
                    data,
                    orjson.dumps(event.prev) if event.prev is not None else None,
                ),
            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('rev', ?)", (event.rev,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._writes_since_prune += 1
        if self._writes_since_prune >= 1000:
            self._writes_since_prune = 0
            db.execute("DELETE FROM events WHERE rev <= ?", (self._floor,))

    def close(self) -> None:
        self._closed = True
        for watchers in self._watchers.values():
            for watcher in list(watchers):
                watcher.close()
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- reads ---------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self._rev

    @property
    def watch_count(self) -> int:
        """Open watch subscriptions (each holds a queue of undelivered events)."""
        return sum(len(watchers) for watchers in self._watchers.values())

    def watches_by_target(self) -> dict[tuple[ResKey, str | None], int]:
        """Open watch subscriptions by (resource key, logical cluster or None: every one)."""
        return {target: len(ws) for target, ws in self._watchers.items() if ws}

    @property
    def oldest_revision(self) -> int:
        """The oldest revision a watch may start from."""
        return self._floor

    def get(self, reskey: ResKey, cluster: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._data.get(reskey, {}).get(cluster, {}).get((namespace, name))

    def list(
        self, reskey: ResKey, cluster: str | None, namespace: str | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """Objects as (cluster, object), ordered by cluster, namespace, name.

        `cluster=None` lists every logical cluster; `namespace=None` every namespace.
        """
        clusters = self._data.get(reskey, {})
        names = sorted(clusters) if cluster is None else [cluster]
        out: list[tuple[str, dict[str, Any]]] = []
        for c in names:
            bucket = clusters.get(c)
            if not bucket:
                continue
            for key in sorted(bucket):
                if namespace is None or key[0] == namespace:
                    out.append((c, bucket[key]))
        return out

    def count(self, reskey: ResKey, cluster: str, namespace: str | None = None) -> int:
        bucket = self._data.get(reskey, {}).get(cluster, {})
        if namespace is None:
            return len(bucket)
        return sum(1 for ns, _ in bucket if ns == namespace)

    def clusters(self) -> set[str]:
        return {c for clusters in self._data.values() for c, bucket in clusters.items() if bucket}

    def reskeys(self) -> list[ResKey]:
        return list(self._data)

    def resources_in(self, cluster: str) -> list[ResKey]:
        return [rk for rk, clusters in self._data.items() if clusters.get(cluster)]

    # -- writes --------------------------------------------------------------------------

    def next_revision(self) -> int:
        """The revision the next write will get (for stamping before `put`)."""
        return self._rev + 1

    def put(
        self, reskey: ResKey, cluster: str, namespace: str, name: str, obj: dict[str, Any]
    ) -> Event:
        """Create or replace an object; its metadata.resourceVersion is set to the new revision."""
        bucket = self._data.setdefault(reskey, {}).setdefault(cluster, {})
        prev = bucket.get((namespace, name))
        self._rev += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self._rev)
        bucket[(namespace, name)] = obj
        event = Event(
            self._rev,
            MODIFIED if prev is not None else ADDED,
            reskey,
            cluster,
            namespace,
            name,
            obj,
            prev,
        )
        self._record(event)
        return event

    def remove(self, reskey: ResKey, cluster: str, namespace: str, name: str) -> Event | None:
        bucket = self._data.get(reskey, {}).get(cluster)
        if not bucket or (namespace, name) not in bucket:
            return None
        prev = bucket.pop((namespace, name))
        self._rev += 1
        final = dict(prev)
        final["metadata"] = {**prev.get("metadata", {}), "resourceVersion": str(self._rev)}
        event = Event(self._rev, DELETED, reskey, cluster, namespace, name, final, prev)
        self._record(event)
        return event

    def _record(self, event: Event) -> None:
        try:
            self._persist(event)
        except BaseException:
            # Keep memory and disk in step: undo the in-memory change and the revision.
            bucket = self._data.setdefault(event.reskey, {}).setdefault(event.cluster, {})
            if event.prev is None:
                bucket.pop((event.namespace, event.name), None)
            else:
                bucket[(event.namespace, event.name)] = event.prev
            self._rev -= 1
            raise
        self._remember(event)
        while len(self._history) > self._history_limit:
            self._floor = self._forget_oldest().rev
        for watcher in (
            *self._watchers.get((event.reskey, event.cluster), ()),
            *self._watchers.get((event.reskey, None), ()),
        ):
            watcher.offer(event)
        for listener in self._listeners:
            listener(event)

    # -- watch ---------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call `listener(event)` synchronously after every write (for in-process controllers)."""
        self._listeners.append(listener)

    def _remember(self, event: Event) -> None:
        self._history.append(event)
        self._history_of.setdefault(event.reskey, deque()).append(event)

    def _forget_oldest(self) -> Event:
        event = self._history.popleft()
        of_resource = self._history_of[event.reskey]
        of_resource.popleft()  # the oldest of its resource too
        if not of_resource:
            del self._history_of[event.reskey]
        return event

    def events_since(self, rev: int, reskey: ResKey) -> list[Event]:
        """Events of one resource after `rev`, oldest first; raises Expired when they are
        no longer known."""
        if rev < self._floor:
            raise Expired(rev, self._floor + 1)
        newer: list[Event] = []
        for event in reversed(self._history_of.get(reskey, ())):
            if event.rev <= rev:
                break
            newer.append(event)
        newer.reverse()
        return newer

    def subscribe(
        self,
        reskey: ResKey,
        accept: Callable[[Event], Event | None],
        cluster: str | None = None,
    ) -> Watcher:
        """A watcher offered the events of `reskey` in `cluster` (None: in every cluster)."""
        watcher = Watcher(reskey, accept, cluster)
        self._watchers.setdefault((reskey, cluster), set()).add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        watchers = self._watchers.get((watcher.reskey, watcher.cluster))
        if watchers is not None:
            watchers.discard(watcher)
        watcher.closed = True

    def drop_watchers(self) -> int:
        """Close every watch stream (fault injection: a dropped connection)."""
        n = 0
        for watchers in self._watchers.values():
            for watcher in list(watchers):
                watcher.close()
                n += 1
        return n

    def compact(self, upto: int | None = None) -> None:
        """Forget history up to `upto` (default: everything), like etcd compaction."""
        upto = self._rev if upto is None else min(upto, self._rev)
        while self._history and self._history[0].rev <= upto:
            self._forget_oldest()
        self._floor = max(self._floor, upto)
        if self._db is not None:
            self._db.execute("DELETE FROM events WHERE rev <= ?", (self._floor,))
