"""Unit tests of the work queue's stated guarantees and of its rate limiters."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from edgemc.runtime.clock import FakeClock
from edgemc.runtime.ratelimit import (
    ItemExponentialLimiter,
    MaxOfLimiter,
    TokenBucketLimiter,
    default_controller_rate_limiter,
)
from edgemc.runtime.workqueue import WorkQueue


def make_queue(name: str = "") -> tuple[WorkQueue[str], FakeClock]:
    clock = FakeClock()
    return WorkQueue(
        name, clock=clock, rate_limiter=default_controller_rate_limiter(clock.now)
    ), clock


async def test_fifo_order() -> None:
    q, _ = make_queue()
    for item in "abcde":
        q.add(item)
    assert [await q.get() for _ in range(5)] == list("abcde")


async def test_waiting_getters_served_in_order() -> None:
    q, _ = make_queue()
    order: list[tuple[int, str | None]] = []

    async def worker(i: int) -> None:
        order.append((i, await q.get()))

    tasks = [asyncio.create_task(worker(i)) for i in range(3)]
    await asyncio.sleep(0)  # let all three start waiting (deterministic: no timing involved)
    for item in "xyz":
        q.add(item)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == [(0, "x"), (1, "y"), (2, "z")]


async def test_pending_duplicates_collapse() -> None:
    q, _ = make_queue()
    q.add("a")
    q.add("b")
    q.add("a")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert len(q) == 0


async def test_item_never_handed_out_twice_while_processing() -> None:
    q, _ = make_queue()
    q.add("a")
    assert await q.get() == "a"
    q.add("a")  # re-added during processing
    assert len(q) == 0  # not available while held
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not second.done()
    q.done("a")  # now it is queued again, once
    assert await asyncio.wait_for(second, 5) == "a"
    q.done("a")
    assert len(q) == 0


async def test_done_without_readd_does_not_requeue() -> None:
    q, _ = make_queue()
    q.add("a")
    await q.get()
    q.done("a")
    assert len(q) == 0


async def test_add_after_uses_clock_and_earliest_wins() -> None:
    q, clock = make_queue()
    q.add_after("a", 10)
    q.add_after("a", 5)  # earlier: replaces
    q.add_after("a", 7)  # later: ignored
    assert q.waiting() == 1
    clock.advance(4.9)
    assert len(q) == 0
    clock.advance(0.2)
    assert len(q) == 1 and q.waiting() == 0
    assert await q.get() == "a"
    clock.advance(10)
    assert len(q) == 0  # the replaced timers never fire


async def test_add_after_zero_is_immediate() -> None:
    q, _ = make_queue()
    q.add_after("a", 0)
    assert len(q) == 1


async def test_rate_limited_backoff_and_forget() -> None:
    q, clock = make_queue()
    for expected in (0.005, 0.01, 0.02, 0.04):
        q.add_rate_limited("a")
        clock.advance(expected * 0.99)
        assert len(q) == 0
        clock.advance(expected * 0.02)
        assert len(q) == 1
        assert await q.get() == "a"
        q.done("a")
    assert q.num_requeues("a") == 4
    q.forget("a")
    assert q.num_requeues("a") == 0
    q.add_rate_limited("a")
    clock.advance(0.0051)
    assert len(q) == 1


def test_item_exponential_limiter_caps() -> None:
    limiter = ItemExponentialLimiter(0.005, 1000.0)
    delays = [limiter.when("x") for _ in range(30)]
    assert delays[0] == 0.005 and delays[1] == 0.01
    assert max(delays) == 1000.0 and delays[-1] == 1000.0
    assert limiter.when("y") == 0.005  # per item
    for _ in range(100):
        limiter.when("x")
    assert limiter.when("x") == 1000.0


def test_token_bucket_burst_then_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucketLimiter(qps=10, burst=100, now=clock.now)
    assert all(bucket.when(i) == 0 for i in range(100))
    assert bucket.when("next") == pytest.approx(0.1)
    assert bucket.when("next2") == pytest.approx(0.2)
    clock.advance(1.0)  # refills 10 tokens, 2 of them repay the debt
    assert bucket.when("x") == 0
    assert bucket.num_requeues("x") == 0


def test_max_of_limiter_takes_the_longest() -> None:
    clock = FakeClock()
    limiter = MaxOfLimiter(
        (ItemExponentialLimiter(0.005, 1000), TokenBucketLimiter(10, 1, clock.now))
    )
    assert limiter.when("a") == 0.005  # bucket has a token
    assert limiter.when("b") == pytest.approx(0.1)  # bucket empty: 0.1 s > 5 ms
    assert limiter.num_requeues("a") == 1
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


async def test_shutdown_drain_hands_out_queued_items_then_none() -> None:
    q, _ = make_queue()
    q.add("a")
    q.add("b")
    held = await q.get()
    shutdown = asyncio.create_task(q.shutdown(drain=True))
    await asyncio.sleep(0)
    q.add("c")  # not accepted after shutdown
    q.add_after("d", 1)
    assert not shutdown.done()
    assert await q.get() == "b"
    getter = asyncio.create_task(q.get())  # queue empty, but "a"/"b" in flight: waits
    await asyncio.sleep(0)
    assert not getter.done()
    q.done(held)
    q.done("b")
    assert await asyncio.wait_for(getter, 5) is None
    await asyncio.wait_for(shutdown, 5)
    assert await q.get() is None


async def test_shutdown_drain_requeues_item_readded_before_shutdown() -> None:
    q, _ = make_queue()
    q.add("a")
    assert await q.get() == "a"
    q.add("a")  # re-added during processing, before shutdown: must not be lost
    shutdown = asyncio.create_task(q.shutdown(drain=True))
    await asyncio.sleep(0)
    q.done("a")
    assert await q.get() == "a"
    q.done("a")
    await asyncio.wait_for(shutdown, 5)
    assert await q.get() is None


async def test_shutdown_without_drain_stops_handing_out_and_waits_for_in_flight() -> None:
    q, _ = make_queue()
    for item in "abc":
        q.add(item)
    held = await q.get()
    shutdown = asyncio.create_task(q.shutdown(drain=False))
    await asyncio.sleep(0)
    assert await q.get() is None  # "b", "c" are not handed out
    assert not shutdown.done()  # "a" is still in flight
    q.done(held)
    await asyncio.wait_for(shutdown, 5)


async def test_shutdown_wakes_idle_getters() -> None:
    q, _ = make_queue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    await asyncio.wait_for(q.shutdown(), 5)
    assert await asyncio.wait_for(asyncio.gather(*getters), 5) == [None, None, None]


async def test_cancelled_getter_passes_its_wakeup_on() -> None:
    q, _ = make_queue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("a")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 5) == "a"


async def test_metrics_recorded_for_named_queue() -> None:
    q, clock = make_queue("test-metrics-queue")
    labels = {"name": "test-metrics-queue"}
    adds_before = REGISTRY.get_sample_value("workqueue_adds_total", labels) or 0
    q.add("a")
    q.add("a")
    q.add("b")
    assert REGISTRY.get_sample_value("workqueue_adds_total", labels) == adds_before + 2
    assert REGISTRY.get_sample_value("workqueue_depth", labels) == 2
    clock.advance(0.5)
    await q.get()
    clock.advance(0.25)
    q.done("a")
    q.add_rate_limited("a")
    assert REGISTRY.get_sample_value("workqueue_retries_total", labels) == 1
    assert REGISTRY.get_sample_value("workqueue_queue_duration_seconds_sum", labels) == 0.5
    assert REGISTRY.get_sample_value("workqueue_work_duration_seconds_sum", labels) == 0.25


async def test_shutdown_without_drain_finishes_when_an_in_flight_item_was_re_added() -> None:
    q, _ = make_queue()
    q.add("a")
    assert await q.get() == "a"
    q.add("a")  # re-added while being processed: queued again by done()
    stopping = asyncio.create_task(q.shutdown(drain=False))
    await asyncio.sleep(0)
    assert not stopping.done()
    q.done("a")
    async with asyncio.timeout(1):
        await stopping
