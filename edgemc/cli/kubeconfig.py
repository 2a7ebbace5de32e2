"""Kubeconfig loading, kcp's workspace-switch rewrite, and write-back in client-go's manner.

Loading follows client-go's rules: `--kubeconfig` names the only file (it must exist);
otherwise `$KUBECONFIG` is a `:`-separated list (missing files skipped), else
`~/.kube/config`. Files merge by name with the first file defining a name winning, and the
first non-empty `current-context` winning. Every entry remembers the file it came from.

The rewrite rules (`switch_to`, `swap_previous`, `create_context`) are pure functions from
one `Kubeconfig` to the next, exactly as kcp's `kubectl ws` computes them:

* cluster `workspace.kcp.io/current` := copy of the current context's cluster, new server;
* context `workspace.kcp.io/current` := copy of the current context, pointing at it;
* the old context is kept as `workspace.kcp.io/previous` (when it pointed at cluster
  `workspace.kcp.io/current`, that cluster is copied to `workspace.kcp.io/previous` and the
  saved context points there); `current-context` := `workspace.kcp.io/current`; users are
  never touched.

`modify_config` writes the difference back like client-go's `ModifyConfig`: each changed
entry goes to the file it was copied from (a brand-new entry to the default file: the
explicit file, else the first existing `$KUBECONFIG` file, else the first listed), and
`current-context` to the explicit file or the default file. With a single file everything
lands in that file. With several `$KUBECONFIG` files the new `workspace.kcp.io/*` entries
land in the file holding the entry they were copied from, while `current-context` lands in
the first existing file, so the switch still takes effect on the next merge.

Deliberate difference from kcp v0.11: `--context NAME` selects the context that is copied
and saved as previous (kcp v0.11 used NAME only for the server URL and copied the file's
`current-context`), and `--kubeconfig` is also the file written (kcp v0.11 wrote to the
default files).
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CURRENT = "workspace.kcp.io/current"
PREVIOUS = "workspace.kcp.io/previous"

# (kubeconfig list key, key of the entry body inside each list item)
_SECTIONS = {"clusters": "cluster", "contexts": "context", "users": "user"}


class KubeconfigError(Exception):
    """The kubeconfig cannot be read, lacks what the command needs, or cannot be written."""


@dataclass(frozen=True)
class Entry:
    """One named cluster, context or user: its body as written in the file, and that file."""

    body: dict[str, Any]
    origin: str = ""

    def with_body(self, **changes: Any) -> Entry:
        """A copy with some body fields replaced (same origin)."""
        body = copy.deepcopy(self.body)
        body.update(changes)
        return Entry(body, self.origin)


@dataclass
class Kubeconfig:
    """The merged view of the kubeconfig files, keyed by entry name."""

    clusters: dict[str, Entry] = field(default_factory=dict)
    contexts: dict[str, Entry] = field(default_factory=dict)
    users: dict[str, Entry] = field(default_factory=dict)
    current_context: str = ""

    def copy(self) -> Kubeconfig:
        return Kubeconfig(
            dict(self.clusters), dict(self.contexts), dict(self.users), self.current_context
        )

    def section(self, name: str) -> dict[str, Entry]:
        return {"clusters": self.clusters, "contexts": self.contexts, "users": self.users}[name]

    def context(self, name: str) -> Entry:
        """The named context; KubeconfigError in kcp's words when it does not exist."""
        entry = self.contexts.get(name)
        if entry is None:
            raise KubeconfigError(f'current "{name}" context not found')
        return entry

    def cluster_of(self, context: Entry) -> tuple[str, Entry]:
        """(name, entry) of the cluster a context points at."""
        name = str(context.body.get("cluster") or "")
        entry = self.clusters.get(name)
        if entry is None:
            raise KubeconfigError(f'cluster "{name}" not found in kubeconfig')
        return name, entry


@dataclass(frozen=True)
class LoadingRules:
    """Which files make up the kubeconfig, and which one receives new entries."""

    precedence: tuple[str, ...]
    explicit: str = ""

    @classmethod
    def from_environment(
        cls, kubeconfig_flag: str = "", environ: Mapping[str, str] | None = None
    ) -> LoadingRules:
        """client-go's rules: the flag, else `$KUBECONFIG` (`:`-list), else `~/.kube/config`."""
        env = os.environ if environ is None else environ
        if kubeconfig_flag:
            return cls(precedence=(kubeconfig_flag,), explicit=kubeconfig_flag)
        listed = [p for p in (env.get("KUBECONFIG") or "").split(os.pathsep) if p]
        if listed:
            return cls(precedence=tuple(dict.fromkeys(listed)))
        home = env.get("HOME") or os.path.expanduser("~")
        return cls(precedence=(os.path.join(home, ".kube", "config"),))

    def default_filename(self) -> str:
        """The explicit file, else the first existing file, else the first listed file."""
        if self.explicit:
            return self.explicit
        for filename in self.precedence:
            if os.path.exists(filename):
                return filename
        return self.precedence[0] if self.precedence else ""


def _read_file(filename: str) -> dict[str, Any] | None:
    """The parsed YAML document, or None when the file does not exist."""
    try:
        text = Path(filename).read_text()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise KubeconfigError(f"error loading config file {filename!r}: {err}") from err
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise KubeconfigError(f"error loading config file {filename!r}: {err}") from err
    if not isinstance(document, dict):
        raise KubeconfigError(f"error loading config file {filename!r}: not a kubeconfig")
    return document


def _entries(document: Mapping[str, Any], section: str) -> Iterator[tuple[str, dict[str, Any]]]:
    body_key = _SECTIONS[section]
    for item in document.get(section) or []:
        if isinstance(item, dict) and item.get("name"):
            yield str(item["name"]), dict(item.get(body_key) or {})


def load(rules: LoadingRules) -> Kubeconfig:
    """Read and merge the files named by the loading rules."""
    if rules.explicit and not os.path.exists(rules.explicit):
        raise KubeconfigError(f"kubeconfig file {rules.explicit!r} does not exist")
    merged = Kubeconfig()
    for filename in rules.precedence:
        document = _read_file(filename)
        if document is None:
            continue
        for section in _SECTIONS:
            in_file = dict(_entries(document, section))
            target = merged.section(section)
            for name, body in in_file.items():
                target.setdefault(name, Entry(body, filename))
        if not merged.current_context and document.get("current-context"):
            merged.current_context = str(document["current-context"])
    return merged


# --- pure rewrite rules ------------------------------------------------------------------


def switch_to(config: Kubeconfig, context_name: str, server: str) -> Kubeconfig:
    """kcp's rewrite for entering the workspace at `server` from context `context_name`."""
    current = config.context(context_name)
    cluster_name, cluster = config.cluster_of(current)
    new = config.copy()
    new.clusters[CURRENT] = cluster.with_body(server=server)
    new.contexts[CURRENT] = current.with_body(cluster=CURRENT)
    previous = current
    if cluster_name == CURRENT:
        previous = current.with_body(cluster=PREVIOUS)
        new.clusters[PREVIOUS] = cluster
    new.contexts[PREVIOUS] = previous
    new.current_context = CURRENT
    return new


def swap_previous(config: Kubeconfig, context_name: str) -> Kubeconfig:
    """kcp's rewrite for `kubectl ws -`: the previous context and the current swap places."""
    current = config.context(context_name)
    previous = config.contexts.get(PREVIOUS)
    if previous is None:
        raise KubeconfigError("no previous workspace found in kubeconfig")
    new = config.copy()
    if current.body.get("cluster") == CURRENT:
        _, old_current_cluster = config.cluster_of(current)
        current = current.with_body(cluster=PREVIOUS)
        new.clusters[PREVIOUS] = old_current_cluster
    if previous.body.get("cluster") == PREVIOUS:
        _, old_previous_cluster = config.cluster_of(previous)
        previous = previous.with_body(cluster=CURRENT)
        new.clusters[CURRENT] = old_previous_cluster
    new.contexts[CURRENT] = previous
    new.contexts[PREVIOUS] = current
    new.current_context = CURRENT
    return new


def current_server(config: Kubeconfig, context_name: str = CURRENT) -> str:
    """The server URL of the cluster a context points at."""
    _, cluster = config.cluster_of(config.context(context_name))
    return str(cluster.body.get("server") or "")


def create_context(config: Kubeconfig, context_name: str, name: str) -> Kubeconfig:
    """kcp's `ws create-context NAME`: copy the current context and cluster under NAME."""
    current = config.contexts[context_name]
    _, cluster = config.cluster_of(current)
    new = config.copy()
    new.clusters[name] = cluster.with_body()
    new.contexts[name] = current.with_body(cluster=name)
    new.current_context = name
    return new


# --- connection settings -------------------------------------------------------------------


@dataclass(frozen=True)
class Overrides:
    """kubectl's connection flags the plugin accepts; empty/None means "not given"."""

    context: str = ""
    user: str = ""
    server: str = ""
    certificate_authority: str = ""
    insecure_skip_tls_verify: bool | None = None
    tls_server_name: str = ""
    token: str = ""
    username: str = ""
    password: str = ""


_PATH_FIELDS = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
}


def _resolved(entry: Entry, section: str) -> dict[str, Any]:
    """The entry body with file paths made absolute relative to the file it came from."""
    body = copy.deepcopy(entry.body)
    base = os.path.dirname(os.path.abspath(entry.origin)) if entry.origin else os.getcwd()
    for key in _PATH_FIELDS.get(section, ()):
        value = body.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            body[key] = os.path.join(base, value)
    return body


@dataclass(frozen=True)
class ClientSettings:
    """What a client needs: the effective context's name, its server, and a loader dict."""

    context_name: str
    server: str
    loader_config: dict[str, Any]


def client_settings(config: Kubeconfig, overrides: Overrides | None = None) -> ClientSettings:
    """Resolve the effective context with overrides applied, as a one-context kubeconfig dict.

    The dict is what `kubernetes_asyncio`'s KubeConfigLoader consumes (paths made absolute,
    so entries from several files load correctly).
    """
    overrides = overrides or Overrides()
    context_name = overrides.context or config.current_context
    if not context_name:
        raise KubeconfigError(
            "no current context is set in the kubeconfig (set current-context or use --context)"
        )
    context = config.context(context_name)
    cluster_name, cluster_entry = config.cluster_of(context)
    cluster = _resolved(cluster_entry, "clusters")
    user_name = overrides.user or str(context.body.get("user") or "")
    user_entry = config.users.get(user_name)
    user = _resolved(user_entry, "users") if user_entry else {}
    if overrides.server:
        cluster["server"] = overrides.server
    if overrides.certificate_authority:
        cluster["certificate-authority"] = os.path.abspath(overrides.certificate_authority)
        cluster.pop("certificate-authority-data", None)
    if overrides.insecure_skip_tls_verify is not None:
        cluster["insecure-skip-tls-verify"] = overrides.insecure_skip_tls_verify
        if overrides.insecure_skip_tls_verify:
            cluster.pop("certificate-authority", None)
            cluster.pop("certificate-authority-data", None)
    if overrides.tls_server_name:
        cluster["tls-server-name"] = overrides.tls_server_name
    if overrides.token:
        user = {"token": overrides.token}
    if overrides.username:
        user["username"] = overrides.username
    if overrides.password:
        user["password"] = overrides.password
    server = str(cluster.get("server") or "")
    if not server:
        raise KubeconfigError(f'cluster "{cluster_name}" has no server defined')
    loader_config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster}],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": "context", "context": {"cluster": "cluster", "user": "user"}}],
        "current-context": "context",
    }
    return ClientSettings(context_name=context_name, server=server, loader_config=loader_config)


# --- write-back ----------------------------------------------------------------------------


@dataclass
class _FileEdit:
    upserts: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {section: {} for section in _SECTIONS}
    )
    deletes: dict[str, set[str]] = field(
        default_factory=lambda: {section: set() for section in _SECTIONS}
    )
    current_context: str | None = None


def planned_writes(rules: LoadingRules, starting: Kubeconfig, new: Kubeconfig) -> dict[str, Any]:
    """Per destination file, what `modify_config` changes there (pure; for tests and dry runs).

    Returns {filename: {"clusters": {name: body}, ..., "delete": {section: [names]},
    "current-context": str | None}} for files that change.
    """
    edits = _plan(rules, starting, new)
    return {
        filename: {
            **{section: dict(bodies) for section, bodies in edit.upserts.items() if bodies},
            "delete": {s: sorted(n) for s, n in edit.deletes.items() if n},
            "current-context": edit.current_context,
        }
        for filename, edit in edits.items()
    }


def _plan(rules: LoadingRules, starting: Kubeconfig, new: Kubeconfig) -> dict[str, _FileEdit]:
    edits: dict[str, _FileEdit] = {}

    def edit_for(filename: str) -> _FileEdit:
        return edits.setdefault(filename or rules.default_filename(), _FileEdit())

    if new.current_context != starting.current_context:
        edit_for(rules.explicit or rules.default_filename()).current_context = new.current_context
    for section in _SECTIONS:
        before, after = starting.section(section), new.section(section)
        for name, entry in after.items():
            if before.get(name) != entry:
                edit_for(entry.origin).upserts[section][name] = entry.body
        for name, entry in before.items():
            if name not in after:
                edit_for(entry.origin).deletes[section].add(name)
    return edits


def _apply(document: dict[str, Any], edit: _FileEdit) -> dict[str, Any]:
    document.setdefault("apiVersion", "v1")
    document.setdefault("kind", "Config")
    for section, body_key in _SECTIONS.items():
        items = [i for i in (document.get(section) or []) if isinstance(i, dict)]
        items = [i for i in items if i.get("name") not in edit.deletes[section]]
        for name, body in edit.upserts[section].items():
            replacement = {"name": name, body_key: copy.deepcopy(body)}
            positions = [n for n, item in enumerate(items) if item.get("name") == name]
            if positions:
                for position in positions:
                    items[position] = replacement
            else:
                items.append(replacement)
        if items or section in document:
            document[section] = items
    if edit.current_context is not None:
        document["current-context"] = edit.current_context
    return document


@contextmanager
def _locked(filenames: list[str]) -> Iterator[None]:
    """client-go's `<file>.lock` files (created exclusively, removed afterwards)."""
    held: list[str] = []
    try:
        for filename in sorted(set(filenames)):
            lock = filename + ".lock"
            os.makedirs(os.path.dirname(os.path.abspath(lock)), exist_ok=True)
            try:
                os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            except FileExistsError as err:
                raise KubeconfigError(
                    f"kubeconfig is locked: {lock} exists "
                    "(another kubectl is writing it, or a stale lock file needs removing)"
                ) from err
            held.append(lock)
        yield
    finally:
        for lock in held:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)


def _write(filename: str, document: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
    fd = os.open(filename, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def modify_config(rules: LoadingRules, starting: Kubeconfig, new: Kubeconfig) -> None:
    """Write the entries that differ between `starting` and `new` back to their files."""
    edits = _plan(rules, starting, new)
    if not edits:
        return
    with _locked(list(rules.precedence)):
        for filename, edit in edits.items():
            document = _read_file(filename) or {}
            _write(filename, _apply(document, edit))


__all__ = [
    "CURRENT",
    "PREVIOUS",
    "ClientSettings",
    "Entry",
    "Kubeconfig",
    "KubeconfigError",
    "LoadingRules",
    "Overrides",
    "client_settings",
    "create_context",
    "current_server",
    "load",
    "modify_config",
    "planned_writes",
    "swap_previous",
    "switch_to",
]
