"""Warning headers are bounded as kube-apiserver bounds them (pure function, no server)."""

from __future__ import annotations

from edgemc.embedded.apiserver.handlers import (
    WARNING_ITEM_CHARS,
    WARNINGS_TOTAL_CHARS,
    bounded_warnings,
)
from edgemc.embedded.apiserver.validation import config_key_errors


def test_few_warnings_pass_whole_without_repeats() -> None:
    assert bounded_warnings(["a", "b", "a"]) == ["a", "b"]


def test_many_warnings_are_cut_then_dropped() -> None:
    long_ones = [f"{i:04d}" + "x" * 1000 for i in range(100)]
    kept = bounded_warnings(long_ones)
    assert kept and len(kept) < len(long_ones)
    assert all(len(w) == WARNING_ITEM_CHARS for w in kept)
    assert kept[0].startswith("0000") and kept[1].startswith("0001")  # order kept
    framed = sum(len(f'299 - "{w}", ') for w in kept)
    assert framed <= WARNINGS_TOTAL_CHARS


def test_config_keys() -> None:
    assert config_key_errors("index.html") == []
    assert config_key_errors("KEY_name-1") == []
    assert config_key_errors("not a key")
    assert config_key_errors(".") == ["must not be '.'"]
    assert config_key_errors("..x") == ["must not start with '..'"]
    assert config_key_errors("k" * 254) == ["must be no more than 253 characters"]
