"""A user's view of a running edgemc: `python -m edgemc.cmd up` as a separate process, and
helpers to drive it with the real kubectl and the project's scripts.

Everything here is synchronous: the system under test runs in other processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl")


def require_kubectl() -> str:
    if KUBECTL is None:
        pytest.fail("kubectl (v1.32) must be on PATH for the end-to-end tests")
    return KUBECTL


@dataclass
class UpProcess:
    """A running `up` and the files it wrote."""

    proc: subprocess.Popen[str]
    data_dir: Path
    output: list[str]

    @property
    def admin_kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def edge_kubeconfig(self) -> Path:
        return self.data_dir / "edge-clusters.kubeconfig"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_up(data_dir: Path, *args: str, ready_within: float = 60.0) -> UpProcess:
    """Start `python -m edgemc.cmd up --port 0 --data-dir DATA_DIR ARGS` and wait until it
    prints that it is ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgemc.cmd", "up", "--port=0", f"--data-dir={data_dir}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=user_environ(),
        cwd=REPO,
    )
    up = UpProcess(proc, data_dir, [])
    deadline = time.monotonic() + ready_within
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            up.stop()
            pytest.fail("up exited before it was ready:\n" + "".join(up.output))
        up.output.append(line)
        if "Ctrl-C stops everything" in line:
            return up
    up.stop()
    pytest.fail("up was not ready in time:\n" + "".join(up.output))


def user_environ(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: the project's venv (kubectl plugins) on PATH."""
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "PYTHON": sys.executable, **extra}


@dataclass
class Shell:
    """A user's shell: KUBECONFIG (a private copy of admin.kubeconfig) and a work directory."""

    kubeconfig: Path
    edge_kubeconfig: Path
    workdir: Path

    def run(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = user_environ(
            KUBECONFIG=str(self.kubeconfig), EDGE_KUBECONFIG=str(self.edge_kubeconfig)
        )
        proc = subprocess.run(
            list(args),
            input=input,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.workdir,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return self.run(require_kubectl(), *args, input=input).stdout

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def edge(self, cluster: str, *args: str) -> str:
        kubectl = require_kubectl()
        return self.run(
            kubectl, f"--kubeconfig={self.edge_kubeconfig}", f"--context=kind-{cluster}", *args
        ).stdout

    def edge_json(self, cluster: str, *args: str) -> Any:
        return json.loads(self.edge(cluster, *args, "-o", "json"))

    def ws(self, path: str) -> None:
        self.kubectl("ws", path)


def eventually(check: Callable[[], Any], within: float = 60.0, what: str = "") -> Any:
    """Call `check` until it returns without AssertionError (and truthy); its last result."""
    deadline = time.monotonic() + within
    while True:
        try:
            result = check()
            if result is None or result:
                return result
            error: AssertionError = AssertionError(f"{what or check} returned {result!r}")
        except AssertionError as err:
            error = err
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {within}s: {what}\n{error}")
        time.sleep(0.25)


def http_get(port: int) -> str:
    with urllib.request.urlopen(f"http://localhost:{port}", timeout=5) as response:
        return response.read().decode()
