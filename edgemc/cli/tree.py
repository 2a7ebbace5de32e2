"""Text rendering of the workspace tree printed by `kubectl ws tree`.

The layout is the one kcp's plugin prints: a first line `.`, then one line per workspace
with `├── ` / `└── ` edges and `│   ` / four-space indentation per ancestor level.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TreeNode:
    """A workspace label and its children, in the order the server listed them."""

    label: str
    children: list[TreeNode] = field(default_factory=list)


_MID = "├──"
_END = "└──"
_LINK = "│   "
_BLANK = "    "


def render_tree(top: TreeNode) -> str:
    """The tree under an unnamed `.` root holding `top`, each line ending in a newline."""
    lines = ["."]
    _render_children([top], prefix="", lines=lines)
    return "\n".join(lines) + "\n"


def _render_children(nodes: list[TreeNode], prefix: str, lines: list[str]) -> None:
    for index, node in enumerate(nodes):
        last = index == len(nodes) - 1
        lines.append(f"{prefix}{_END if last else _MID} {node.label}")
        _render_children(node.children, prefix + (_BLANK if last else _LINK), lines)
