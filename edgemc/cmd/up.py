"""`python -m edgemc.cmd up`: the whole system on one machine, in the foreground.

Starts the embedded kcp-compatible server, the simulated edge clusters and the central
controllers (`--controllers`), prints how to reach them, and with `--example` plays the seed's
example scenario (`scripts/example1.sh`) against them. Runs until Ctrl-C or SIGTERM; a
second `up` on the same data directory resumes with all state. Progress goes to stdout;
the controllers' klog lines go to `DATA_DIR/edgemc.log`. `--faults` and `--edge-faults` make
the kcp server and every edge cluster's server inject failures (chaos testing by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
from pathlib import Path

from edgemc.embedded.apiserver.faults import FaultConfig
from edgemc.embedded.env import CENTRAL_CONTROLLERS, DEFAULT_EDGE_CLUSTERS, Environment
from edgemc.runtime import ApiError
from edgemc.runtime import logging as klog

EXAMPLE_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "example1.sh"


def controllers_arg(text: str) -> tuple[str, ...]:
    """`all`, `none` or a comma-separated list of central controllers."""
    if text == "all":
        return CENTRAL_CONTROLLERS
    if text == "none":
        return ()
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in CENTRAL_CONTROLLERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown controller(s) {', '.join(unknown) or text!r}; "
            f"choose all, none or from {', '.join(CENTRAL_CONTROLLERS)}"
        )
    return names


def edge_cluster_arg(text: str) -> tuple[str, Path | None]:
    """`NAME` or `NAME=KIND_CONFIG.yaml`."""
    name, sep, config = text.partition("=")
    if not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME or NAME=KIND_CONFIG.yaml")
    if sep and not Path(config).is_file():
        raise argparse.ArgumentTypeError(f"{text!r}: {config} is not a file")
    return name, Path(config) if sep else None


def faults_arg(text: str) -> FaultConfig:
    """A fault spec, e.g. `drop-watch=0.05,gone=0.1,429=0.02,500=0.02,seed=7`."""
    try:
        return FaultConfig.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


FAULTS_HELP = (
    "comma-separated KEY=VALUE: drop-watch=P (cut a watch after an event), gone=P (410 for "
    "watches from a resourceVersion), 429=P, 500=P (fractions of requests), retry-after=S, "
    "latency=DURATION (mean added delay), compact=DURATION (forget watch history that "
    "often), partition=FOR@EVERY (refuse connections), seed=N; durations take ms, s or m. "
    "Default: no faults"
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m edgemc.cmd up",
        description="Start the kcp-compatible server, simulated edge clusters and controllers.",
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".kcp"), help="default .kcp")
    parser.add_argument(
        "--port", type=int, default=6443, help="kcp server port (default 6443; 0 = any free)"
    )
    parser.add_argument(
        "--edge-cluster",
        action="append",
        dest="edge_clusters",
        type=edge_cluster_arg,
        metavar="NAME[=KIND_CONFIG.yaml]",
        help="a simulated edge cluster, optionally with a kind config for its port mappings "
        "(repeatable; default florin and guilder with the seed's port mappings)",
    )
    parser.add_argument(
        "--controllers",
        type=controllers_arg,
        default=CENTRAL_CONTROLLERS,
        metavar="all|none|LIST",
        help="central controllers to run (default all; none = start them by hand as the seed "
        f"does; LIST = comma-separated from {', '.join(CENTRAL_CONTROLLERS)})",
    )
    parser.add_argument(
        "--example",
        action="store_true",
        help="also play the seed's example scenario (scripts/example1.sh) and show each stage",
    )
    parser.add_argument(
        "--faults",
        type=faults_arg,
        default=FaultConfig(),
        metavar="SPEC",
        help=f"faults the kcp server injects into the requests it serves: {FAULTS_HELP}",
    )
    parser.add_argument(
        "--edge-faults",
        type=faults_arg,
        default=FaultConfig(),
        metavar="SPEC",
        help="faults each edge cluster's API server injects, same SPEC as --faults",
    )
    parser.add_argument(
        "-v", "--v", dest="verbosity", type=int, default=2, help="controllers' log verbosity"
    )
    from edgemc.runtime.options import normalize_args

    return parser.parse_args(normalize_args(argv))


def _print(text: str = "") -> None:
    print(text, flush=True)


async def play_example(env: Environment, controllers_running: bool) -> int:
    """Run scripts/example1.sh against `env`, its output shown as it comes; its exit code."""
    workdir = env.data_dir / "example"
    done = workdir / ".done"
    if done.exists():
        _print(f"The example scenario already ran on this data directory ({workdir}).")
        return 0
    if shutil.which("kubectl") is None:
        _print("error: --example needs kubectl (v1.32) on PATH")
        return 1
    workdir.mkdir(parents=True, exist_ok=True)
    kubeconfig = workdir / "admin.kubeconfig"
    shutil.copyfile(env.admin_kubeconfig, kubeconfig)
    os.chmod(kubeconfig, 0o600)
    bindir = str(Path(sys.executable).parent)
    environ = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "EDGE_KUBECONFIG": str(env.edge_kubeconfig),
        "PYTHON": sys.executable,
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    args = [str(EXAMPLE_SCRIPT), "--workdir", str(workdir)]
    if controllers_running:
        args.append("--controllers-running")
    proc = await asyncio.create_subprocess_exec(*args, env=environ)
    try:
        code = await proc.wait()
    except asyncio.CancelledError:
        proc.terminate()
        await proc.wait()
        raise
    if code == 0:
        done.touch()
    return code


async def run(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.resolve()
    edges = args.edge_clusters or [(name, None) for name in DEFAULT_EDGE_CLUSTERS]
    env = Environment(
        data_dir,
        args.port,
        tuple(name for name, _ in edges),
        kind_configs={name: config for name, config in edges if config is not None},
        controllers=args.controllers,
        verbosity=args.verbosity,
        kcp_faults=args.faults,
        edge_faults=args.edge_faults,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    _print(f"Starting the kcp-compatible server (data directory {data_dir}) ...")
    waiter = asyncio.create_task(stop.wait())
    starting = asyncio.create_task(env.start())
    await asyncio.wait({starting, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():  # Ctrl-C or SIGTERM before everything is up (a server refusing
        starting.cancel()  # every request with --faults never lets the start finish)
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        _print("Stopped before everything was ready.")
        await env.stop()
        return 1
    try:
        starting.result()
    except (OSError, ValueError, ApiError) as err:
        _print(f"error: cannot start: {err}")
        waiter.cancel()
        await env.stop()
        return 1
    assert env.kcp is not None
    _print(f"kcp-compatible server ready at {env.kcp.url}")
    for name, edge in env.edges.items():
        _print(f"edge cluster {name} ready at {edge.url} (context kind-{name})")
    started = ", ".join(env.controllers) if env.controllers else "none (start them by hand)"
    _print(f"controllers: {started}; their log: {data_dir / 'edgemc.log'}")
    for where, faults in (("kcp server", args.faults), ("edge clusters", args.edge_faults)):
        if faults != FaultConfig():
            _print(f"faults injected by the {where}: {faults.spec()}")
    _print(
        "\nTry, in another shell:\n"
        f"  export KUBECONFIG={env.admin_kubeconfig}\n"
        "  kubectl ws root; kubectl get workspaces\n"
        f"  KUBECONFIG={env.edge_kubeconfig} kubectl --context kind-"
        f"{next(iter(env.edges), 'florin')} get ns\n"
        "\nCtrl-C stops everything."
    )
    code = 0
    example: asyncio.Task[int] | None = None
    if args.example:
        example = asyncio.create_task(play_example(env, bool(env.controllers)))
    await asyncio.wait({t for t in (example, waiter) if t}, return_when=asyncio.FIRST_COMPLETED)
    if example is not None and example.done():
        code = example.result()
        _print("\nThe example scenario finished" + ("." if code == 0 else f" with exit {code}."))
        _print("Everything keeps running; Ctrl-C stops it.")
        await waiter
    elif example is not None:
        example.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await example
    _print("Stopping ...")
    await env.stop()
    return code


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    with open(args.data_dir / "edgemc.log", "a") as log, contextlib.suppress(KeyboardInterrupt):
        klog.configure(args.verbosity, stream=log)
        return asyncio.run(run(args))
    return 0
