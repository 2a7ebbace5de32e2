"""Tests of the shared command-line flags."""

from __future__ import annotations

import argparse
import os

import pytest

from edgemc.runtime.options import (
    add_common_flags,
    normalize_args,
    parse_address,
    parse_args,
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="component")
    add_common_flags(p)
    p.add_argument("--workers", type=int, default=1)
    return p


@pytest.mark.parametrize("spelling", [["-v=3"], ["--v=3"], ["-v", "3"], ["--v", "3"], ["-v3"]])
def test_klog_verbosity_spellings(spelling: list[str]) -> None:
    opts, _ = parse_args(parser(), spelling)
    assert opts.verbosity == 3


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    opts, args = parse_args(parser(), [])
    assert opts.kubeconfig == os.path.expanduser("~/.kube/config")
    assert opts.context is None and opts.verbosity == 0 and not opts.leader_elect
    assert args.workers == 1
    monkeypatch.setenv("KUBECONFIG", "/tmp/kc")
    assert parse_args(parser(), [])[0].kubeconfig == "/tmp/kc"


def test_all_flags() -> None:
    opts, args = parse_args(
        parser(),
        [
            "--kubeconfig=/k",
            "--context",
            "system:admin",
            "--metrics-addr=:9090",
            "--health-addr",
            "127.0.0.1:0",
            "--leader-elect",
            "--workers=4",
        ],
    )
    assert (opts.kubeconfig, opts.context, opts.leader_elect) == ("/k", "system:admin", True)
    assert parse_address(opts.metrics_addr) == ("0.0.0.0", 9090)
    assert parse_address(opts.health_addr) == ("127.0.0.1", 0)
    assert args.workers == 4


def test_unknown_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(parser(), ["--nope"])
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_normalize_leaves_positionals_after_double_dash() -> None:
    assert normalize_args(["-v=2", "--", "-v=3"]) == ["--v=2", "--", "-v=3"]
    assert parse_address("") is None and parse_address("0") is None
    assert parse_address("[::1]:80") == ("::1", 80)
