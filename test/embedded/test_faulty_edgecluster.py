"""A simulated edge cluster whose API server injects faults still comes up and runs its pods.

Found by the chaos test (e2e/test_chaos.py): the first start's system Deployments and the
node's registration were not retried after an injected 429/500; and the simulated
controllers wrote their own results into the shared informer caches, so when a watch event
was lost and made up for by a relist (which delivers only what differs from the cache), the
other controllers never heard of the new ReplicaSet or pod: pods stayed unbound and
Deployments unready for good.
"""

from __future__ import annotations

from pathlib import Path

from edgemc.embedded.apiserver.faults import FaultConfig
from edgemc.embedded.edgecluster import EdgeCluster

# Much more than the chaos test injects: a third of the watches cut at each event, half of
# the resumed watches told 410, a fifth of all requests refused.
HEAVY = FaultConfig(drop_watch=0.3, gone=0.5, too_many_requests=0.1, internal_error=0.1, seed=3)


async def test_system_pods_become_ready_despite_faults(tmp_path: Path) -> None:
    for attempt in range(3):
        edge = EdgeCluster(f"faulty{attempt}", data_dir=tmp_path / str(attempt), faults=HEAVY)
        await edge.start()
        try:
            await edge.wait_for_system_pods(within=60)
            counts = edge.fault_counts
            assert counts.internal_errors and counts.too_many_requests and counts.gone
        finally:
            await edge.stop()


async def test_faults_survive_a_server_restart_and_can_be_switched_off(tmp_path: Path) -> None:
    edge = EdgeCluster("restarted", data_dir=tmp_path, faults=FaultConfig(latency=0.001))
    await edge.start()
    try:
        await edge.stop_server()
        await edge.start_server()
        assert edge.server is not None and edge.server.faults.config.latency == 0.001
        delayed = edge.fault_counts.delayed
        await edge.wait_for_system_pods(within=30)
        assert edge.fault_counts.delayed > delayed  # the same counts, carried on
        edge.set_faults(FaultConfig())
        assert edge.server.faults.config == FaultConfig()
    finally:
        await edge.stop()
