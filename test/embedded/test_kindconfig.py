"""kind config parsing: the seed's two files, defaults, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemc.embedded.edgecluster import EdgeCluster
from edgemc.embedded.nodesim import (
    FLORIN_CONFIG,
    GUILDER_CONFIG,
    KindConfig,
    KindConfigError,
    PortMapping,
    load_kind_config,
    parse_kind_config,
)

FLORIN_YAML = """\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
  extraPortMappings:
  - containerPort: 8081
    hostPort: 8081
"""

GUILDER_YAML = """\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
  extraPortMappings:
  - containerPort: 8081
    hostPort: 8083
  - containerPort: 8082
    hostPort: 8082
"""


def test_seed_files_parse_to_the_seed_constants(tmp_path: Path) -> None:
    assert parse_kind_config(FLORIN_YAML) == FLORIN_CONFIG
    path = tmp_path / "guilder-config.yaml"
    path.write_text(GUILDER_YAML)
    assert load_kind_config(path) == GUILDER_CONFIG
    assert GUILDER_CONFIG.port_mappings == (PortMapping(8081, 8083), PortMapping(8082, 8082))


def test_defaults() -> None:
    assert parse_kind_config("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n") == KindConfig()
    config = parse_kind_config(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n"
        "  extraPortMappings:\n  - containerPort: 80\n    listenAddress: 127.0.0.1\n"
        "    protocol: udp\n- role: worker\n"
    )
    assert config.port_mappings == (PortMapping(80, 0, "127.0.0.1", "UDP"),)
    assert config.roles == ("control-plane", "worker")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Cluster\napiVersion: [unclosed\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping"),
        ("kind: Pod\napiVersion: kind.x-k8s.io/v1alpha4\n", "kind must be Cluster"),
        ("kind: Cluster\napiVersion: v1\n", "apiVersion must be kind.x-k8s.io/v1alpha4"),
        ("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: {}\n", "nodes must be a list"),
        (
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: worker\n",
            "needs a node with role control-plane",
        ),
        (
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: boss\n",
            "nodes[0].role",
        ),
        (
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- extraPortMappings:\n"
            "  - hostPort: 8081\n",
            "nodes[0].extraPortMappings[0].containerPort: required",
        ),
        (
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- extraPortMappings:\n"
            "  - containerPort: '8081'\n",
            "must be an integer",
        ),
        (
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- extraPortMappings:\n"
            "  - {containerPort: 8081, hostPort: 70000}\n",
            "70000 is not a port number",
        ),
        (
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- extraPortMappings:\n"
            "  - {containerPort: 1, hostPort: 8081}\n  - {containerPort: 2, hostPort: 8081}\n",
            "hostPort 8081 is mapped twice",
        ),
    ],
)
def test_malformed_configs_are_rejected_clearly(text: str, message: str) -> None:
    with pytest.raises(KindConfigError) as err:
        parse_kind_config(text, source="bad.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("bad.yaml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KindConfigError, match="cannot read kind config"):
        load_kind_config(tmp_path / "nope.yaml")


def test_edge_cluster_takes_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "guilder-config.yaml"
    path.write_text(GUILDER_YAML)
    assert EdgeCluster("guilder", kind_config=path).kind_config == GUILDER_CONFIG
    path.write_text("kind: Cluster\n")
    with pytest.raises(KindConfigError, match=r"guilder-config\.yaml: apiVersion"):
        EdgeCluster("guilder", kind_config=str(path))
