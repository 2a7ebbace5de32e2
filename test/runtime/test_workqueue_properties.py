"""Property tests of the work queue under random interleavings of its whole API.

Workers are tasks that call `get`; the drawn operations decide when each worker calls
`done`, when items are added (now, later, rate-limited), when fake time advances and when
the queue shuts down. Checked on every run:

* stingy: no item is ever held by two workers at once;
* duplicates collapse: every `get` of an item is preceded by an accepted add of it made
  after the previous `get` of it (two adds with no `get` between yield one `get`);
* nothing is lost: every add accepted before shutdown is followed by a `get` of that item.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemc.runtime.clock import FakeClock
from edgemc.runtime.ratelimit import default_controller_rate_limiter
from edgemc.runtime.workqueue import WorkQueue

ITEMS = st.sampled_from(["a", "b", "c", "d"])
WORKERS = 3

OPS = st.one_of(
    st.tuples(st.just("add"), ITEMS),
    st.tuples(st.just("add_after"), ITEMS, st.floats(0, 2)),
    st.tuples(st.just("add_rate_limited"), ITEMS),
    st.tuples(st.just("forget"), ITEMS),
    st.tuples(st.just("get"), st.integers(0, WORKERS - 1)),
    st.tuples(st.just("done"), st.integers(0, WORKERS - 1)),
    st.tuples(st.just("advance"), st.floats(0, 3)),
    st.tuples(st.just("shutdown")),
)


@dataclass
class Trace:
    """The history seen from outside the queue, in one global order of steps."""

    step: int = 0
    accepted_adds: dict[str, list[int]] = field(default_factory=dict)
    gets: dict[str, list[int]] = field(default_factory=dict)
    held: dict[int, str] = field(default_factory=dict)

    def tick(self) -> int:
        self.step += 1
        return self.step


class TracedQueue(WorkQueue[str]):
    """Records each add the queue accepts (including delayed adds as they fire)."""

    trace: Trace

    def add(self, item: str) -> None:
        if not self.shutting_down:
            self.trace.accepted_adds.setdefault(item, []).append(self.trace.tick())
        super().add(item)


async def settle() -> None:
    # Let every runnable task take its turn; the queue itself never sleeps.
    for _ in range(5):
        await asyncio.sleep(0)


async def run_scenario(ops: list[tuple]) -> Trace:
    clock = FakeClock()
    trace = Trace()
    q = TracedQueue("", clock=clock, rate_limiter=default_controller_rate_limiter(clock.now))
    q.trace = trace
    getters: dict[int, asyncio.Task[str | None]] = {}
    shutdown: asyncio.Task[None] | None = None

    def collect(worker: int) -> None:
        task = getters.get(worker)
        if task is None or not task.done():
            return
        del getters[worker]
        item = task.result()
        if item is None:
            return
        assert item not in trace.held.values(), f"{item} handed to two workers"
        trace.held[worker] = item
        trace.gets.setdefault(item, []).append(trace.tick())

    def collect_all() -> None:
        for worker in list(getters):
            collect(worker)

    for op in ops:
        kind = op[0]
        if kind == "add":
            q.add(op[1])
        elif kind == "add_after":
            q.add_after(op[1], op[2])
        elif kind == "add_rate_limited":
            q.add_rate_limited(op[1])
        elif kind == "forget":
            q.forget(op[1])
        elif kind == "get":
            worker = op[1]
            if worker not in trace.held and worker not in getters:
                getters[worker] = asyncio.create_task(q.get())
        elif kind == "done":
            worker = op[1]
            if worker in trace.held:
                q.done(trace.held.pop(worker))
        elif kind == "advance":
            clock.advance(op[1])
        elif kind == "shutdown" and shutdown is None:
            shutdown = asyncio.create_task(q.shutdown(drain=True))
        await settle()
        collect_all()

    # Finish: release every delayed add, then let all workers run until the queue is done.
    clock.advance(10_000)
    if shutdown is None:
        shutdown = asyncio.create_task(q.shutdown(drain=True))
    for _ in range(1000):
        await settle()
        collect_all()
        for worker in range(WORKERS):
            if worker in trace.held:
                q.done(trace.held.pop(worker))
            elif worker not in getters:
                getters[worker] = asyncio.create_task(q.get())
        await settle()
        collect_all()
        if shutdown.done() and not getters and not trace.held:
            break
    assert shutdown.done(), "drain never finished"
    assert len(q) == 0 and q.processing() == 0
    return trace


def check(trace: Trace) -> None:
    for item, gets in trace.gets.items():
        adds = trace.accepted_adds.get(item, [])
        previous = 0
        for got in gets:
            assert any(previous < a < got for a in adds), f"{item} got at {got} without a new add"
            previous = got
    for item, adds in trace.accepted_adds.items():
        gets = trace.gets.get(item, [])
        assert gets and gets[-1] > adds[-1], f"add of {item} at {adds[-1]} was lost"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OPS, max_size=60))
def test_random_interleavings_keep_queue_guarantees(ops: list[tuple]) -> None:
    check(asyncio.run(run_scenario(ops)))
