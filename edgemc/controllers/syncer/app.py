"""The `syncer` component: flags and clients of the edge syncer (spec 7.1).

`--from-kubeconfig`/`--from-context` reach the mailbox workspace (the kubeconfig's server
URL either names the workspace, `.../clusters/<path>`, or is the bare server and the
ServiceAccount token picks the workspace, as in the manifest `mailbox-prep.sh` writes).
`--to-kubeconfig`/`--to-context` reach the edge cluster; without them the in-cluster
configuration (KUBERNETES_SERVICE_HOST/PORT and the pod's ServiceAccount files) is used.
`--from-cluster`, `--sync-target-name` and `--sync-target-uid` only label the logs, as in
the original. `--qps`/`--burst` limit the syncer's own requests.

The component framework builds the manager on the common `--kubeconfig` client; for the
syncer that is the edge cluster (leader election, if asked for, happens there). `main`
therefore fills in `--kubeconfig` from `--to-kubeconfig` (or from the in-cluster
configuration) when it is not given; callers of `app.running`/`app.run` pass it themselves
(the simulated node does).
"""

from __future__ import annotations

import argparse
import asyncio.sslproto
import os
import ssl
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

from edgemc.controllers import app
from edgemc.controllers.syncer.engine import Engine, SyncerOptions
from edgemc.controllers.syncer.heartbeat import run_heartbeat
from edgemc.runtime import Client, ClusterConfig, Manager, get_logger

log = get_logger("edgemc.controllers.syncer")

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# A syncer holds a watch connection per synced resource on each side, and asyncio's TLS
# transport gives every connection a 256 KiB read buffer filled with zeros at once (RSS).
# The buffer only bounds one socket read (a TLS record carries at most 16 KiB): 32 KiB
# costs no throughput. Process-wide, as in the embedded server (`TLS_READ_BUFFER` there).
TLS_READ_BUFFER = 32 * 1024


def add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("syncer")
    group.add_argument("--from-cluster", default="", help="the mailbox workspace (for logs)")
    group.add_argument(
        "--to-kubeconfig", default=None, help="kubeconfig for the edge cluster (default in-cluster)"
    )
    group.add_argument("--to-context", default=None, help="context in --to-kubeconfig")
    group.add_argument("--sync-target-name", default="", help="SyncTarget name (for logs)")
    group.add_argument("--sync-target-uid", default="", help="SyncTarget UID (for logs)")
    group.add_argument(
        "--qps", type=float, default=30.0, help="requests per second (<= 0: no limit; default 30)"
    )
    group.add_argument("--burst", type=int, default=20, help="request burst (default 20)")
    group.add_argument(
        "--resync-period",
        type=float,
        default=60.0,
        help="seconds between full reconciliations (default 60)",
    )
    group.add_argument(
        "--heartbeat-period",
        type=float,
        default=10.0,
        help="seconds between SyncerConfig heartbeats (default 10; <= 0: none)",
    )
    group.add_argument("--workers", type=int, default=8, help="reconcile workers (default 8)")


def in_cluster_config() -> ClusterConfig:
    """The pod's own API server access (KUBERNETES_SERVICE_HOST/PORT, ServiceAccount files)."""
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise RuntimeError("no --to-kubeconfig and not running in a cluster")
    token = (SERVICE_ACCOUNT_DIR / "token").read_text().strip()
    config = ClusterConfig.for_server(f"https://{_host(host)}:{port}", token)
    config.ssl = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT_DIR / "ca.crt"))
    return config


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _in_cluster_kubeconfig() -> str:
    """A kubeconfig file equivalent to the in-cluster configuration (for the manager)."""
    config = in_cluster_config()
    token = config.headers["Authorization"].removeprefix("Bearer ")
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "in-cluster",
                "cluster": {
                    "server": config.server,
                    "certificate-authority": str(SERVICE_ACCOUNT_DIR / "ca.crt"),
                },
            }
        ],
        # The token itself, not `tokenFile`: the loader would keep a trailing newline.
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "sa"}}],
        "current-context": "in-cluster",
    }
    fd, path = tempfile.mkstemp(prefix="syncer-in-cluster-", suffix=".kubeconfig")
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(doc, f)
    return path


def options_from(args: argparse.Namespace) -> SyncerOptions:
    return SyncerOptions(
        resync_period=args.resync_period,
        workers=args.workers,
        qps=args.qps,
        burst=args.burst,
        sync_target_name=args.sync_target_name,
    )


async def build(mgr: Manager, args: argparse.Namespace, clients: app.Clients) -> None:
    if asyncio.sslproto.SSLProtocol.max_size > TLS_READ_BUFFER:
        asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER
    mailbox = await clients.get("from")
    if args.to_kubeconfig:
        edge = await Client.from_kubeconfig(args.to_kubeconfig, args.to_context)
    else:
        edge = Client(in_cluster_config())
    engine = Engine(mailbox, edge, options_from(args), close_clients=True)
    engine.install(mgr)
    if args.heartbeat_period > 0:
        mgr.add_runnable(lambda: run_heartbeat(engine, args.heartbeat_period))
    log.info(
        "Starting edge syncer",
        syncTarget=args.sync_target_name,
        syncTargetUID=args.sync_target_uid,
        mailbox=mailbox.base_url,
        fromCluster=args.from_cluster,
        edge=edge.base_url,
    )


APP = app.App(
    name="syncer",
    description="Sync one edge cluster with its mailbox workspace (downsync, upsync, status).",
    build=build,
    # --from-kubeconfig / --from-context; as an app client it is checked before anything
    # starts and its server waited for like the manager's (the edge cluster's).
    client_flags=(app.ClientFlag("from", None, "the mailbox workspace", required=True),),
    add_flags=add_flags,
    default_verbosity=0,
)


def complete_argv(argv: Sequence[str]) -> list[str]:
    """`argv` with `--kubeconfig` (the manager's client) defaulted to the edge cluster."""
    args = list(argv)

    def value(flag: str) -> str | None:
        for i, arg in enumerate(args):
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
            if arg == flag and i + 1 < len(args):
                return args[i + 1]
        return None

    if value("--kubeconfig") is not None:
        return args
    to = value("--to-kubeconfig")
    if to is not None:
        args.append(f"--kubeconfig={to}")
        context = value("--to-context")
        if context is not None and value("--context") is None:
            args.append(f"--context={context}")
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        args.append(f"--kubeconfig={_in_cluster_kubeconfig()}")
    return args


def main(argv: list[str] | None = None) -> int:
    import sys

    return app.main(APP, complete_argv(sys.argv[1:] if argv is None else argv))
