"""Pure argument handling of `kubectl ws create`: --type and --location-selector."""

from __future__ import annotations

import pytest

from edgemc.cli.kubectl_ws import CommandError, parse_label_selector, parse_workspace_type


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("universal", {"name": "universal"}),
        ("Universal", {"name": "universal"}),
        ("root:universal", {"name": "universal", "path": "root"}),
        ("root:my-org:Team", {"name": "team", "path": "root:my-org"}),
    ],
)
def test_parse_workspace_type(text: str, ref: dict):
    assert parse_workspace_type(text) == ref


def test_parse_label_selector():
    assert parse_label_selector("region=eu, tier==gold") == {
        "matchLabels": {"region": "eu", "tier": "gold"}
    }
    assert parse_label_selector("a in (x, y),b notin (z),c!=d,e,!f") == {
        "matchExpressions": [
            {"key": "a", "operator": "In", "values": ["x", "y"]},
            {"key": "b", "operator": "NotIn", "values": ["z"]},
            {"key": "c", "operator": "NotIn", "values": ["d"]},
            {"key": "e", "operator": "Exists"},
            {"key": "f", "operator": "DoesNotExist"},
        ]
    }
    assert parse_label_selector("") == {}
    with pytest.raises(CommandError):
        parse_label_selector("a in x")
