"""Reflector and shared informer: keep an indexed cache in step with the server, fan out events.

A reflector LISTs (in pages), then WATCHes from the list's resourceVersion with bookmarks.
When a watch ends or breaks it resumes from the last resourceVersion seen (of an event or a
bookmark), so no event is missed or repeated. When the server says that version is gone
(410, as an HTTP error or as an ERROR event), it LISTs again and delivers the difference to
the cache as adds, updates and deletes; an object that vanished while the informer was
not watching is delivered to `on_delete` as a `DeletedFinalStateUnknown` carrying its last
known state.

Handlers run synchronously on the event loop, in registration order, and must be quick
(controllers only enqueue keys). A handler that raises is logged and does not stop others.

The cache (`Informer.store`) is the reflector's alone: read it, never write into it or
mutate the objects it returns (as with client-go's shared caches). A relist delivers only
what differs from the cache, so a change written into it by anyone else would never be
corrected or announced. Consecutive 410s with no progress between relist with a backoff.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from edgemc.runtime.backoff import Backoff
from edgemc.runtime.cache import Obj, Store, meta_key, object_key
from edgemc.runtime.client import Client, GroupVersionResource
from edgemc.runtime.errors import ApiError
from edgemc.runtime.gctuning import calm_full_collections
from edgemc.runtime.logging import get_logger

log = get_logger("edgemc.runtime.informer")


@dataclass(frozen=True)
class DeletedFinalStateUnknown:
    """A delete noticed on relist: the object's key and the last state the cache had."""

    key: str
    obj: Obj


def final_state(obj: Obj | DeletedFinalStateUnknown) -> Obj:
    """The object of a delete notification, unwrapping a tombstone."""
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


OnAdd = Callable[[Obj], None]
OnUpdate = Callable[[Obj, Obj], None]
OnDelete = Callable[[Obj | DeletedFinalStateUnknown], None]


@dataclass(frozen=True)
class EventHandler:
    """Callbacks for one consumer of an informer; any of them may be None."""

    on_add: OnAdd | None = None
    on_update: OnUpdate | None = None
    on_delete: OnDelete | None = None


@dataclass(frozen=True)
class InformerOptions:
    """Tunables of a reflector, with the reasons for their defaults."""

    # LIST page size: bounds the memory of one response; 500 is client-go's default.
    page_size: int = 500
    # Ask the server to end each watch after a random 5..10 minutes (client-go does the
    # same): periodic re-watches spread load and catch connections that died silently.
    min_watch_timeout: int = 300
    # Periodically re-deliver every cached object as an update (old is new); None = never.
    resync_period: float | None = None
    # Delay between failing LIST/WATCH attempts; grows to the cap while the server is down.
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.1, factor=2.0, cap=30.0))


class Informer:
    """A shared informer for one resource (optionally one namespace / label selector)."""

    def __init__(
        self,
        client: Client,
        resource: GroupVersionResource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        options: InformerOptions | None = None,
        indexers: dict[str, Callable[[Obj], list[str]]] | None = None,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.options = options or InformerOptions()
        self.store = Store(indexers)
        self._handlers: list[EventHandler] = []
        # The handlers' callbacks per event type, without the Nones: delivery is per event.
        self._on_add: tuple[OnAdd, ...] = ()
        self._on_update: tuple[OnUpdate, ...] = ()
        self._on_delete: tuple[OnDelete, ...] = ()
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._stopped = False
        self.last_resource_version = ""
        self.relists = 0  # LISTs after the first (410s and failed watches that needed one)
        self.watches = 0  # WATCH requests the server accepted (first one + every resume)
        self._log = log.with_values(resource=str(resource), url=client.base_url)

    # -- consumers ----------------------------------------------------------------------

    def add_handler(
        self,
        on_add: OnAdd | None = None,
        on_update: OnUpdate | None = None,
        on_delete: OnDelete | None = None,
    ) -> EventHandler:
        """Register callbacks; if the cache is already filled, `on_add` sees every object."""
        handler = EventHandler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        self._index_callbacks()
        if self._synced.is_set() and on_add is not None:
            for obj in self.store.list():
                try:
                    on_add(obj)
                except Exception as err:
                    self._handler_failed(err)
        return handler

    def remove_handler(self, handler: EventHandler) -> None:
        self._handlers.remove(handler)
        self._index_callbacks()

    def _index_callbacks(self) -> None:
        handlers = self._handlers
        self._on_add = tuple(h.on_add for h in handlers if h.on_add is not None)
        self._on_update = tuple(h.on_update for h in handlers if h.on_update is not None)
        self._on_delete = tuple(h.on_delete for h in handlers if h.on_delete is not None)

    def add_indexers(self, indexers: dict[str, Callable[[Obj], list[str]]]) -> None:
        self.store.add_indexers(indexers)

    def has_synced(self) -> bool:
        """True once the first LIST has been delivered to the cache and handlers."""
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        """Wait until synced (bound it with `asyncio.timeout` if needed)."""
        await self._synced.wait()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the reflector (and resync) tasks on the running loop; idempotent.

        A process running informers gets the collector settings of `gctuning`.
        """
        if self._task is None:
            calm_full_collections()
            self._stopped = False
            self._task = asyncio.create_task(self._run(), name=f"informer {self.resource}")
            if self.options.resync_period:
                self._resync_task = asyncio.create_task(self._resync_loop())

    @property
    def started(self) -> bool:
        return self._task is not None

    async def stop(self) -> None:
        self._stopped = True
        tasks = [t for t in (self._task, self._resync_task) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = self._resync_task = None

    # -- the reflector ------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        # 410s in a row, each before the watch got past the list it followed.
        stuck_gone = 0
        listed_rv: str | None = None
        need_list = True
        while not self._stopped:
            listing = need_list
            try:
                if need_list:
                    await self._list_and_replace()
                    listed_rv = self.last_resource_version
                    need_list = False
                    failures = 0
                listing = False
                await self._watch()
                failures = 0  # a watch that ends normally is routine: re-watch right away
            except asyncio.CancelledError:
                raise
            except ApiError as err:
                if err.code == 410:
                    self._log.v(2).info(
                        "Watch history expired, relisting",
                        resourceVersion=self.last_resource_version,
                    )
                    need_list = True
                    stuck_gone = stuck_gone + 1 if self.last_resource_version == listed_rv else 0
                    if stuck_gone > 1:
                        # History gone again before any progress (a server compacting
                        # faster than we list): relist with a backoff, not in a tight loop.
                        await self._sleep_backoff(stuck_gone - 2)
                    continue
                if listing or err.code != 0:
                    # As client-go's reflector: a failed list, or a watch the server refuses
                    # (401, 403, 404, 5xx), is an error the operator must see; a watch cut
                    # off mid-stream is routine and resumed.
                    verb = "list" if listing else "watch"
                    self._log.error(f"Failed to {verb}", err, failures=failures)
                else:
                    self._log.v(2).info("Watch failed", err=err, failures=failures)
                await self._sleep_backoff(failures)
                failures += 1
            except Exception as err:  # a bug or a malformed answer: log, back off, go on
                self._log.error("Reflector error", err, exc_info=True)
                await self._sleep_backoff(failures)
                failures += 1

    async def _sleep_backoff(self, failures: int) -> None:
        await asyncio.sleep(self.options.backoff.delay(failures))

    async def _list_and_replace(self) -> None:
        if self.has_synced():
            self.relists += 1
        listing = await self.client.list_all(
            self.resource,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            page_size=self.options.page_size,
        )
        self._replace(listing.get("items") or [])
        self.last_resource_version = (listing.get("metadata") or {}).get("resourceVersion", "")
        if not self._synced.is_set():
            self._synced.set()
            self._log.v(2).info("Informer synced", count=len(self.store))

    def _replace(self, items: list[Obj]) -> None:
        """Make the cache equal to `items`, delivering the differences."""
        store = self.store
        seen: set[str] = set()
        for obj in items:
            key = object_key(obj)
            seen.add(key)
            old = store.get(key)
            if old is not None and _rv(old) == _rv(obj) and _rv(obj):
                continue
            store.upsert(obj, key)
            if old is None:
                self._deliver_add(obj)
            else:
                self._deliver_update(old, obj)
        for key in [k for k in store.list_keys() if k not in seen]:
            old = store.delete(key)
            if old is not None:
                self._deliver_delete(DeletedFinalStateUnknown(key, old))

    async def _watch(self) -> None:
        timeout = random.randint(self.options.min_watch_timeout, 2 * self.options.min_watch_timeout)
        stream = self.client.watch(
            self.resource,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            resource_version=self.last_resource_version or None,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout,
        )
        upsert = self.store.upsert
        async with stream:
            self.watches += 1
            while (batch := await stream.next_batch()) is not None:
                for kind, obj in batch:
                    meta = obj.get("metadata") or {}
                    if kind == "MODIFIED" or kind == "ADDED":
                        old = upsert(obj, meta_key(meta))
                        if old is None:
                            self._deliver_add(obj)
                        else:
                            self._deliver_update(old, obj)
                    elif kind == "DELETED":
                        self.store.delete(meta_key(meta))
                        self._deliver_delete(obj)
                    elif kind != "BOOKMARK":
                        self._log.v(2).info("Ignoring unknown watch event", type=kind)
                    if rv := meta.get("resourceVersion"):
                        self.last_resource_version = rv

    async def _resync_loop(self) -> None:
        period = self.options.resync_period
        assert period
        while not self._stopped:
            await asyncio.sleep(period)
            if self.has_synced():
                for obj in self.store.list():
                    self._deliver_update(obj, obj)

    # -- delivery -----------------------------------------------------------------------

    def _deliver_add(self, obj: Obj) -> None:
        for on_add in self._on_add:
            try:
                on_add(obj)
            except Exception as err:
                self._handler_failed(err)

    def _deliver_update(self, old: Obj, new: Obj) -> None:
        for on_update in self._on_update:
            try:
                on_update(old, new)
            except Exception as err:
                self._handler_failed(err)

    def _deliver_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        for on_delete in self._on_delete:
            try:
                on_delete(obj)
            except Exception as err:
                self._handler_failed(err)

    def _handler_failed(self, err: Exception) -> None:
        self._log.error("Event handler failed", err, exc_info=True)


def _rv(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("resourceVersion", "")


class InformerFactory:
    """One shared informer per (base URL, resource, namespace, label selector)."""

    def __init__(self, client: Client, options: InformerOptions | None = None) -> None:
        self.client = client
        self.options = options or InformerOptions()
        self._informers: dict[tuple[str, GroupVersionResource, str, str], Informer] = {}
        self._running = False

    def informer(
        self,
        resource: GroupVersionResource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        client: Client | None = None,
    ) -> Informer:
        """The shared informer; `client` picks another base URL (workspace, wildcard, view)."""
        client = client or self.client
        key = (client.base_url, resource, namespace or "", label_selector or "")
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(
                client, resource, namespace, label_selector=label_selector, options=self.options
            )
            self._informers[key] = informer
            if self._running:
                informer.start()
        return informer

    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    async def discard(self, informer: Informer) -> None:
        """Stop an informer of this factory that nothing uses any more and forget it (the
        next request for its resource makes a new one)."""
        for key, known in list(self._informers.items()):
            if known is informer:
                del self._informers[key]
        await informer.stop()

    def start(self) -> None:
        """Start every informer, and any created later."""
        self._running = True
        for informer in self._informers.values():
            informer.start()

    def has_synced(self) -> bool:
        return all(i.has_synced() for i in self._informers.values())

    async def wait_for_sync(self) -> None:
        """Wait until every informer (including ones added meanwhile) has synced."""
        while not self.has_synced():
            for informer in list(self._informers.values()):
                await informer.wait_for_sync()

    async def stop(self) -> None:
        self._running = False
        await asyncio.gather(*(i.stop() for i in self._informers.values()))
