"""Logical-cluster path arithmetic and server-URL parsing as kcp's CLI plugins do it.

A *path* is one or more names joined by `:` (`root:espw:mbws`); a path starting with
`system:` is a single name (`system:admin`) and has no parent of its own. A server URL points
at a workspace when its URL path contains `/clusters/<path>`: everything before the first
`/clusters/` is the *base*, the next segment the current path.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

ROOT = "root"
SEPARATOR = ":"
WILDCARD = "*"
_SYSTEM_PREFIX = "system:"
_CLUSTERS = "/clusters/"

_NAME_FMT = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_PATH_RE = re.compile(f"^{_NAME_FMT}(:{_NAME_FMT})*$")


class NotAWorkspaceURL(ValueError):
    """The server URL has no `/clusters/<valid path>` segment."""


def is_valid_path(path: str) -> bool:
    """True for `*` and for `:`-joined names matching the logical-cluster name format."""
    return path == WILDCARD or bool(_PATH_RE.match(path))


def split(path: str) -> tuple[str, str]:
    """(parent, last name); a `system:` path is its own parent with an empty name."""
    if path.startswith(_SYSTEM_PREFIX):
        return path, ""
    index = path.rfind(SEPARATOR)
    if index < 0:
        return "", path
    return path[:index], path[index + 1 :]


def parent(path: str) -> str | None:
    """The parent path, or None for a single-segment path such as `root`."""
    parent_path, _ = split(path)
    return parent_path or None


def join(path: str, name: str) -> str:
    """`path:name`, or just `name` when path is empty."""
    return f"{path}{SEPARATOR}{name}" if path else name


def has_prefix(path: str, prefix: str) -> bool:
    """Plain string prefix test, as kcp's `Path.HasPrefix` (so `rootx` has prefix `root`)."""
    return path.startswith(prefix)


def type_string(type_ref: dict | None) -> str:
    """`<path>:<name>` of a WorkspaceTypeReference (`root:universal`); the name alone if no path."""
    type_ref = type_ref or {}
    return join(str(type_ref.get("path") or ""), str(type_ref.get("name") or ""))


@dataclass(frozen=True)
class ClusterURL:
    """A server URL split into the part before `/clusters/` and the workspace path."""

    base: str
    path: str

    def server_for(self, path: str) -> str:
        """The server URL for another workspace path on the same base."""
        return server_url(self.base, path)


def parse_cluster_url(server: str) -> ClusterURL:
    """Split `https://h:6443/clusters/root:espw/...` into base `https://h:6443` and `root:espw`.

    Raises NotAWorkspaceURL when there is no `/clusters/` in the URL path or the segment
    after it is not a valid path.
    """
    parts = urlsplit(server)
    index = parts.path.find(_CLUSTERS)
    if index < 0:
        raise NotAWorkspaceURL(f"current cluster URL {server} is not pointing to a workspace")
    path = parts.path[index + len(_CLUSTERS) :].split("/", 1)[0]
    if not is_valid_path(path):
        raise NotAWorkspaceURL(f'invalid cluster name: "{path}"')
    base = urlunsplit((parts.scheme, parts.netloc, parts.path[:index], parts.query, ""))
    return ClusterURL(base=base, path=path)


def server_url(base: str, path: str) -> str:
    """`<base>/clusters/<path>`, joining URL paths the way Go's `path.Join` does."""
    parts = urlsplit(base)
    joined = posixpath.normpath(posixpath.join("/" + parts.path, "clusters", path))
    joined = "/" + joined.lstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, joined, parts.query, parts.fragment))
