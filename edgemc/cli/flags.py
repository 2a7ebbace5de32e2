"""Command-line parsing for `kubectl ws` with cobra/pflag conventions.

Conventions kept from kubectl plugins written with cobra: flags may appear anywhere
(`--type T`, `--type=T`, `-n ns`, `-nns`), booleans take no value or `=true|false`, `--`
ends the flags, a lone `-` is an argument, and the subcommand is the first argument that
names one (so a workspace called `tree` is entered with `kubectl ws use tree`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class UsageError(Exception):
    """Bad command line; printed as `Error: ...` followed by the usage text."""

    def __init__(self, message: str, command: str = "") -> None:
        super().__init__(message)
        self.command = command


@dataclass(frozen=True)
class Flag:
    """One flag: long name, optional one-letter shorthand, bool or string, help line."""

    name: str
    help: str
    kind: str = "string"  # "string" | "bool"
    shorthand: str = ""
    hidden: bool = False

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, usage line, summary, argument count bounds and own flags."""

    name: str
    use: str
    summary: str
    min_args: int = 0
    max_args: int = 0
    flags: tuple[Flag, ...] = ()


GLOBAL_FLAGS: tuple[Flag, ...] = (
    Flag("kubeconfig", "Path to the kubeconfig file to read and update."),
    Flag("context", "Name of the kubeconfig context to use."),
    Flag("user", "Name of the kubeconfig user to use."),
    Flag("server", "Address of the API server (overrides the kubeconfig).", shorthand="s"),
    Flag("certificate-authority", "Path to a CA certificate file for the server."),
    Flag(
        "insecure-skip-tls-verify",
        "Do not verify the server's certificate (insecure).",
        kind="bool",
    ),
    Flag("tls-server-name", "Server name to use for certificate validation."),
    Flag("token", "Bearer token for authentication."),
    Flag("username", "Username for basic authentication."),
    Flag("password", "Password for basic authentication."),
    Flag("namespace", "Namespace (accepted for kubectl compatibility; unused).", shorthand="n"),
    Flag("v", "Log verbosity (accepted for compatibility; unused).", shorthand="v", hidden=True),
    Flag("help", "Show help for the command.", kind="bool", shorthand="h"),
)

_SHORT = Flag("short", "Print only the workspace path, e.g. for a shell prompt.", kind="bool")

ROOT = Command(
    name="",
    use="[use|current|create|create-context|tree|<workspace>|..|.|-|~|<root:absolute:path>]",
    summary="Show or change the current kcp workspace in the kubeconfig.",
    max_args=1,
    flags=(_SHORT,),
)

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "create",
            "create NAME [--type TYPE] [--enter] [--ignore-existing]",
            "Create a workspace in the current workspace and wait until it is ready.",
            min_args=1,
            max_args=1,
            flags=(
                Flag("type", "Workspace type, as NAME or PATH:NAME (default: parent's choice)."),
                Flag("enter", "Enter the workspace once it is ready.", kind="bool"),
                Flag(
                    "ignore-existing",
                    "Succeed if the workspace exists already (type must be absolute if given).",
                    kind="bool",
                ),
                Flag("location-selector", "Label selector choosing the shard for the workspace."),
            ),
        ),
        Command(
            "create-context",
            "create-context [NAME] [--overwrite]",
            "Add a kubeconfig context for the current workspace and switch to it.",
            max_args=1,
            flags=(Flag("overwrite", "Replace an existing context of that name.", kind="bool"),),
        ),
        Command(
            "current",
            "current [--short]",
            "Print the current workspace (the same as '.').",
            flags=(_SHORT,),
        ),
        Command(
            "tree",
            "tree [--full]",
            "Print the workspaces below the current one as a tree.",
            flags=(Flag("full", "Label nodes with full paths.", kind="bool", shorthand="f"),),
        ),
        Command(
            "use",
            "use <workspace>|..|.|-|~|<root:absolute:path>",
            "Enter a workspace: a child name, an absolute path, '..' (parent), '-' (previous),"
            " '.' (current) or '~' (home).",
            min_args=1,
            max_args=1,
            flags=(_SHORT,),
        ),
    )
}


@dataclass
class Parsed:
    """The outcome of parsing: which command, its positional args and flag values."""

    command: Command
    args: list[str]
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name.replace("-", "_"), default)


def _all_flags() -> dict[str, Flag]:
    flags = {f.name: f for f in GLOBAL_FLAGS}
    for command in (ROOT, *COMMANDS.values()):
        for flag in command.flags:
            flags.setdefault(flag.name, flag)
    return flags


def _parse_bool(flag: Flag, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise UsageError(f'invalid argument "{value}" for "--{flag.name}" flag: expected true or false')


def _scan(
    argv: list[str], flags: dict[str, Flag], command_name: str
) -> tuple[list[tuple[int, str]], dict[str, Any]]:
    """Split argv into (position, positional arg) pairs and flag values."""
    by_short = {f.shorthand: f for f in flags.values() if f.shorthand}
    args: list[tuple[int, str]] = []
    values: dict[str, Any] = {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            args.extend((n, a) for n, a in enumerate(argv[index:], start=index))
            break
        if arg == "-" or not arg.startswith("-"):
            args.append((index - 1, arg))
            continue
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            flag = flags.get(name)
            if flag is None:
                raise UsageError(f"unknown flag: --{name}", command_name)
            shown = f"--{name}"
        else:
            letter, rest = arg[1], arg[2:]
            flag = by_short.get(letter)
            if flag is None:
                raise UsageError(f"unknown shorthand flag: '{letter}' in {arg}", command_name)
            has_value = rest != ""
            value = rest[1:] if rest.startswith("=") else rest
            shown = f"'{letter}' in {arg}"
            if flag.kind == "bool" and has_value and not rest.startswith("="):
                raise UsageError(f"unknown shorthand flag: '{rest[0]}' in {arg}", command_name)
        if flag.kind == "bool":
            values[flag.dest] = _parse_bool(flag, value) if has_value else True
            continue
        if not has_value:
            if index >= len(argv):
                raise UsageError(f"flag needs an argument: {shown}", command_name)
            value = argv[index]
            index += 1
        values[flag.dest] = value
    return args, values


def parse(argv: list[str]) -> Parsed:
    """Parse `kubectl ws` arguments (without the program name) into a command invocation."""
    positional, _ = _scan(argv, _all_flags(), "")
    command = ROOT
    if positional and positional[0][1] in COMMANDS:
        position, name = positional[0]
        command = COMMANDS[name]
        argv = argv[:position] + argv[position + 1 :]
    allowed = {f.name: f for f in (*GLOBAL_FLAGS, *command.flags)}
    scanned, values = _scan(argv, allowed, command.name)
    args = [arg for _, arg in scanned]
    parsed = Parsed(command, args, values)
    if parsed.get("help"):
        return parsed
    if len(args) > command.max_args:
        raise UsageError(
            f"accepts at most {command.max_args} arg(s), received {len(args)}", command.name
        )
    if len(args) < command.min_args:
        raise UsageError(f"requires {command.min_args} arg(s), received {len(args)}", command.name)
    return parsed


def _flag_lines(flags: tuple[Flag, ...]) -> list[str]:
    rows = []
    for flag in flags:
        if flag.hidden:
            continue
        short = f"-{flag.shorthand}, " if flag.shorthand else "    "
        rows.append((f"  {short}--{flag.name}{' string' if flag.kind == 'string' else ''}", flag))
    width = max(len(text) for text, _ in rows)
    return [f"{text.ljust(width)}   {flag.help}" for text, flag in rows]


def usage(program: str, command_name: str = "") -> str:
    """Cobra-style help text for the root command or a subcommand."""
    if command_name:
        command = COMMANDS[command_name]
        lines = [command.summary, "", "Usage:", f"  {program} {command.use} [flags]", ""]
        lines += ["Flags:", *_flag_lines(command.flags), ""]
        lines += ["Global Flags:", *_flag_lines(GLOBAL_FLAGS)]
        return "\n".join(lines) + "\n"
    width = max(len(name) for name in COMMANDS)
    lines = [ROOT.summary, "", "Usage:", f"  {program} {ROOT.use} [flags]"]
    lines += [f"  {program} [command]", "", "Aliases:", "  workspace, ws, workspaces", ""]
    lines += ["Available Commands:"]
    lines += [f"  {name.ljust(width)}  {c.summary}" for name, c in sorted(COMMANDS.items())]
    lines += ["", "Flags:", *_flag_lines((*ROOT.flags, *GLOBAL_FLAGS)), ""]
    lines += [f'Use "{program} [command] --help" for more information about a command.']
    return "\n".join(lines) + "\n"
