"""config/ is generated from edgemc/apis: CI fails when the checked-in files are stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_config_is_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hack.gen_config", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"config/ is stale; run `make config`:\n{proc.stdout}{proc.stderr}"
