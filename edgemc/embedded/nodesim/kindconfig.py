"""kind cluster configuration files: the node's `extraPortMappings`, parsed and checked.

A kind node is a container; `extraPortMappings` publish one of its ports (`containerPort`,
the port a pod's `hostPort` opens on the node) on the machine running it (`hostPort`, on
`listenAddress`, default 0.0.0.0). Only the parts the simulated edge clusters use are read:
the config's kind and apiVersion, the nodes' roles and their port mappings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KIND_API_VERSION = "kind.x-k8s.io/v1alpha4"
DEFAULT_LISTEN_ADDRESS = "0.0.0.0"
PROTOCOLS = ("TCP", "UDP", "SCTP")


class KindConfigError(ValueError):
    """A kind config that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class PortMapping:
    """One published port: node port `container_port` reachable on `host_port` of the host."""

    container_port: int
    host_port: int
    listen_address: str = DEFAULT_LISTEN_ADDRESS
    protocol: str = "TCP"


@dataclass(frozen=True)
class KindConfig:
    """What a simulated cluster takes from a kind config: the nodes' port mappings."""

    port_mappings: tuple[PortMapping, ...] = ()
    roles: tuple[str, ...] = ("control-plane",)


# The seed scenario's configs (florin-config.yaml and guilder-config.yaml).
FLORIN_CONFIG = KindConfig(port_mappings=(PortMapping(8081, 8081),))
GUILDER_CONFIG = KindConfig(port_mappings=(PortMapping(8081, 8083), PortMapping(8082, 8082)))
SEED_CONFIGS: dict[str, KindConfig] = {"florin": FLORIN_CONFIG, "guilder": GUILDER_CONFIG}


def load_kind_config(path: Path | str) -> KindConfig:
    """Read and parse a kind config file (see `parse_kind_config`)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise KindConfigError(f"{path}: cannot read kind config: {err.strerror}") from err
    return parse_kind_config(text, source=str(path))


def parse_kind_config(text: str, source: str = "kind config") -> KindConfig:
    """Parse the YAML of a kind `Cluster` config; raises KindConfigError on any mistake."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise KindConfigError(f"{source}: not valid YAML: {err}") from err
    if not isinstance(doc, dict):
        raise KindConfigError(f"{source}: expected a mapping with kind: Cluster")
    if doc.get("kind") != "Cluster":
        raise KindConfigError(f"{source}: kind must be Cluster, not {doc.get('kind')!r}")
    if doc.get("apiVersion") != KIND_API_VERSION:
        raise KindConfigError(
            f"{source}: apiVersion must be {KIND_API_VERSION}, not {doc.get('apiVersion')!r}"
        )
    nodes = doc.get("nodes")
    if nodes is None:
        return KindConfig()
    if not isinstance(nodes, list):
        raise KindConfigError(f"{source}: nodes must be a list")
    roles: list[str] = []
    mappings: list[PortMapping] = []
    for i, node in enumerate(nodes):
        where = f"{source}: nodes[{i}]"
        if not isinstance(node, dict):
            raise KindConfigError(f"{where}: must be a mapping")
        role = node.get("role", "control-plane")
        if role not in ("control-plane", "worker"):
            raise KindConfigError(f"{where}.role: must be control-plane or worker, not {role!r}")
        roles.append(role)
        extra = node.get("extraPortMappings") or []
        if not isinstance(extra, list):
            raise KindConfigError(f"{where}.extraPortMappings: must be a list")
        for j, entry in enumerate(extra):
            mappings.append(_port_mapping(entry, f"{where}.extraPortMappings[{j}]"))
    if "control-plane" not in roles:
        raise KindConfigError(f"{source}: needs a node with role control-plane")
    seen: set[tuple[str, int, str]] = set()
    for m in mappings:
        key = (m.listen_address, m.host_port, m.protocol)
        if m.host_port and key in seen:
            raise KindConfigError(f"{source}: hostPort {m.host_port} is mapped twice")
        seen.add(key)
    return KindConfig(port_mappings=tuple(mappings), roles=tuple(roles))


def _port_mapping(entry: Any, where: str) -> PortMapping:
    if not isinstance(entry, dict):
        raise KindConfigError(f"{where}: must be a mapping")
    container_port = _port(entry.get("containerPort"), f"{where}.containerPort", required=True)
    # kind: an absent hostPort (or 0) publishes on a random free port.
    host_port = _port(entry.get("hostPort", 0), f"{where}.hostPort", required=False)
    listen = entry.get("listenAddress", DEFAULT_LISTEN_ADDRESS)
    if not isinstance(listen, str) or not listen:
        raise KindConfigError(f"{where}.listenAddress: must be an IP address")
    protocol = str(entry.get("protocol", "TCP")).upper()
    if protocol not in PROTOCOLS:
        raise KindConfigError(f"{where}.protocol: must be one of {', '.join(PROTOCOLS)}")
    return PortMapping(container_port, host_port, listen, protocol)


def _port(value: Any, where: str, *, required: bool) -> int:
    if value is None and required:
        raise KindConfigError(f"{where}: required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise KindConfigError(f"{where}: must be an integer, not {value!r}")
    if not (0 if not required else 1) <= value <= 65535:
        raise KindConfigError(f"{where}: {value} is not a port number")
    return value
