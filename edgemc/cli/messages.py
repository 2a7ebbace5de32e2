"""The exact lines `kubectl ws` prints, kept in one place so tests can pin them.

Strings follow kcp v0.11's plugin output (kcp-facts.md section 3.7); `go_quote` reproduces
Go's `%q` so names with odd characters print the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from edgemc.cli import clusterpath

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(text: str) -> str:
    """Double-quoted like Go's `%q`: escapes quotes, backslashes and control characters."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        elif not char.isprintable():
            code = ord(char)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def current_workspace(server: str, *, short: bool = False, type_ref: dict | None = None) -> str:
    """What `ws`, `ws .` and every successful switch print; "" when nothing is printed.

    `Current workspace is "root:espw".`, with ` (type root:universal)` before the final dot
    only when a type is given (relative switches); a server URL without `/clusters/` prints
    `Current workspace is the URL "<url>".` (nothing in short mode).
    """
    try:
        path = clusterpath.parse_cluster_url(server).path
    except clusterpath.NotAWorkspaceURL:
        return "" if short else f"Current workspace is the URL {go_quote(server)}.\n"
    if short:
        return f"{path}\n"
    message = f"Current workspace is {go_quote(path)}"
    if type_ref is not None:
        message += f" (type {clusterpath.type_string(type_ref)})"
    return message + ".\n"


def workspace_reference(name: str, type_ref: dict | None) -> str:
    """`Workspace "NAME" (type root:organization)`, the subject of the create messages."""
    return f"Workspace {go_quote(name)} (type {clusterpath.type_string(type_ref)})"


HOME_NOTE = (
    "Note: 'kubectl ws' now matches 'cd' semantics: go to home workspace. "
    "'kubectl ws -' to go back. 'kubectl ws .' to print current workspace.\n"
)


def _claim_key(claim: dict[str, Any]) -> tuple[str, str, str]:
    return (
        str(claim.get("group") or ""),
        str(claim.get("resource") or ""),
        str(claim.get("identityHash") or ""),
    )


def claim_string(claim: dict[str, Any]) -> str:
    """`resource`, `resource.group` or `resource.group:identityHash` as kcp names claims."""
    group, resource, identity = _claim_key(claim)
    if not group:
        return resource
    if not identity:
        return f"{resource}.{group}"
    return f"{resource}.{group}:{identity}"


def permission_claim_warnings(bindings: Iterable[dict[str, Any]]) -> str:
    """Warnings for exported permission claims an APIBinding does not acknowledge.

    For each claim in `status.exportPermissionClaims`: a claim missing from
    `spec.permissionClaims` gets both warnings; one present but neither Accepted nor
    Rejected (the last matching entry decides) gets the second.
    """
    out = []
    for binding in bindings:
        name = str((binding.get("metadata") or {}).get("name") or "")
        status = binding.get("status") or {}
        spec = binding.get("spec") or {}
        for exported in status.get("exportPermissionClaims") or []:
            found = acknowledged = False
            for claim in spec.get("permissionClaims") or []:
                if _claim_key(claim) != _claim_key(exported):
                    continue
                found = True
                acknowledged = claim.get("state") in ("Accepted", "Rejected")
            text = claim_string(exported)
            if not found:
                out.append(
                    f"Warning: claim for {text} exported but not specified on APIBinding {name}\n"
                    "Add this claim to the APIBinding's Spec.\n"
                )
            if not acknowledged:
                out.append(
                    f"Warning: claim for {text} specified on APIBinding {name} "
                    "but not accepted or rejected.\n"
                )
    return "".join(out)
