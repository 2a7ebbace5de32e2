"""Controller unit tests: results, errors, backoff and metrics, driven by a fake clock."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from edgemc.runtime.clock import FakeClock
from edgemc.runtime.controller import Controller, Key, NonRetryableError, Result
from edgemc.runtime.ratelimit import default_controller_rate_limiter

from .waiting import wait_until


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def make(name: str, reconcile, workers: int = 1) -> tuple[Controller, FakeClock]:
    clock = FakeClock()
    c = Controller(
        name,
        reconcile,
        workers=workers,
        clock=clock,
        rate_limiter=default_controller_rate_limiter(clock.now),
    )
    return c, clock


def test_key_of_object_and_text() -> None:
    obj = {"metadata": {"name": "florin", "annotations": {"kcp.io/cluster": "apmz"}}}
    assert Key.of(obj) == Key("apmz", "", "florin")
    assert str(Key.of(obj)) == "apmz|florin"
    assert str(Key("", "ns", "x")) == "ns/x"


async def test_results_errors_and_metrics() -> None:
    calls: list[Key] = []
    outcomes: dict[str, list[object]] = {
        "ok": [Result.done()],
        "none": [None],
        "later": [Result.requeue_after(30), Result.done()],
        "again": [Result.requeue(), Result.done()],
        "flaky": [RuntimeError("boom"), RuntimeError("boom"), Result.done()],
        "fatal": [NonRetryableError("no")],
    }

    async def reconcile(key: Key) -> Result | None:
        calls.append(key)
        outcome = outcomes[key.name].pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[return-value]

    name = "test-results-controller"
    before = {
        r: sample("controller_runtime_reconcile_total", controller=name, result=r)
        for r in ("success", "error", "requeue", "requeue_after")
    }
    errors_before = sample("controller_runtime_reconcile_errors_total", controller=name)
    c, clock = make(name, reconcile, workers=2)
    await c.start()
    for n in outcomes:
        c.enqueue(Key("", "ns", n))
    await wait_until(lambda: len(calls) == 6 and c.queue.processing() == 0)
    assert c.queue.num_requeues(Key("", "ns", "flaky")) == 1
    assert c.queue.waiting() == 3  # later (30 s), again (5 ms), flaky (5 ms)
    clock.advance(0.006)  # the rate-limited ones come back
    await wait_until(lambda: len(calls) == 8 and c.queue.processing() == 0)
    assert c.queue.num_requeues(Key("", "ns", "flaky")) == 2
    clock.advance(0.011)  # flaky's second backoff is 10 ms
    await wait_until(lambda: len(calls) == 9 and c.queue.processing() == 0)
    assert c.queue.num_requeues(Key("", "ns", "flaky")) == 0  # forgotten on success
    clock.advance(30)
    await wait_until(lambda: len(calls) == 10 and c.queue.processing() == 0)
    assert all(not v for v in outcomes.values())
    assert c.queue.num_requeues(Key("", "ns", "fatal")) == 0
    await c.stop()

    def delta(result: str) -> float:
        now = sample("controller_runtime_reconcile_total", controller=name, result=result)
        return now - before[result]

    assert delta("success") == 5  # ok, none, later#2, again#2, flaky#3
    assert delta("error") == 3  # flaky x2, fatal
    assert delta("requeue") == 1
    assert delta("requeue_after") == 1
    assert sample("controller_runtime_reconcile_errors_total", controller=name) - errors_before == 3
    assert sample("controller_runtime_reconcile_time_seconds_count", controller=name) >= 10


async def test_same_key_never_reconciled_concurrently() -> None:
    active: set[Key] = set()
    overlaps = 0
    done = 0

    async def reconcile(key: Key) -> None:
        nonlocal overlaps, done
        if key in active:
            overlaps += 1
        active.add(key)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        active.discard(key)
        done += 1

    c, _ = make("test-stingy-controller", reconcile, workers=4)
    await c.start()
    for _ in range(50):
        for n in "abc":
            c.enqueue(Key("", "", n))
        await asyncio.sleep(0)
    await wait_until(lambda: len(c.queue) == 0 and c.queue.processing() == 0)
    await c.stop()
    assert overlaps == 0 and done >= 3


async def test_stop_finishes_in_flight_reconcile() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[Key] = []

    async def reconcile(key: Key) -> None:
        started.set()
        await release.wait()
        finished.append(key)

    c, _ = make("test-stop-controller", reconcile)
    await c.start()
    c.enqueue(Key("", "", "slow"))
    c.enqueue(Key("", "", "queued"))
    await asyncio.wait_for(started.wait(), 5)
    stopping = asyncio.create_task(c.stop())
    await asyncio.sleep(0)
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, 5)
    assert finished == [Key("", "", "slow")]  # in-flight finished, queued not started
