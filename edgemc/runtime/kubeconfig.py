"""Kubeconfig checks that turn a broken file into one sentence naming the file and context.

kubernetes-asyncio's loader, which `ClusterConfig.from_kubeconfig` uses, reports problems in
its own terms (`Expected key current-context in kube-config`, `argument of type 'NoneType'
is not iterable`, a YAML parser's multi-line message) or not at all (a missing file only
warns). `check_kubeconfig` reads the same files first, merged as that loader merges them,
and raises `KubeconfigError` saying what is wrong, in client-go's words where it has them:

* the path is a `:`-separated list as `$KUBECONFIG` is; missing files in a list are
  skipped, but at least one must exist (a single path must exist);
* a file must parse as a YAML mapping whose `clusters`, `contexts` and `users` are lists
  of named entries; the first file defining a name wins, and the last file setting
  `current-context` wins (the loader's rule; client-go's is the first non-empty one);
* the chosen context (the one asked for, else `current-context`) must exist, name a
  cluster that exists and has a server, and name no user that is missing (no user at all
  is anonymous access);
* files the cluster and user refer to (`certificate-authority`, `client-certificate`,
  `client-key`, `tokenFile`; relative to the kubeconfig file's directory) must be readable.

Reading is synchronous file I/O: call it off the event loop (`asyncio.to_thread`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

_SECTIONS = {"clusters": "cluster", "contexts": "context", "users": "user"}
# Entry fields naming a file, and the inline field that makes the file unnecessary.
_CLUSTER_FILES = (("certificate-authority", "certificate-authority-data"),)
_USER_FILES = (
    ("client-certificate", "client-certificate-data"),
    ("client-key", "client-key-data"),
    ("tokenFile", "token"),
)


class KubeconfigError(Exception):
    """A kubeconfig that cannot be used; the message names the file, context and problem."""


def kubeconfig_files(path: str) -> list[str]:
    """The files of a kubeconfig path (`:`-separated as `$KUBECONFIG`), `~` expanded."""
    return list(dict.fromkeys(os.path.expanduser(p) for p in path.split(os.pathsep) if p))


def check_kubeconfig(path: str, context: str | None = None) -> str:
    """Raise `KubeconfigError` unless `context` (None: current) of `path` is usable.

    Returns the name of the context that will be used.
    """
    files = kubeconfig_files(path)
    if not files:
        raise KubeconfigError("no kubeconfig file given")
    where = " ".join(f'"{f}"' for f in files)
    merged: dict[str, dict[str, tuple[dict[str, Any], str]]] = {s: {} for s in _SECTIONS}
    current = ""
    found = False
    for file in files:
        document = _read(file, missing_ok=len(files) > 1)
        if document is None:
            continue
        found = True
        for section, body_key in _SECTIONS.items():
            for name, body in _entries(file, document, section, body_key):
                merged[section].setdefault(name, (body, file))
        if "current-context" in document:
            current = str(document["current-context"] or "")
    if not found:
        raise KubeconfigError(f"none of the kubeconfig files {where} exists")
    name = context or current
    if not name:
        raise KubeconfigError(f"kubeconfig {where} sets no current-context and none was given")
    if name not in merged["contexts"]:
        raise KubeconfigError(f'context "{name}" not found in kubeconfig {where}')
    ctx, ctx_file = merged["contexts"][name]
    cluster_name = str(ctx.get("cluster") or "")
    if not cluster_name:
        raise KubeconfigError(f'context "{name}" in kubeconfig "{ctx_file}" names no cluster')
    if cluster_name not in merged["clusters"]:
        raise KubeconfigError(
            f'cluster "{cluster_name}" of context "{name}" not found in kubeconfig {where}'
        )
    cluster, cluster_file = merged["clusters"][cluster_name]
    if not cluster.get("server"):
        raise KubeconfigError(
            f'cluster "{cluster_name}" in kubeconfig "{cluster_file}" has no server'
        )
    _check_files(cluster, cluster_file, f'cluster "{cluster_name}"', _CLUSTER_FILES)
    user_name = str(ctx.get("user") or "")
    if user_name:
        if user_name not in merged["users"]:
            raise KubeconfigError(
                f'user "{user_name}" of context "{name}" not found in kubeconfig {where}'
            )
        user, user_file = merged["users"][user_name]
        _check_files(user, user_file, f'user "{user_name}"', _USER_FILES)
    return name


def _read(file: str, *, missing_ok: bool) -> dict[str, Any] | None:
    """The file's YAML mapping; None if it does not exist and that is allowed."""
    try:
        text = Path(file).read_text()
    except FileNotFoundError:
        if missing_ok:
            return None
        raise KubeconfigError(f'kubeconfig "{file}" does not exist') from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not text"
        raise KubeconfigError(f'cannot read kubeconfig "{file}": {reason}') from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise KubeconfigError(
            f'kubeconfig "{file}" is not valid YAML: {_yaml_problem(err)}'
        ) from None
    if document is None:
        raise KubeconfigError(f'kubeconfig "{file}" is empty')
    if not isinstance(document, dict):
        raise KubeconfigError(f'kubeconfig "{file}" is not a kubeconfig (not a YAML mapping)')
    return document


def _yaml_problem(err: yaml.YAMLError) -> str:
    """A parser error on one line: the problem and where (`line L, column C`)."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return f"{err.problem or err.context or 'cannot parse'}{where}"
    return " ".join(str(err).split())


def _entries(
    file: str, document: dict[str, Any], section: str, body_key: str
) -> list[tuple[str, dict[str, Any]]]:
    items = document.get(section) or []
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and i.get("name") and isinstance(i.get(body_key) or {}, dict)
        for i in items
    ):
        raise KubeconfigError(
            f'kubeconfig "{file}": {section} must be a list of entries with a name and a '
            f"{body_key} mapping"
        )
    return [(str(i["name"]), i.get(body_key) or {}) for i in items]


def _check_files(
    body: dict[str, Any], file: str, owner: str, fields: tuple[tuple[str, str], ...]
) -> None:
    for key, inline in fields:
        name = body.get(key)
        if not name or inline in body:
            continue
        target = Path(os.path.dirname(os.path.abspath(file))) / os.path.expanduser(str(name))
        try:
            with open(target, "rb"):
                pass
        except OSError as err:
            raise KubeconfigError(
                f'{key} "{name}" of {owner} in kubeconfig "{file}" cannot be read: {err.strerror}'
            ) from None
