"""`kubectl ws` commands in-process against the stub kcp: output, errors, kubeconfig."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from stub_kcp import StubKcp
from wsrunner import WsRunner, kubeconfig_dict

from edgemc.cli.kubeconfig import CURRENT, PREVIOUS
from edgemc.cli.kubectl_ws import WaitSettings

WORKSPACES = "/apis/tenancy.kcp.io/v1alpha1/workspaces"


async def test_ws_root_prints_path_and_makes_no_workspace_call(ws: WsRunner, stub: StubKcp):
    result = await ws("root")
    assert (result.code, result.out, result.err) == (0, 'Current workspace is "root".\n', "")
    assert [p for _, p in stub.requests] == ["/clusters/root/apis/apis.kcp.io/v1alpha1/apibindings"]
    config = ws.config()
    assert config["current-context"] == CURRENT
    assert ws.server() == f"{stub.url}/clusters/root"
    contexts = {c["name"]: c["context"] for c in config["contexts"]}
    assert contexts[PREVIOUS] == {"cluster": "root", "user": "kcp-admin"}
    assert contexts[CURRENT] == {"cluster": CURRENT, "user": "kcp-admin"}


async def test_create_enter_prints_kcp_lines(ws: WsRunner, stub: StubKcp):
    await ws("root")
    result = await ws("create", "imw-1", "--enter")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        'Workspace "imw-1" (type root:organization) created. Waiting for it to be ready...',
        'Workspace "imw-1" (type root:organization) is ready to use.',
        'Current workspace is "root:imw-1" (type root:organization).',
    ]
    # path form, never spec.URL (gotcha 8)
    assert ws.server() == f"{stub.url}/clusters/root:imw-1"
    assert ws.server(PREVIOUS) == f"{stub.url}/clusters/root"
    posted = [p for m, p in stub.requests if m == "POST"]
    assert posted == [f"/clusters/root{WORKSPACES}"]


async def test_create_without_enter_and_with_type(ws: WsRunner, stub: StubKcp):
    stub.add_workspace("root", "my-org")
    await ws("my-org")
    result = await ws("create", "wmw-c", "--type", "Universal", "--location-selector", "a=b")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        'Workspace "wmw-c" (type root:universal) created. Waiting for it to be ready...',
        'Workspace "wmw-c" (type root:universal) is ready to use.',
    ]
    assert ws.server() == f"{stub.url}/clusters/root:my-org"  # not entered
    org = stub.resolve("root:my-org")
    assert org is not None
    spec = org.workspaces["wmw-c"]["spec"]
    assert spec["type"]["name"] == "universal"
    assert spec["location"] == {"selector": {"matchLabels": {"a": "b"}}}


async def test_create_existing(ws: WsRunner, stub: StubKcp):
    stub.add_workspace("root", "espw")
    result = await ws("create", "espw")
    assert (result.code, result.out) == (1, "")
    assert result.err == 'Error: workspaces.tenancy.kcp.io "espw" already exists\n'

    result = await ws("create", "espw", "--ignore-existing")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        'Workspace "espw" (type root:organization) already exists.',
        'Workspace "espw" (type root:organization) is ready to use.',
    ]
    result = await ws("create", "espw", "--ignore-existing", "--type", "root:universal")
    assert result.code == 1
    assert result.err == (
        'Error: workspace "espw" cannot be created with type root:universal, it already exists'
        " with different type root:organization\n"
    )
    result = await ws("create", "espw", "--ignore-existing", "--type", "universal")
    assert result.err == "Error: --ignore-existing must not be used with non-absolute type path\n"


async def test_create_times_out_when_never_ready(ws: WsRunner, stub: StubKcp):
    stub.hold_phases = True
    ws.waits = WaitSettings(visible_interval=0.01, ready_interval=0.01, ready_timeout=0.1)
    result = await ws("create", "slow")
    assert result.code == 1
    assert (
        result.out
        == 'Workspace "slow" (type root:organization) created. Waiting for it to be ready...\n'
    )
    assert result.err == "Error: timed out waiting for the condition\n"


async def test_relative_switch_needs_ready_and_prints_type(ws: WsRunner, stub: StubKcp):
    stub.add_workspace("root", "espw")
    stub.add_workspace("root:espw", "mb-1", phase="Initializing")
    await ws("root:espw")
    stub.hold_phases = True
    result = await ws("mb-1")
    assert (result.code, result.err) == (1, 'Error: workspace "mb-1" is not ready\n')
    assert ws.server() == f"{stub.url}/clusters/root:espw"  # untouched on failure
    stub.hold_phases = False
    result = await ws("mb-1")
    assert result.out == 'Current workspace is "root:espw:mb-1" (type root:universal).\n'
    result = await ws("nope")
    assert result.err == 'Error: workspaces.tenancy.kcp.io "nope" not found\n'


async def test_absolute_paths(ws: WsRunner, stub: StubKcp):
    stub.add_workspace("root", "my-org")
    stub.add_workspace("root:my-org", "wmw-c")
    result = await ws("root:my-org:wmw-c")
    assert result.out == 'Current workspace is "root:my-org:wmw-c".\n'
    assert ws.server() == f"{stub.url}/clusters/root:my-org:wmw-c"
    result = await ws("root:my-org:nope")
    assert (result.code, result.err) == (1, 'Error: workspace "root:my-org:nope" not found\n')
    stub.resolve("root:my-org:wmw-c").no_groups = True
    result = await ws("root:my-org:wmw-c")
    assert result.err == "Error: access to workspace root:my-org:wmw-c denied\n"
    result = await ws("ju:nk§")
    assert result.err == "Error: invalid workspace name format: ju:nk§\n"
    # system: paths are entered without checks
    result = await ws("system:admin")
    assert result.out == 'Current workspace is "system:admin".\n'


async def test_parent_previous_current(ws: WsRunner, stub: StubKcp):
    stub.add_workspace("root", "my-org")
    stub.add_workspace("root:my-org", "wmw-c")
    await ws("root:my-org:wmw-c")
    assert (await ws("..")).out == 'Current workspace is "root:my-org".\n'
    assert (await ws("..")).out == 'Current workspace is "root".\n'
    result = await ws("..")
    assert (result.code, result.err) == (1, 'Error: current workspace is "root"\n')
    assert (await ws("-")).out == 'Current workspace is "root:my-org".\n'
    assert (await ws("-")).out == 'Current workspace is "root".\n'
    assert (await ws(".")).out == 'Current workspace is "root".\n'
    assert (await ws("current")).out == 'Current workspace is "root".\n'
    assert (await ws("current", "--short")).out == "root\n"
    assert (await ws("use", "my-org", "--short")).out == "root:my-org\n"


async def test_previous_without_history(ws: WsRunner):
    result = await ws("-")
    assert (result.code, result.err) == (1, "Error: no previous workspace found in kubeconfig\n")


async def test_non_workspace_context(ws: WsRunner):
    result = await ws("root", "--context", "base")
    base = yaml.safe_load(ws.kubeconfig.read_text())["clusters"][1]["cluster"]["server"]
    assert result.err == f'Error: current URL "{base}" does not point to a workspace\n'
    assert (await ws(".", "--context", "base")).out == f'Current workspace is the URL "{base}".\n'
    assert ws.config()["current-context"] == "root"


async def test_context_flag_selects_the_context_copied(ws: WsRunner, stub: StubKcp, tmp_path: Path):
    config = ws.config()
    config["users"].append({"name": "other", "user": {"token": "stub-token"}})
    config["contexts"].append({"name": "other", "context": {"cluster": "root", "user": "other"}})
    config["current-context"] = "base"
    ws.kubeconfig.write_text(yaml.safe_dump(config))
    result = await ws("root", "--context", "other")
    assert result.code == 0, result.err
    contexts = {c["name"]: c["context"] for c in ws.config()["contexts"]}
    assert contexts[CURRENT]["user"] == "other"
    assert contexts[PREVIOUS] == {"cluster": "root", "user": "other"}


async def test_explicit_kubeconfig_flag(stub: StubKcp, tmp_path: Path):
    explicit = tmp_path / "explicit.kubeconfig"
    explicit.write_text(yaml.safe_dump(kubeconfig_dict(f"{stub.url}/clusters/root")))
    elsewhere = WsRunner(tmp_path / "unused")
    result = await elsewhere("root", "--kubeconfig", str(explicit))
    assert result.code == 0, result.err
    assert yaml.safe_load(explicit.read_text())["current-context"] == CURRENT
    assert not (tmp_path / "unused").exists()
    missing = await elsewhere("root", "--kubeconfig", str(tmp_path / "missing"))
    assert missing.code == 1 and "does not exist" in missing.err


async def test_tree(ws: WsRunner, stub: StubKcp):
    stub.add_workspace("root", "espw")
    stub.add_workspace("root:espw", "mb-1")
    stub.add_workspace("root:espw", "mb-2")
    stub.add_workspace("root", "imw-1")
    result = await ws("tree")
    assert result.code == 0, result.err
    assert (
        result.out
        == ".\n└── root\n    ├── espw\n    │   ├── mb-1\n    │   └── mb-2\n    └── imw-1\n\n"
    )
    await ws("root:espw")
    result = await ws("tree", "--full")
    assert result.out == ".\n└── root:espw\n    ├── root:espw:mb-1\n    └── root:espw:mb-2\n\n"


async def test_home_workspace_is_a_clear_error(ws: WsRunner):
    for argv in ([], ["~"], ["use", "~"]):
        result = await ws(*argv)
        assert result.code == 1 and result.out == ""
        assert result.err.startswith("Error: home workspaces are not available on this server")
        assert result.err.count("\n") == 1


async def test_permission_claim_warnings_after_switch(ws: WsRunner, stub: StubKcp):
    stub.clusters["root"].apibindings = [
        {
            "metadata": {"name": "bind-x"},
            "spec": {},
            "status": {"exportPermissionClaims": [{"group": "", "resource": "secrets"}]},
        }
    ]
    result = await ws("root")
    assert result.out.splitlines() == [
        "Warning: claim for secrets exported but not specified on APIBinding bind-x",
        "Add this claim to the APIBinding's Spec.",
        "Warning: claim for secrets specified on APIBinding bind-x but not accepted or rejected.",
        'Current workspace is "root".',
    ]


async def test_binding_check_errors_go_to_stderr_only(ws: WsRunner, stub: StubKcp):
    stub.clusters["root"].forbidden = True  # forbidden listing: nothing to show
    result = await ws("root")
    assert (result.code, result.out, result.err) == (0, 'Current workspace is "root".\n', "")
    stub.clusters["root"].forbidden = False
    stub.clusters["root"].no_apibindings = True
    result = await ws("root")
    assert (result.code, result.out) == (0, 'Current workspace is "root".\n')
    assert result.err == (
        "error checking APIBindings: the server could not find the requested resource\n"
    )


async def test_wrong_token_is_reported(ws: WsRunner, stub: StubKcp):
    stub.add_workspace("root", "espw")
    result = await ws("espw", "--token", "wrong")
    assert (result.code, result.err) == (1, "Error: Unauthorized\n")


async def test_create_context(ws: WsRunner, stub: StubKcp):
    stub.add_workspace("root", "espw")
    await ws("root:espw")
    result = await ws("create-context")
    assert result.out == 'Created context "root:espw" and switched to it.\n'
    result = await ws("create-context")
    assert result.err == (
        'Error: context "root:espw" already exists in kubeconfig, use --overwrite to update it\n'
    )
    assert (await ws("create-context", "--overwrite")).out == 'Updated context "root:espw".\n'
    result = await ws("create-context", "root", "--overwrite")
    assert result.out == 'Updated context "root" and switched to it.\n'
    result = await ws("create-context", "mine")
    assert result.out == 'Created context "mine" and switched to it.\n'
    assert ws.config()["current-context"] == "mine"


@pytest.mark.parametrize(
    ("argv", "first_line"),
    [
        (["a", "b"], "Error: accepts at most 1 arg(s), received 2"),
        (["--nope"], "Error: unknown flag: --nope"),
        (["create"], "Error: requires 1 arg(s), received 0"),
    ],
)
async def test_usage_errors_exit_1_with_usage(ws: WsRunner, argv: list[str], first_line: str):
    result = await ws(*argv)
    assert result.code == 1 and result.out == ""
    assert result.err.splitlines()[0] == first_line
    assert "Usage:" in result.err


async def test_help(ws: WsRunner):
    result = await ws("--help")
    assert result.code == 0 and "Available Commands:" in result.out
    result = await ws("create", "-h")
    assert result.code == 0 and "--ignore-existing" in result.out


async def test_unreachable_server_is_one_error_line(tmp_path: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "dead.kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig_dict(f"http://127.0.0.1:{port}/clusters/root")))
    result = await WsRunner(path)("espw")
    assert result.code == 1 and result.out == ""
    assert result.err.startswith(
        f"Error: GET http://127.0.0.1:{port}/clusters/root{WORKSPACES}/espw: Cannot connect"
    )
    assert result.err.count("\n") == 1


async def test_create_of_an_already_ready_workspace_skips_the_waiting_line(
    ws: WsRunner, stub: StubKcp
):
    stub.ready_on_create = True
    result = await ws("create", "fast", "--enter")
    assert result.out.splitlines() == [
        'Workspace "fast" (type root:organization) is ready to use.',
        'Current workspace is "root:fast" (type root:organization).',
    ]
