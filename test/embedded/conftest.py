"""Fixtures for the simulated edge clusters: fast-paced EdgeClusters and condition waits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from kubectl_runner import Kubectl
from simhelpers import fast_options

from edgemc.embedded.edgecluster import EdgeCluster


@pytest.fixture
async def make_cluster(tmp_path: Path) -> AsyncIterator[Callable[..., EdgeCluster]]:
    """EdgeCluster factory (fast options, data dir under tmp_path); clusters stop at the end."""
    made: list[EdgeCluster] = []

    def make(name: str = "florin", **kwargs: Any) -> EdgeCluster:
        kwargs.setdefault("data_dir", tmp_path / name)
        kwargs.setdefault("node_options", fast_options())
        cluster = EdgeCluster(name, **kwargs)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        await cluster.stop()


@pytest.fixture
async def cluster(make_cluster: Callable[..., EdgeCluster]) -> AsyncIterator[EdgeCluster]:
    c = make_cluster("florin")
    await c.start()
    try:
        yield c
    finally:
        await c.stop()


@pytest.fixture
def kubectl(tmp_path: Path) -> Callable[[EdgeCluster], Kubectl]:
    """A real kubectl for a started cluster (its `kind-<name>` kubeconfig)."""

    def make(c: EdgeCluster) -> Kubectl:
        path = c.write_kubeconfig(tmp_path / f"{c.name}.kubeconfig")
        return Kubectl(path, tmp_path / f"{c.name}-cache")

    return make
