"""Dispatch `python -m edgemc.cmd NAME [flags]` to the named component's `main(argv)`."""

from __future__ import annotations

import importlib
import sys

from edgemc.cmd.components import COMPONENTS, find


def usage() -> str:
    width = max(len(c.name) for c in COMPONENTS)
    lines = ["usage: python -m edgemc.cmd NAME [flags]", "", "components:"]
    lines += [f"  {c.name:<{width}}  {c.summary}" for c in COMPONENTS]
    lines += ["", "Run `python -m edgemc.cmd NAME --help` for a component's flags."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(usage(), file=sys.stderr)
        return 2
    if args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    component = find(args[0])
    if component is None:
        print(f"error: unknown component {args[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(component.module)
    return int(module.main(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
