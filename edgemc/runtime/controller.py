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


class Key(NamedTuple):
    """What a reconcile is about: an object's logical cluster, namespace and name."""

    cluster: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Obj) -> Key:
        """The key of an object (cluster from its `kcp.io/cluster` annotation)."""
        meta = obj.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        return cls(
            annotations.get(CLUSTER_ANNOTATION, ""), meta.get("namespace") or "", meta["name"]
        )

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
        map_keys: Mapper = mapper or Key.of
        same_key = mapper is None  # an object's own key cannot change between versions
        add = self.queue.add

        def on_add(obj: Obj) -> None:
            for key in _keys(map_keys(obj)):
                add(key)

        def on_update(old: Obj, new: Obj) -> None:
            for key in _keys(map_keys(new)):
                add(key)
            if old is not new and not same_key:
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
        queue = self.queue
        while (key := await queue.get()) is not None:
            try:
                await self._process(key, worker)
            finally:
                queue.done(key)

    async def _process(self, key: Key, worker: int) -> None:
        queue = self.queue
        stats = self._stats
        stats.active_workers += 1
        start = time.perf_counter()
        try:
            result = await self.reconcile(key)
        except NonRetryableError as err:
            queue.forget(key)
            stats.errors += 1
            stats.results["error"] += 1
            self._log.error("Reconciler error (not retried)", err, key=key, worker=worker)
        except Exception as err:
            queue.add_rate_limited(key)
            stats.errors += 1
            stats.results["error"] += 1
            self._log.error(
                "Reconciler error", err, key=key, worker=worker, requeues=queue.num_requeues(key)
            )
        else:
            action = "done" if result is None else result.action
            if action == "requeue_after":
                assert result is not None
                queue.forget(key)
                queue.add_after(key, result.delay)
                stats.results["requeue_after"] += 1
            elif action == "requeue":
                queue.add_rate_limited(key)
                stats.results["requeue"] += 1
            else:
                queue.forget(key)
                stats.results["success"] += 1
        finally:
            stats.reconcile_time.observe(time.perf_counter() - start)
            stats.active_workers -= 1

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "workers": self.workers, "queued": len(self.queue)}
