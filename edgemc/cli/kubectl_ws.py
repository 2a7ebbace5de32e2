"""`kubectl ws` / `kubectl workspace`: kcp v0.11's workspace plugin for kubectl.

Installed as the console scripts `kubectl-ws`, `kubectl-workspace` and `kubectl-workspaces`,
which kubectl finds on PATH (`kubectl ws root` runs `kubectl-ws root`). Behaviour, messages
and the kubeconfig rewrite follow kcp-facts.md section 3.7:

    kubectl ws root | a:b:c | NAME | .. | - | . | current [--short] | use X
    kubectl ws create NAME [--type T] [--enter] [--ignore-existing] [--location-selector S]
    kubectl ws create-context [NAME] [--overwrite]
    kubectl ws tree [--full]
    kubectl ws | ~          (home workspaces; a clear error when the server has none)

Errors print one line `Error: ...` on stderr and exit 1; bad usage adds the usage text.
Deliberate differences from kcp v0.11 (all in corner cases): `--context` and
`--kubeconfig` are honoured for writing too (see `edgemc.cli.kubeconfig`); `ws create
--ignore-existing` without `--type` accepts an existing workspace of any type (kcp v0.11
rejected it by mistake, later kcp releases accept it); too many arguments is a usage error
(exit 1) rather than help with exit 0; the home-workspace note is printed only on success.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from edgemc.cli import clusterpath, flags, messages
from edgemc.cli import kubeconfig as kc
from edgemc.cli.kcpclient import KcpClient
from edgemc.cli.tree import TreeNode, render_tree
from edgemc.runtime.errors import AlreadyExists, ApiError, NotFound

WORKSPACE_API_VERSION = "tenancy.kcp.io/v1alpha1"
PHASE_READY = "Ready"


class CommandError(Exception):
    """A failure reported to the user as `Error: <message>` (exit code 1)."""


@dataclass(frozen=True)
class WaitSettings:
    """How `ws create` waits for the new workspace (kcp's plugin values by default)."""

    #: The workspaces view may lag the create; poll GET until the object shows up.
    visible_interval: float = 0.1
    visible_timeout: float = 5.0
    #: Workspaces become Ready asynchronously (Scheduling -> Initializing -> Ready).
    ready_interval: float = 0.5
    ready_timeout: float = 60.0


TIMED_OUT = "timed out waiting for the condition"


def _one_line(text: str) -> str:
    return " ".join(text.split("\n")).strip()


def _error_text(err: BaseException) -> str:
    if isinstance(err, ApiError):
        if err.code == 0 and err.__cause__ is not None:
            # connection failures: "GET <url>: <reason>" without the exception's repr
            request = err.message.split(": ", 1)[0]
            return _one_line(f"{request}: {err.__cause__}")
        return _one_line(err.message or err.reason or str(err))
    return _one_line(str(err))


def parse_workspace_type(text: str) -> dict[str, str]:
    """`--type` value to a WorkspaceTypeReference: `name` or `path:name`, name lower-cased."""
    path, _, name = text.rpartition(":")
    ref = {"name": name.lower()}
    if path:
        ref["path"] = path
    return ref


def parse_label_selector(text: str) -> dict[str, Any]:
    """A kubectl label selector string as a LabelSelector object (matchLabels + expressions).

    Supports `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` and `!k`, comma-joined.
    """
    match_labels: dict[str, str] = {}
    expressions: list[dict[str, Any]] = []
    for requirement in _split_requirements(text):
        words = requirement.split()
        if len(words) >= 2 and words[1] in ("in", "notin"):
            values_text = requirement.split(words[1], 1)[1].strip()
            if not (values_text.startswith("(") and values_text.endswith(")")):
                raise CommandError(f"invalid location selector: {requirement!r}")
            values = [v.strip() for v in values_text[1:-1].split(",") if v.strip()]
            operator = "In" if words[1] == "in" else "NotIn"
            expressions.append({"key": words[0], "operator": operator, "values": values})
        elif "!=" in requirement:
            key, value = (part.strip() for part in requirement.split("!=", 1))
            expressions.append({"key": key, "operator": "NotIn", "values": [value]})
        elif "=" in requirement:
            key, value = (part.strip() for part in requirement.replace("==", "=").split("=", 1))
            match_labels[key] = value
        elif requirement.startswith("!"):
            expressions.append({"key": requirement[1:].strip(), "operator": "DoesNotExist"})
        else:
            expressions.append({"key": requirement, "operator": "Exists"})
    selector: dict[str, Any] = {}
    if match_labels:
        selector["matchLabels"] = match_labels
    if expressions:
        selector["matchExpressions"] = expressions
    return selector


def _split_requirements(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [p for p in parts if p]


class WorkspacePlugin:
    """One invocation of the plugin: kubeconfig access, API client and output streams."""

    def __init__(
        self,
        parsed: flags.Parsed,
        *,
        stdout: TextIO,
        stderr: TextIO,
        environ: Mapping[str, str],
        waits: WaitSettings,
    ) -> None:
        self.parsed = parsed
        self.out = stdout
        self.err = stderr
        self.environ = environ
        self.waits = waits
        self.rules = kc.LoadingRules.from_environment(parsed.get("kubeconfig", ""), environ)
        self.overrides = kc.Overrides(
            context=parsed.get("context", ""),
            user=parsed.get("user", ""),
            server=parsed.get("server", ""),
            certificate_authority=parsed.get("certificate_authority", ""),
            insecure_skip_tls_verify=parsed.get("insecure_skip_tls_verify"),
            tls_server_name=parsed.get("tls_server_name", ""),
            token=parsed.get("token", ""),
            username=parsed.get("username", ""),
            password=parsed.get("password", ""),
        )
        self.home = environ.get("HOME") or os.path.expanduser("~")
        self._client: KcpClient | None = None
        self._settings: kc.ClientSettings | None = None

    # --- plumbing ------------------------------------------------------------------------

    async def load_config(self) -> kc.Kubeconfig:
        """Read the kubeconfig files (off the event loop)."""
        return await asyncio.to_thread(kc.load, self.rules)

    async def write_config(self, starting: kc.Kubeconfig, new: kc.Kubeconfig) -> None:
        """Write the changed entries back (off the event loop)."""
        await asyncio.to_thread(kc.modify_config, self.rules, starting, new)

    def settings(self, config: kc.Kubeconfig) -> kc.ClientSettings:
        """Connection settings of the effective context (fixed for the whole invocation)."""
        if self._settings is None:
            self._settings = kc.client_settings(config, self.overrides)
        return self._settings

    async def client(self, base: str) -> KcpClient:
        """A client for `<base>/clusters/...`, with the starting context's credentials."""
        if self._client is None:
            assert self._settings is not None, "settings() must run before client()"
            self._client = await KcpClient.connect(self._settings, base)
        return self._client.with_base(base)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    def current_url(self, server: str) -> clusterpath.ClusterURL:
        try:
            return clusterpath.parse_cluster_url(server)
        except clusterpath.NotAWorkspaceURL as err:
            raise CommandError(
                f"current URL {messages.go_quote(server)} does not point to a workspace"
            ) from err

    # --- commands ------------------------------------------------------------------------

    async def run(self) -> None:
        command, args = self.parsed.command.name, self.parsed.args
        short = bool(self.parsed.get("short"))
        if command == "create":
            await self.create(args[0])
        elif command == "create-context":
            await self.create_context(args[0] if args else "")
        elif command == "tree":
            await self.tree(bool(self.parsed.get("full")))
        elif command == "current":
            await self.use(".", short)
        else:  # root command and `use`
            await self.use(args[0] if args else "", short)

    async def use(self, name: str, short: bool) -> None:
        """Switch workspace (or print the current one for `.`), rewriting the kubeconfig."""
        config = await self.load_config()
        settings = self.settings(config)
        if name == ".":
            self.out.write(messages.current_workspace(settings.server, short=short))
            return
        if name == "-":
            new_config = kc.swap_previous(config, settings.context_name)
            await self.write_config(config, new_config)
            new_server = kc.current_server(new_config)
            await self.report_binding_warnings(new_server)
            self.out.write(messages.current_workspace(new_server, short=short))
            return
        type_ref: dict[str, Any] | None = None
        if name in ("", "~", self.home):
            new_server = await self.home_workspace_server(settings.server)
        elif name == "..":
            current = self.current_url(settings.server)
            parent = clusterpath.parent(current.path)
            if parent is None:
                if current.path == clusterpath.ROOT:
                    raise CommandError(f"current workspace is {messages.go_quote(current.path)}")
                raise CommandError(
                    f"current workspace {messages.go_quote(current.path)} has no parent"
                )
            new_server = current.server_for(parent)
        else:
            new_server, type_ref = await self.resolve_target(name, settings.server)
        new_config = kc.switch_to(config, settings.context_name, new_server)
        await self.write_config(config, new_config)
        await self.report_binding_warnings(new_server)
        self.out.write(messages.current_workspace(new_server, short=short, type_ref=type_ref))
        if name == "":
            self.out.write(messages.HOME_NOTE)

    async def resolve_target(self, name: str, server: str) -> tuple[str, dict[str, Any] | None]:
        """The server URL for `root`, an absolute path or a child name, checked like kcp."""
        if not clusterpath.is_valid_path(name):
            raise CommandError(f"invalid workspace name format: {name}")
        current = self.current_url(server)
        if ":" in name and clusterpath.has_prefix(name, "system"):
            return current.server_for(name), None
        if ":" in name:
            client = await self.client(current.base)
            parent, child = clusterpath.split(name)
            try:
                await client.get_workspace(parent, child)
            except NotFound as err:
                raise CommandError(f"workspace {messages.go_quote(name)} not found") from err
            except ApiError:
                pass  # e.g. 403 on the parent: discovery below decides
            if await client.server_group_count(name) == 0:
                raise CommandError(f"access to workspace {name} denied")
            return current.server_for(name), None
        if name == clusterpath.ROOT:
            return current.server_for(name), None
        client = await self.client(current.base)
        workspace = await client.get_workspace(current.path, name)
        if (workspace.get("status") or {}).get("phase") != PHASE_READY:
            raise CommandError(f"workspace {messages.go_quote(name)} is not ready")
        child = str((workspace.get("metadata") or {}).get("name") or name)
        type_ref = dict((workspace.get("spec") or {}).get("type") or {})
        return current.server_for(clusterpath.join(current.path, child)), type_ref

    async def home_workspace_server(self, server: str) -> str:
        """`spec.URL` of Workspace `~` in root; a clear error where the server has none."""
        try:
            base = clusterpath.parse_cluster_url(server).base
        except clusterpath.NotAWorkspaceURL:
            base = _without_path(server)
        client = await self.client(base)
        try:
            home = await client.get_workspace(clusterpath.ROOT, "~")
        except NotFound as err:
            raise CommandError(
                'home workspaces are not available on this server (no Workspace "~" in root);'
                ' use an absolute path such as "kubectl ws root"'
            ) from err
        url = str((home.get("spec") or {}).get("URL") or "")
        if not url:
            raise CommandError("the home workspace has no URL yet; try again shortly")
        return url

    async def report_binding_warnings(self, server: str) -> None:
        """kcp's post-switch check: warn about unacknowledged APIExport permission claims."""
        try:
            target = clusterpath.parse_cluster_url(server)
            client = await self.client(target.base)
            bindings = await client.list_apibindings(target.path)
        except (clusterpath.NotAWorkspaceURL, ApiError) as err:
            self.err.write(f"error checking APIBindings: {_error_text(err)}\n")
            return
        self.out.write(messages.permission_claim_warnings(bindings))

    async def create(self, name: str) -> None:
        """`ws create NAME`: POST the Workspace, wait until Ready, optionally enter it."""
        config = await self.load_config()
        current = self.current_url(self.settings(config).server)
        type_text = str(self.parsed.get("type") or "")
        ignore_existing = bool(self.parsed.get("ignore_existing"))
        if ignore_existing and type_text and not clusterpath.has_prefix(type_text, "root"):
            raise CommandError("--ignore-existing must not be used with non-absolute type path")
        wanted_type = parse_workspace_type(type_text) if type_text else None
        spec: dict[str, Any] = {}
        if wanted_type:
            spec["type"] = wanted_type
        selector_text = str(self.parsed.get("location_selector") or "")
        if selector_text:
            spec["location"] = {"selector": parse_label_selector(selector_text)}
        body = {
            "apiVersion": WORKSPACE_API_VERSION,
            "kind": "Workspace",
            "metadata": {"name": name},
            "spec": spec,
        }
        client = await self.client(current.base)
        pre_existing = False
        try:
            workspace = await client.create_workspace(current.path, body)
        except AlreadyExists:
            if not ignore_existing:
                raise
            pre_existing = True
            workspace = await client.get_workspace(current.path, name)
        actual_type = dict((workspace.get("spec") or {}).get("type") or {})
        reference = messages.workspace_reference(name, actual_type)
        ready = _phase(workspace) == PHASE_READY
        if pre_existing:
            if wanted_type is not None and _type_differs(actual_type, wanted_type):
                raise CommandError(
                    f"workspace {messages.go_quote(name)} cannot be created with type "
                    f"{clusterpath.type_string(wanted_type)}, it already exists with different "
                    f"type {clusterpath.type_string(actual_type)}"
                )
            waiting = "" if ready else " Waiting for it to be ready..."
            self.out.write(f"{reference} already exists.{waiting}\n")
        elif not ready:
            self.out.write(f"{reference} created. Waiting for it to be ready...\n")
        await self.wait_for_workspace_visible(client, current.path, name)
        if not ready:
            await self.wait_for_workspace_ready(client, current.path, name)
        self.out.write(f"{reference} is ready to use.\n")
        if self.parsed.get("enter"):
            await self.use(str((workspace.get("metadata") or {}).get("name") or name), False)

    async def wait_for_workspace_visible(self, client: KcpClient, path: str, name: str) -> None:
        async def visible() -> bool:
            try:
                await client.get_workspace(path, name)
            except NotFound:
                return False
            return True

        await _poll(visible, self.waits.visible_interval, self.waits.visible_timeout)

    async def wait_for_workspace_ready(self, client: KcpClient, path: str, name: str) -> None:
        async def ready() -> bool:
            return _phase(await client.get_workspace(path, name)) == PHASE_READY

        await _poll(ready, self.waits.ready_interval, self.waits.ready_timeout)

    async def create_context(self, name: str) -> None:
        """`ws create-context [NAME]`: a named context for the current workspace."""
        config = await self.load_config()
        context_name = self.overrides.context or config.current_context
        context = config.contexts.get(context_name)
        if context is None:
            raise CommandError(
                f"current context {messages.go_quote(context_name)} is not found in kubeconfig"
            )
        cluster_name = str(context.body.get("cluster") or "")
        cluster = config.clusters.get(cluster_name)
        if cluster is None:
            raise CommandError(
                f"current cluster {messages.go_quote(cluster_name)} is not found in kubeconfig"
            )
        current = self.current_url(str(cluster.body.get("server") or ""))
        name = name or current.path
        existed = name in config.contexts
        if existed and not self.parsed.get("overwrite"):
            raise CommandError(
                f"context {messages.go_quote(name)} already exists in kubeconfig, "
                "use --overwrite to update it"
            )
        await self.write_config(config, kc.create_context(config, context_name, name))
        quoted = messages.go_quote(name)
        if not existed:
            self.out.write(f"Created context {quoted} and switched to it.\n")
        elif config.current_context == name:
            self.out.write(f"Updated context {quoted}.\n")
        else:
            self.out.write(f"Updated context {quoted} and switched to it.\n")

    async def tree(self, full: bool) -> None:
        """`ws tree`: the workspaces below the current one, walked by cluster name."""
        config = await self.load_config()
        server = self.settings(config).server
        try:
            current = clusterpath.parse_cluster_url(server)
        except clusterpath.NotAWorkspaceURL as err:
            raise CommandError(_not_a_workspace_for_tree(server)) from err
        label = current.path if full else current.path.rsplit(":", 1)[-1]
        top = TreeNode(label)
        await self._populate(await self.client(current.base), top, current.path, full)
        self.out.write(render_tree(top) + "\n")

    async def _populate(self, client: KcpClient, node: TreeNode, cluster: str, full: bool) -> None:
        try:
            workspaces = await client.list_workspaces(cluster)
        except NotFound:
            return
        for workspace in workspaces:
            url = str((workspace.get("spec") or {}).get("URL") or "")
            try:
                child_cluster = clusterpath.parse_cluster_url(url).path
            except clusterpath.NotAWorkspaceURL as err:
                raise CommandError(_not_a_workspace_for_tree(url)) from err
            name = str((workspace.get("metadata") or {}).get("name") or "")
            child = TreeNode(f"{node.label}:{name}" if full else name)
            node.children.append(child)
            await self._populate(client, child, child_cluster, full)


def _phase(workspace: dict[str, Any]) -> str:
    return str((workspace.get("status") or {}).get("phase") or "")


def _type_differs(actual: dict[str, Any], wanted: dict[str, Any]) -> bool:
    actual_name, actual_path = actual.get("name") or "", actual.get("path") or ""
    name_differs = bool(actual_name) and actual_name != (wanted.get("name") or "")
    return name_differs or actual_path != (wanted.get("path") or "")


def _without_path(server: str) -> str:
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


async def _poll(condition: Any, interval: float, limit: float) -> None:
    """Check now, then every `interval` seconds; CommandError after `limit` seconds."""
    try:
        async with asyncio.timeout(limit):
            while True:
                if await condition():
                    return
                # Polling a remote server: kcp's plugin polls at this same interval.
                await asyncio.sleep(interval)
    except TimeoutError as err:
        raise CommandError(TIMED_OUT) from err


def _not_a_workspace_for_tree(url: str) -> str:
    return f"current config context URL {messages.go_quote(url)} does not point to workspace"


def program_name(argv0: str) -> str:
    """`kubectl ws` for `/path/kubectl-ws`; kubectl plugins are named kubectl-<words>."""
    base = os.path.basename(argv0)
    return base.replace("-", " ", 1) if base.startswith("kubectl-") else "kubectl ws"


async def run(
    argv: list[str],
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    program: str = "kubectl ws",
    waits: WaitSettings | None = None,
) -> int:
    """Run the plugin with `argv` (no program name); returns the exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        parsed = flags.parse(argv)
    except flags.UsageError as usage_error:
        err.write(f"Error: {usage_error}\n")
        err.write(flags.usage(program, usage_error.command))
        return 1
    if parsed.get("help"):
        out.write(flags.usage(program, parsed.command.name))
        return 0
    plugin = WorkspacePlugin(
        parsed,
        stdout=out,
        stderr=err,
        environ=os.environ if environ is None else environ,
        waits=waits or WaitSettings(),
    )
    try:
        await plugin.run()
    except (CommandError, kc.KubeconfigError, ApiError) as failure:
        err.write(f"Error: {_error_text(failure)}\n")
        return 1
    finally:
        await plugin.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point for kubectl-ws, kubectl-workspace and kubectl-workspaces."""
    args = sys.argv[1:] if argv is None else argv
    try:
        code = asyncio.run(run(args, program=program_name(sys.argv[0])))
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
