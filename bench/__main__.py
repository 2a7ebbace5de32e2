"""Run every benchmark module's `main()` in turn: `python -m bench`."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main() -> int:
    status = 0
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            status |= int(importlib.import_module(f"bench.{info.name}").main([]) or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
