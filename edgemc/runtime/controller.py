"""Controller: watches -> key mappers -> work queue -> N reconcile workers.

The reconcile contract:

* `reconcile(key)` gets a `Key` (cluster, namespace, name), never the event. It reads the
  current state from informer caches and makes the world match it (level-based), so it
  may be called any number of times for the same key.
* It returns `Result.done()` (or None), `Result.requeue()` (again soon, with backoff) or
  `Result.requeue_after(seconds)`.
* Raising an exception retries the key with per-key exponential backoff (5 ms .. 1000 s)
  and logs the error; a worker never dies of it. Raising `NonRetryableError` logs and
  drops the key until the next event for it.
* The same key is never reconciled by two workers at once.

Event handlers do nothing but map the event's object to keys and enqueue them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from edgemc.runtime import metrics
from edgemc.runtime.cache import CLUSTER_ANNOTATION, Obj, make_key
from edgemc.runtime.clock import Clock
from edgemc.runtime.informer import DeletedFinalStateUnknown, Informer, final_state
from edgemc.runtime.logging import get_logger
from edgemc.runtime.ratelimit import RateLimiter
from edgemc.runtime.workqueue import WorkQueue

log = get_logger("edgemc.runtime.controller")


_new_tuple = tuple.__new__


class Key(NamedTuple):
    """What a reconcile is about: an object's logical cluster, namespace and name."""

    cluster: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Obj) -> Key:
        """The key of an object (cluster from its `kcp.io/cluster` annotation)."""
        meta = obj["metadata"]
        notes = meta.get("annotations")  # (see cache.meta_key for why not `annotations`)
        cluster = notes.get(CLUSTER_ANNOTATION, "") if notes else ""
        # tuple.__new__ skips the generated Python-level __new__: this runs once per event.
        return _new_tuple(cls, (cluster, meta.get("namespace") or "", meta["name"]))

    def __str__(self) -> str:
        """kcp's cluster-aware key text, e.g. `apmziqj9p9fqlflm|florin`."""
        return make_key(self.cluster, self.namespace, self.name)


@dataclass(frozen=True)
class Result:
    """What a reconcile asks for next: `Result.done()`, `.requeue()`, `.requeue_after(s)`."""

    action: str = "done"  # "done" | "requeue" | "requeue_after"
    delay: float = 0.0  # seconds, for requeue_after

    @classmethod
    def done(cls) -> Result:
        """Nothing more to do until the next event."""
        return cls("done")

    @classmethod
    def requeue(cls) -> Result:
        """Reconcile the key again soon, rate-limited (like an error, but not logged)."""
        return cls("requeue")

    @classmethod
    def requeue_after(cls, seconds: float) -> Result:
        """Reconcile the key again after `seconds`; its error backoff is reset."""
        return cls("requeue_after", float(seconds))


class NonRetryableError(Exception):
    """Raised by a reconcile that cannot succeed by retrying; the key is logged and dropped."""


Reconcile = Callable[[Key], Awaitable["Result | None"]]
Mapper = Callable[[Obj], "Iterable[Key] | Key | None"]


def _keys(mapped: Iterable[Key] | Key | None) -> Iterable[Key]:
    if mapped is None:
        return ()
    if isinstance(mapped, Key):
        return (mapped,)
    return mapped


class Controller:
    """Named reconcile loop fed by informer events (see the module docstring)."""

    def __init__(
        self,
        name: str,
        reconcile: Reconcile,
        *,
        workers: int = 1,
        rate_limiter: RateLimiter | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.reconcile = reconcile
        self.workers = workers
        self.queue: WorkQueue[Key] = WorkQueue(name, rate_limiter=rate_limiter, clock=clock)
        self.informers: list[Informer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._log = log.with_values(controller=name)
        self._stats = metrics.controller_stats(name)

    # -- wiring -------------------------------------------------------------------------

    def watch(self, informer: Informer, mapper: Mapper | None = None) -> None:
        """Enqueue `mapper(obj)` (default: the object's own key) for every event."""
        add = self.queue.add
        if mapper is None:  # an object's own key, which cannot change between versions
            of = Key.of

            def own_key_added(obj: Obj) -> None:
                add(of(obj))

            def own_key_updated(old: Obj, new: Obj) -> None:
                add(of(new))

            def own_key_deleted(obj: Obj | DeletedFinalStateUnknown) -> None:
                add(of(final_state(obj)))

            informer.add_handler(own_key_added, own_key_updated, own_key_deleted)
            self.informers.append(informer)
            return
        map_keys: Mapper = mapper

        def on_add(obj: Obj) -> None:
            for key in _keys(map_keys(obj)):
                add(key)

        def on_update(old: Obj, new: Obj) -> None:
            for key in _keys(map_keys(new)):
                add(key)
            if old is not new:
                for key in _keys(map_keys(old)):
                    add(key)

        def on_delete(obj: Obj | DeletedFinalStateUnknown) -> None:
            for key in _keys(map_keys(final_state(obj))):
                add(key)

        informer.add_handler(on_add, on_update, on_delete)
        self.informers.append(informer)

    def enqueue(self, key: Key) -> None:
        """Ask for a reconcile of `key` (for triggers other than informers)."""
        self.queue.add(key)

    # -- running ------------------------------------------------------------------------

    async def start(self) -> None:
        """Wait for the watched informers to sync, then start the workers."""
        self._log.info("Waiting for caches to sync")
        for informer in self.informers:
            await informer.wait_for_sync()
        self._log.info("Starting workers", count=self.workers)
        self._tasks = [
            asyncio.create_task(self._worker(i + 1), name=f"{self.name} worker {i + 1}")
            for i in range(self.workers)
        ]

    async def stop(self, drain: bool = False) -> None:
        """Stop taking work, let in-flight reconciles finish, and wait for the workers."""
        await self.queue.shutdown(drain=drain)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._log.info("Stopped workers")

    async def _worker(self, worker: int) -> None:
        # Everything used per key is bound once: a worker may run thousands of keys a second.
        queue = self.queue
        get_nowait, forget, done = queue.get_nowait, queue.forget, queue.done
        stats = self._stats
        results = stats.results
        observe = stats.reconcile_time.observe
        reconcile = self.reconcile
        perf_counter = time.perf_counter
        while True:
            # Queued work is taken without a coroutine round trip; `get` waits for more.
            key = get_nowait()
            if key is None and (key := await queue.get()) is None:
                return
            stats.active_workers += 1
            start = perf_counter()
            try:
                result = await reconcile(key)
            except Exception as err:
                self._failed(key, worker, err)
            else:
                if result is None or result.action == "done":
                    forget(key)
                    results["success"] += 1
                else:
                    self._requeue(key, result)
            finally:
                observe(perf_counter() - start)
                stats.active_workers -= 1
                done(key)

    def _failed(self, key: Key, worker: int, err: Exception) -> None:
        """A reconcile raised: retry the key with backoff, or drop it if it cannot succeed."""
        queue = self.queue
        stats = self._stats
        stats.errors += 1
        stats.results["error"] += 1
        if isinstance(err, NonRetryableError):
            queue.forget(key)
            self._log.error("Reconciler error (not retried)", err, key=key, worker=worker)
            return
        queue.add_rate_limited(key)
        self._log.error(
            "Reconciler error", err, key=key, worker=worker, requeues=queue.num_requeues(key)
        )

    def _requeue(self, key: Key, result: Result) -> None:
        """A reconcile asked to run again: after a delay, or soon with backoff."""
        queue = self.queue
        if result.action == "requeue_after":
            queue.forget(key)
            queue.add_after(key, result.delay)
        else:
            queue.add_rate_limited(key)
        self._stats.results[result.action] += 1

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "workers": self.workers, "queued": len(self.queue)}
