"""Helpers of the simulated-edge-cluster tests: fast node options and kubectl output parsing."""

from __future__ import annotations

import json
from typing import Any

from kubectl_runner import Kubectl

from edgemc.embedded.nodesim import NodeSimOptions, RestartPolicy
from edgemc.runtime.backoff import Backoff


def fast_options() -> NodeSimOptions:
    """Real behaviour at test pace: quick heartbeats, grace periods and restart backoff."""
    return NodeSimOptions(
        heartbeat_interval=0.2,
        node_monitor_grace_period=0.6,
        node_monitor_period=0.1,
        restart=RestartPolicy(
            backoff=Backoff(initial=0.05, factor=2.0, cap=0.2, jitter=0), stop_timeout=5.0
        ),
    )


def table(output: str) -> list[list[str]]:
    """Rows of a kubectl table (header included), split on whitespace."""
    return [line.split() for line in output.strip().splitlines()]


async def kubectl_json(k: Kubectl, *args: str) -> Any:
    proc = await k.arun(*args, "-o", "json")
    return json.loads(proc.stdout)
