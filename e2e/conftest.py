"""Fixtures of the end-to-end tests: one `up --controllers=none` per module and a shell."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from userenv import Shell, UpProcess, require_kubectl, start_up


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def up_no_controllers(workdir: Path) -> Iterator[UpProcess]:
    """`up --controllers=none` with a third cluster, gouda, that joins the inventory later."""
    require_kubectl()
    up = start_up(
        workdir / ".kcp",
        "--controllers=none",
        "--edge-cluster=florin",
        "--edge-cluster=guilder",
        "--edge-cluster=gouda",
    )
    try:
        yield up
    finally:
        up.stop()


@pytest.fixture(scope="module")
def shell(up_no_controllers: UpProcess, workdir: Path) -> Shell:
    kubeconfig = workdir / "admin.kubeconfig"
    shutil.copyfile(up_no_controllers.admin_kubeconfig, kubeconfig)
    os.chmod(kubeconfig, 0o600)
    return Shell(kubeconfig, up_no_controllers.edge_kubeconfig, workdir)
