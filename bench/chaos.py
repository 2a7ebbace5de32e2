"""Chaos benchmark: the long version of e2e/test_chaos.py, with more clusters and churn.

`python -m bench.chaos [--seed N] [--clusters N] [--rounds N] [--out DIR]`. The seed scenario
with `--clusters` edge clusters, then `--rounds` churn steps (workload edits, placement
changes, SyncTargets added and removed), once fault-free and once while every server injects
faults and the controllers and syncers are SIGKILLed and restarted (see e2e/chaosharness.py).
Prints the figures (faults by kind, kills, objects compared, convergence time after the last
fault) and writes them as JSON; exits 1 when the chaos run did not converge to the
fault-free run's state. Runs from the repository root (it imports e2e/chaosharness.py).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clusters", type=int, default=6, help="edge clusters at first")
    parser.add_argument("--rounds", type=int, default=40, help="churn steps")
    parser.add_argument("--out", type=Path, help="directory for logs and chaos.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "e2e"))
    from chaosharness import ChaosConfig, run_comparison

    config = ChaosConfig(
        seed=args.seed,
        clusters=args.clusters,
        rounds=args.rounds,
        step_within=120.0,
        converge_within=300.0,
    )
    out = args.out or Path(tempfile.mkdtemp(prefix="edgemc-chaos-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"chaos: {args.clusters} clusters, {args.rounds} churn steps; logs in {out}", flush=True)
    try:
        result = asyncio.run(run_comparison(out, config))
    except TimeoutError as err:
        print(f"chaos: NOT CONVERGED: {err}", flush=True)
        return 1
    figures = result.figures()
    for line in figures:
        print(f"  {line}", flush=True)
    report = {
        "seed": args.seed,
        "clusters": args.clusters,
        "steps": result.chaos.steps,
        "objects_compared": result.objects_compared,
        "faults": result.chaos.fault_totals(),
        "requests": sum(c.requests for c in result.chaos.faults.values()),
        "kills": dict(result.chaos.kills),
        "converged_after_s": result.chaos.converged_after,
        "fault_free_converged_after_s": result.reference.converged_after,
        "phases_s": {"fault_free": result.reference.phases, "chaos": result.chaos.phases},
        "fault_counts": {k: dataclasses.asdict(v) for k, v in result.chaos.faults.items()},
        "figures": figures,
    }
    (out / "chaos.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
