"""Command-line parsing of `kubectl ws` (cobra/pflag conventions)."""

from __future__ import annotations

import pytest

from edgemc.cli import flags


def test_root_command_with_one_argument():
    parsed = flags.parse(["root:espw"])
    assert parsed.command.name == "" and parsed.args == ["root:espw"]


@pytest.mark.parametrize("arg", ["-", "..", ".", "~", "root"])
def test_special_arguments_are_positional(arg: str):
    assert flags.parse([arg]).args == [arg]


def test_create_with_flags_anywhere():
    parsed = flags.parse(["create", "--enter", "imw-1", "--type=root:universal"])
    assert parsed.command.name == "create"
    assert parsed.args == ["imw-1"]
    assert parsed.get("enter") is True
    assert parsed.get("type") == "root:universal"
    parsed = flags.parse(["--kubeconfig", "/k", "create", "x", "--type", "team"])
    assert (parsed.get("kubeconfig"), parsed.get("type"), parsed.args) == ("/k", "team", ["x"])


def test_bool_values_and_shorthands():
    parsed = flags.parse(["create", "x", "--enter=false", "--ignore-existing=true"])
    assert parsed.get("enter") is False and parsed.get("ignore_existing") is True
    assert flags.parse(["tree", "-f"]).get("full") is True
    assert flags.parse(["-nfoo", "root"]).get("namespace") == "foo"
    assert flags.parse(["-s", "https://h", "."]).get("server") == "https://h"
    assert flags.parse(["-v=4", "."]).get("v") == "4"


def test_subcommand_is_the_first_positional_argument():
    parsed = flags.parse(["--context", "tree", "use", "tree"])
    assert parsed.command.name == "use"
    assert parsed.get("context") == "tree" and parsed.args == ["tree"]


def test_double_dash_ends_flags():
    assert flags.parse(["use", "--", "-"]).args == ["-"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bogus"], "unknown flag: --bogus"),
        (["-x"], "unknown shorthand flag: 'x' in -x"),
        (["create"], "requires 1 arg(s), received 0"),
        (["create", "a", "b"], "accepts at most 1 arg(s), received 2"),
        (["a", "b"], "accepts at most 1 arg(s), received 2"),
        (["current", "x"], "accepts at most 0 arg(s), received 1"),
        (["create", "x", "--type"], "flag needs an argument: --type"),
        (["create", "x", "--enter=maybe"], 'invalid argument "maybe" for "--enter" flag'),
        (["tree", "--type=x"], "unknown flag: --type"),
    ],
)
def test_usage_errors(argv: list[str], message: str):
    with pytest.raises(flags.UsageError) as raised:
        flags.parse(argv)
    assert str(raised.value).startswith(message)


def test_help_skips_argument_checks_and_usage_lists_commands():
    assert flags.parse(["create", "--help"]).get("help") is True
    text = flags.usage("kubectl ws")
    for word in ("Usage:", "kubectl ws [command]", "create", "tree", "--kubeconfig", "--short"):
        assert word in text
    assert "--type string" in flags.usage("kubectl ws", "create")
