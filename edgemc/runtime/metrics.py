"""Prometheus metrics of the runtime, named as client-go and controller-runtime name them.

Work-queue and reconcile metrics change on every event, so they are kept as plain Python
numbers per queue / controller name (`QueueStats`, `ControllerStats`; no locks: one event
loop updates them) and turned into Prometheus samples only when scraped, by a collector
registered once in prometheus-client's default registry. prometheus-client's own metric
objects take a lock per update, which cost more than the rest of the event pipeline. A
queue's depth is not counted at all: it is read from the queue when scraped.

All series are module-level and told apart by labels (`name` for queues, `controller` for
controllers): creating many queues, controllers or managers in one process (as tests do)
adds label values, never duplicate registrations. Stats of a name live for the process.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left
from collections.abc import Iterator, Sized

from prometheus_client import REGISTRY, Counter
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

# 10 ns .. 10^3 s, the buckets controller-runtime uses for queue latencies.
QUEUE_BUCKETS = tuple(1e-8 * 10**i for i in range(12))
# 5 ms .. 60 s, controller-runtime's reconcile_time_seconds buckets.
RECONCILE_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8,
    0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30,
    40, 50, 60,
)  # fmt: skip

RESULTS = ("success", "error", "requeue", "requeue_after")


class Histogram:
    """Bucket counts and sum of observations, exposed as a Prometheus histogram."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # last = above every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        cumulative = 0
        for bound, n in zip(self.bounds, self.counts, strict=False):
            cumulative += n
            out.append((floatToGoString(bound), cumulative))
        out.append(("+Inf", cumulative + self.counts[-1]))
        return out


class QueueStats:
    """workqueue_* metrics of one queue name."""

    __slots__ = ("_queue", "adds", "queue_duration", "retries", "work_duration")

    def __init__(self) -> None:
        self._queue: weakref.ref[Sized] | None = None
        self.adds = 0
        self.retries = 0
        self.queue_duration = Histogram(QUEUE_BUCKETS)
        self.work_duration = Histogram(QUEUE_BUCKETS)

    def track_depth(self, queue: Sized) -> None:
        """Report `len(queue)` as the depth; of several queues with one name, the newest."""
        self._queue = weakref.ref(queue)

    @property
    def depth(self) -> int:
        queue = self._queue() if self._queue is not None else None
        return 0 if queue is None else len(queue)


class ControllerStats:
    """controller_runtime_* metrics of one controller name."""

    __slots__ = ("active_workers", "errors", "reconcile_time", "results")

    def __init__(self) -> None:
        self.results = dict.fromkeys(RESULTS, 0)
        self.errors = 0
        self.active_workers = 0
        self.reconcile_time = Histogram(RECONCILE_BUCKETS)


_queues: dict[str, QueueStats] = {}
_controllers: dict[str, ControllerStats] = {}


def queue_stats(name: str) -> QueueStats:
    """The (process-wide) stats of queue `name`."""
    stats = _queues.get(name)
    if stats is None:
        stats = _queues[name] = QueueStats()
    return stats


def controller_stats(name: str) -> ControllerStats:
    """The (process-wide) stats of controller `name`."""
    stats = _controllers.get(name)
    if stats is None:
        stats = _controllers[name] = ControllerStats()
    return stats


class _RuntimeCollector:
    """Turns the stats above into samples at scrape time."""

    def describe(self) -> Iterator[Metric]:
        return self._families()

    def collect(self) -> Iterator[Metric]:
        return self._families(with_samples=True)

    def _families(self, with_samples: bool = False) -> Iterator[Metric]:
        queues = list(_queues.items()) if with_samples else []
        controllers = list(_controllers.items()) if with_samples else []

        depth = GaugeMetricFamily("workqueue_depth", "Current depth of workqueue", labels=["name"])
        adds = CounterMetricFamily(
            "workqueue_adds", "Total number of adds handled by workqueue", labels=["name"]
        )
        retries = CounterMetricFamily(
            "workqueue_retries", "Total number of retries handled by workqueue", labels=["name"]
        )
        queue_duration = HistogramMetricFamily(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            labels=["name"],
        )
        work_duration = HistogramMetricFamily(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes",
            labels=["name"],
        )
        for name, q in queues:
            depth.add_metric([name], q.depth)
            adds.add_metric([name], q.adds)
            retries.add_metric([name], q.retries)
            queue_duration.add_metric([name], q.queue_duration.buckets(), q.queue_duration.sum)
            work_duration.add_metric([name], q.work_duration.buckets(), q.work_duration.sum)
        yield from (depth, adds, retries, queue_duration, work_duration)

        total = CounterMetricFamily(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            labels=["controller", "result"],
        )
        errors = CounterMetricFamily(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            labels=["controller"],
        )
        seconds = HistogramMetricFamily(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            labels=["controller"],
        )
        active = GaugeMetricFamily(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            labels=["controller"],
        )
        for name, c in controllers:
            for result, n in c.results.items():
                total.add_metric([name, result], n)
            errors.add_metric([name], c.errors)
            seconds.add_metric([name], c.reconcile_time.buckets(), c.reconcile_time.sum)
            active.add_metric([name], c.active_workers)
        yield from (total, errors, seconds, active)


REGISTRY.register(_RuntimeCollector())

# Per request, not per event: prometheus-client's own Counter is cheap enough here.
rest_client_requests = Counter(
    "rest_client_requests_total",
    "Number of HTTP requests, partitioned by status code, method, and host",
    ["code", "method", "host"],
)
