"""Simulated kind nodes for edge clusters: pods run, Deployments become ready (a simulation).

The package is a small kube-controller-manager (Deployments, ReplicaSets, node lifecycle)
and kubelet written as clients of an embedded API server. Pods do not run containers:
ordinary containers are reported running at once, edgemc components (`python -m edgemc.cmd
NAME`) run for real (in this process, or as child processes with
`NodeSimOptions(component_processes=True)`), and ConfigMap files of pods with a `hostPort` are
served on the port a kind `extraPortMappings` entry publishes. See `simulator` for the entry
point and `edgemc.embedded.edgecluster` for a whole simulated cluster.
"""

from __future__ import annotations

from edgemc.embedded.nodesim.containers import ComponentResolver, RestartPolicy, default_resolver
from edgemc.embedded.nodesim.kindconfig import (
    FLORIN_CONFIG,
    GUILDER_CONFIG,
    SEED_CONFIGS,
    KindConfig,
    KindConfigError,
    PortMapping,
    load_kind_config,
    parse_kind_config,
)
from edgemc.embedded.nodesim.simulator import NodeSimOptions, NodeSimulator

__all__ = [
    "FLORIN_CONFIG",
    "GUILDER_CONFIG",
    "SEED_CONFIGS",
    "ComponentResolver",
    "KindConfig",
    "KindConfigError",
    "NodeSimOptions",
    "NodeSimulator",
    "PortMapping",
    "RestartPolicy",
    "default_resolver",
    "load_kind_config",
    "parse_kind_config",
]
