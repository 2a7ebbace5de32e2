"""Smoke test of the system benchmark: its core runs once with two edge clusters, in its
separate processes, and returns well-formed figures (no timing assertions)."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import pytest

from bench import system


async def test_system_benchmark_core_runs(tmp_path: Path) -> None:
    result = await asyncio.wait_for(
        system.run_system(
            2, tmp_path, changes=3, placement_changes=2, status_changes=2, idle_seconds=0
        ),
        240,
    )
    assert result["clusters"] == 2
    for key in (
        "mailbox_ready_s",
        "change_to_edge_s",
        "placement_to_edge_s",
        "status_to_summary_s",
        "floor_mailbox_ready_s",
        "floor_change_s",
        "floor_status_s",
    ):
        figures = result[key]
        assert figures["n"] > 0, key
        assert 0 <= figures["p50"] <= figures["p90"] <= figures["p99"], key
    assert result["change_to_edge_s"]["n"] == 3
    assert result["status_to_summary_s"]["n"] == 2
    changes = result["writes_vs_minimum"]["changes"]
    assert changes["placement kcp"]["minimum"] == 3  # one selected mailbox per edit
    assert changes["placement kcp"]["made"] >= 3 and changes["syncers edge"]["made"] >= 3
    usage = result["processes"]["usage"]
    for process in ("kcp", "mailbox", "scheduler", "placement", "summarizer", "edges-0",
                    "syncers-0", "floor", "driver"):  # fmt: skip
        assert usage[process]["cpu_s"] > 0 and usage[process]["peak_rss_mb"] > 0, process
    table = system._table([result])
    assert "x floor" in table and "minimum" in table


def test_system_benchmark_skips_what_the_open_file_limit_cannot_hold() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert system._connection_shortfall(2) is None
    if hard == resource.RLIM_INFINITY:
        assert system._connection_shortfall(10**6) is None
    else:
        reason = system._connection_shortfall(hard)  # ~21 connections per cluster
        assert reason is not None and f"{hard:,}" in reason


async def test_system_benchmark_over_the_limit_measures_mailboxes_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(system, "KCP_CONNECTIONS_PER_CLUSTER", 10**9)
    result = await asyncio.wait_for(system.run_system(2, tmp_path, idle_seconds=0), 240)
    assert "hard limit" in result["skipped"]
    assert result["mailbox_ready_s"]["n"] == 2 and result["floor_mailbox_ready_s"]["n"] == 2
    assert "change_to_edge_s" not in result
    table = system._table([result])
    assert "skipped:" in table and "SyncTarget->mailbox" in table
