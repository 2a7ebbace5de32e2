"""Chaos end to end (#11): the seed scenario plus a seeded churn of workload edits, placement
changes and SyncTargets added and removed, once fault-free and once while every server injects
faults and the controllers and syncers are SIGKILLed and restarted; the chaos run must
converge to exactly the fault-free run's objects (see `chaosharness`). The long version is
`bench/chaos.py` (`make bench`). Also: `up --faults` / `--edge-faults`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from chaosharness import ChaosConfig, run_comparison
from userenv import require_kubectl, start_up, user_environ


# The short version: the seed's two clusters, ten churn steps, both runs together well under
# 90 s on an idle machine; the timeout leaves room for a loaded one.
@pytest.mark.timeout(300)
async def test_chaos_run_converges_to_the_fault_free_state(tmp_path: Path) -> None:
    result = await run_comparison(tmp_path, ChaosConfig())
    print("\n".join(result.figures()))
    chaos = result.chaos
    assert chaos.snapshot.objects == result.reference.snapshot.objects
    assert not chaos.snapshot.duplicates and not result.reference.snapshot.duplicates
    assert {"add-cluster", "remove-cluster"} <= set(chaos.steps)
    # Every kind of process was killed, and every kind of fault was injected.
    assert set(chaos.kills) == {
        "mailbox-controller",
        "scheduler",
        "placement-translator",
        "status-summarizer",
        "syncer",
    }
    totals = chaos.fault_totals()
    for kind in ("too_many_requests", "internal_errors", "dropped_watches", "gone"):
        assert totals.get(kind, 0) > 0, kind
    assert result.reference.fault_totals() == {}


def test_up_injects_the_faults_it_is_given(tmp_path: Path) -> None:
    kubectl = require_kubectl()
    # Half of the watches from a resourceVersion are answered 410 (injected), on the kcp
    # server and on the edge cluster; nothing else is refused, so `up` starts as usual.
    up = start_up(
        tmp_path / ".kcp",
        "--controllers=none",
        "--edge-cluster=solo",
        "--faults=gone=0.5,seed=1",
        "--edge-faults=gone=0.5,seed=2",
    )
    try:
        output = "".join(up.output)
        assert "faults injected by the kcp server: gone=0.5,seed=1" in output
        assert "faults injected by the edge clusters: gone=0.5,seed=2" in output
        watch = "/api/v1/namespaces?watch=true&resourceVersion=1&timeoutSeconds=1"
        for kubeconfig in (up.admin_kubeconfig, up.edge_kubeconfig):

            def injected(kubeconfig: Path = kubeconfig) -> bool:
                proc = subprocess.run(
                    [kubectl, f"--kubeconfig={kubeconfig}", "get", "--raw", watch],
                    capture_output=True,
                    text=True,
                    env=user_environ(),
                    timeout=60,
                )
                return "(injected fault)" in proc.stdout + proc.stderr

            # At 0.5 per watch, 20 watches without a 410 happen once in a million runs.
            assert any(injected() for _ in range(20)), kubeconfig
    finally:
        up.stop()


def test_up_stops_on_sigterm_while_faults_keep_it_from_starting(tmp_path: Path) -> None:
    # An edge cluster answering every request with 500 never gets its node registered.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgemc.cmd",
            "up",
            "--port=0",
            f"--data-dir={tmp_path}",
            "--controllers=none",
            "--edge-cluster=solo",
            "--edge-faults=500=1.0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=user_environ(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("Starting the kcp-compatible server")
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
        assert proc.returncode == 1, output
        assert "Stopped before everything was ready." in output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_up_rejects_a_bad_fault_spec(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edgemc.cmd", "up", f"--data-dir={tmp_path}", "--faults=500=2"],
        capture_output=True,
        text=True,
        env=user_environ(),
        timeout=60,
    )
    assert proc.returncode == 2
    assert "argument --faults: internal_error must be a probability in [0, 1]" in proc.stderr
