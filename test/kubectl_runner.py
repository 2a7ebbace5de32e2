"""Runs the real kubectl (v1.32 on PATH) against a kubeconfig, for the end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

KUBECTL = shutil.which("kubectl")


@dataclass
class Kubectl:
    """Runs the real kubectl against a kubeconfig, with a private discovery cache."""

    kubeconfig: Path
    cache_dir: Path

    def run(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        if KUBECTL is None:
            pytest.fail("kubectl (v1.32) must be on PATH for the end-to-end tests")
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        proc = subprocess.run(
            [KUBECTL, f"--cache-dir={self.cache_dir}", *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    async def arun(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`run` in a worker thread, so a server in this event loop can answer kubectl."""
        return await asyncio.to_thread(self.run, *args, input=input, check=check)
