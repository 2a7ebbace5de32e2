"""Smoke test of the system benchmark: its core runs once with two edge clusters and
returns well-formed figures (no timing assertions)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench import system


async def test_system_benchmark_core_runs(tmp_path: Path) -> None:
    result = await asyncio.wait_for(system.run_system(2, tmp_path, changes=3), 60)
    assert result["clusters"] == 2
    for key in ("mailbox_ready_s", "change_to_edge_s", "floor_change_s"):
        figures = result[key]
        assert figures["n"] > 0
        assert 0 <= figures["p50"] <= figures["p90"] <= figures["p99"]
    assert result["change_to_edge_s"]["n"] == 3
    assert result["cpu_s"] > 0 and result["peak_rss_mb"] > 0
    assert "x floor" in system._table([result])
