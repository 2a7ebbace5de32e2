"""Command-line flags every component shares, and their typed result.

Flags: `--kubeconfig` (default `$KUBECONFIG`, then `~/.kube/config`), `--context`,
`-v=N`/`--v=N` (klog's spelling), `--metrics-addr`, `--health-addr`, `--leader-elect`.
Unknown flags make argparse print usage and exit 2.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

_KLOG_V = re.compile(r"^-v=(.*)$")


def default_kubeconfig() -> str:
    """`$KUBECONFIG` if set (possibly a list of files), else `~/.kube/config`."""
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


@dataclass(frozen=True)
class CommonOptions:
    """The shared flags, parsed."""

    # Path(s) of the kubeconfig; as KUBECONFIG, several paths may be joined with ':'.
    kubeconfig: str
    # Context to use; None = the kubeconfig's current-context.
    context: str | None = None
    # klog verbosity: V(n) lines are written when n <= verbosity. 0 as in klog.
    verbosity: int = 0
    # host:port for /metrics; port 0 picks a free port, "" or "0" disables the endpoint.
    metrics_addr: str = "127.0.0.1:0"
    # host:port for /healthz and /readyz; same rules as metrics_addr.
    health_addr: str = "127.0.0.1:0"
    # Take a coordination.k8s.io Lease before doing work (for running several replicas).
    leader_elect: bool = False


def add_common_flags(
    parser: argparse.ArgumentParser,
    *,
    default_verbosity: int = 0,
    default_metrics_addr: str = "127.0.0.1:0",
    default_health_addr: str = "127.0.0.1:0",
) -> None:
    """Add the shared flags to `parser`."""
    group = parser.add_argument_group("common flags")
    group.add_argument(
        "--kubeconfig",
        default=None,
        help="path to the kubeconfig (default: $KUBECONFIG, then ~/.kube/config)",
    )
    group.add_argument("--context", default=None, help="kubeconfig context (default: current)")
    group.add_argument(
        "-v",
        "--v",
        dest="verbosity",
        type=int,
        default=default_verbosity,
        metavar="N",
        help=f"log verbosity, as klog's -v=N (default {default_verbosity})",
    )
    group.add_argument(
        "--metrics-addr",
        default=default_metrics_addr,
        help=f"host:port serving /metrics; port 0 = any free port (default {default_metrics_addr})",
    )
    group.add_argument(
        "--health-addr",
        default=default_health_addr,
        help=f"host:port serving /healthz and /readyz (default {default_health_addr})",
    )
    group.add_argument(
        "--leader-elect",
        action="store_true",
        help="hold a coordination.k8s.io Lease while working, so one replica is active",
    )


def normalize_args(argv: Sequence[str]) -> list[str]:
    """Rewrite klog's `-v=N` as `--v=N` so no argparse version can read it as "=N"."""
    out: list[str] = []
    for arg in argv:
        if arg == "--":
            out.extend(argv[len(out) :])
            break
        m = _KLOG_V.match(arg)
        out.append(f"--v={m.group(1)}" if m else arg)
    return out


def common_options(args: argparse.Namespace) -> CommonOptions:
    """The typed shared options out of a namespace parsed with `add_common_flags`."""
    return CommonOptions(
        kubeconfig=args.kubeconfig or default_kubeconfig(),
        context=args.context,
        verbosity=args.verbosity,
        metrics_addr=args.metrics_addr,
        health_addr=args.health_addr,
        leader_elect=args.leader_elect,
    )


def parse_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None = None
) -> tuple[CommonOptions, argparse.Namespace]:
    """Parse `argv` (klog spellings accepted) into the shared options and the full namespace."""
    import sys

    args = parser.parse_args(normalize_args(sys.argv[1:] if argv is None else argv))
    return common_options(args), args


def parse_address(addr: str) -> tuple[str, int] | None:
    """`host:port` -> (host, port); ":8080" binds all interfaces; "" or "0" -> None (off)."""
    if addr in ("", "0"):
        return None
    host, sep, port = addr.rpartition(":")
    if not sep:
        raise ValueError(f"address {addr!r} is not host:port")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)
