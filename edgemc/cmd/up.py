"""`python -m edgemc.cmd up`: the embedded kcp-compatible server plus simulated edge clusters.

Runs in the foreground until Ctrl-C or SIGTERM; a second `up` on the same data directory
resumes with all state.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from edgemc.embedded.env import DEFAULT_EDGE_CLUSTERS, Environment


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m edgemc.cmd up",
        description="Start the embedded kcp-compatible server and simulated edge clusters.",
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".kcp"), help="default .kcp")
    parser.add_argument("--port", type=int, default=6443, help="kcp server port (default 6443)")
    parser.add_argument(
        "--edge-cluster",
        action="append",
        dest="edge_clusters",
        metavar="NAME",
        help="a simulated edge cluster (repeatable; default florin and guilder)",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    env = Environment(
        args.data_dir.resolve(),
        args.port,
        tuple(args.edge_clusters or DEFAULT_EDGE_CLUSTERS),
    )
    print(f"Starting the kcp-compatible server on port {args.port} ...", flush=True)
    await env.start()
    assert env.kcp is not None
    print(f"kcp-compatible server ready at {env.kcp.url}", flush=True)
    for name, edge in env.edges.items():
        print(f"edge cluster {name} ready at {edge.url} (context kind-{name})", flush=True)
    print(
        "\nTry, in another shell:\n"
        f"  export KUBECONFIG={env.admin_kubeconfig}\n"
        "  kubectl ws root; kubectl get workspaces\n"
        f"  KUBECONFIG={env.edge_kubeconfig} kubectl --context kind-"
        f"{next(iter(env.edges), 'florin')} get ns\n"
        "\nCtrl-C stops everything.",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("Stopping ...", flush=True)
    await env.stop()
    return 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run(args))
    return 0
