"""`python -m edgemc.cmd server`: run the embedded API server until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from edgemc.embedded.apiserver.server import ApiServer, ServerConfig
from edgemc.embedded.apiserver.storage import DEFAULT_HISTORY


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m edgemc.cmd server",
        description="Run the embedded Kubernetes-compatible (or, with --kcp, kcp-compatible) "
        "API server.",
    )
    parser.add_argument("--port", type=int, default=6443, help="port to listen on (0: any free)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".kcp"),
        help="directory for the database and admin.kubeconfig (default .kcp)",
    )
    parser.add_argument("--in-memory", action="store_true", help="keep no state on disk")
    parser.add_argument("--kcp", action="store_true", help="serve kcp workspaces and APIs")
    parser.add_argument(
        "--history",
        type=_positive_int,
        default=DEFAULT_HISTORY,
        help=f"watch events kept for resuming watches; older ones get 410 Gone "
        f"(default {DEFAULT_HISTORY})",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> int:
    config = ServerConfig(
        port=args.port,
        host=args.host,
        data_dir=None if args.in_memory else args.data_dir,
        kcp=args.kcp,
        history=args.history,
    )
    server = build_server(config)
    await server.start()
    kubeconfig = server.write_kubeconfig(args.data_dir / "admin.kubeconfig")
    print(f"API server ready at {server.url}; admin kubeconfig: {kubeconfig}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    return 0


def build_server(config: ServerConfig) -> ApiServer:
    if config.kcp:
        from edgemc.embedded.apiserver.kcp import build_kcp_server

        return build_kcp_server(config)
    return ApiServer(config)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(serve(args))
    return 0
