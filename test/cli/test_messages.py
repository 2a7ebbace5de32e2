"""The exact strings `kubectl ws` prints (kcp-facts 3.7, gotcha 8) and the tree layout."""

from __future__ import annotations

from edgemc.cli import messages
from edgemc.cli.tree import TreeNode, render_tree

MBWS = "apmziqj9p9fqlflm-mb-bf452e1f-45a0-4d5d-b35c-ef1ece2879ba"


def test_current_workspace_absolute_has_no_type():
    line = messages.current_workspace("https://192.168.58.123:6443/clusters/root:espw")
    assert line == 'Current workspace is "root:espw".\n'


def test_current_workspace_relative_carries_type_like_the_seed():
    line = messages.current_workspace(
        f"https://192.168.58.123:6443/clusters/root:espw:{MBWS}",
        type_ref={"name": "universal", "path": "root"},
    )
    assert line == f'Current workspace is "root:espw:{MBWS}" (type root:universal).\n'


def test_current_workspace_short_and_non_workspace_urls():
    assert messages.current_workspace("https://h/clusters/root:a", short=True) == "root:a\n"
    assert (
        messages.current_workspace("https://test")
        == 'Current workspace is the URL "https://test".\n'
    )
    assert messages.current_workspace("https://other/") == (
        'Current workspace is the URL "https://other/".\n'
    )
    assert messages.current_workspace("https://test", short=True) == ""


def test_workspace_reference():
    ref = messages.workspace_reference("imw-1", {"name": "organization", "path": "root"})
    assert ref == 'Workspace "imw-1" (type root:organization)'


def test_go_quote():
    assert messages.go_quote("root") == '"root"'
    assert messages.go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert messages.go_quote("a\nb\x01") == '"a\\nb\\x01"'
    assert messages.go_quote("ju:nk§") == '"ju:nk§"'


def _binding(name: str, exported: list[dict], spec: list[dict]) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {"permissionClaims": spec},
        "status": {"exportPermissionClaims": exported},
    }


def test_permission_claim_warnings():
    secrets = {"group": "", "resource": "secrets"}
    widgets = {"group": "example.io", "resource": "widgets", "identityHash": "abc"}
    cogs = {"group": "example.io", "resource": "cogs"}
    bindings = [
        _binding("quiet", [secrets], [{**secrets, "state": "Accepted"}]),
        _binding("rejected", [secrets], [{**secrets, "state": "Rejected"}]),
        _binding("missing", [widgets], []),
        _binding("pending", [cogs], [{**cogs}]),
        {"metadata": {"name": "no-status"}},
    ]
    assert messages.permission_claim_warnings(bindings) == (
        "Warning: claim for widgets.example.io:abc exported but not specified on APIBinding"
        " missing\nAdd this claim to the APIBinding's Spec.\n"
        "Warning: claim for widgets.example.io:abc specified on APIBinding missing but not"
        " accepted or rejected.\n"
        "Warning: claim for cogs.example.io specified on APIBinding pending but not accepted"
        " or rejected.\n"
    )


def test_permission_claims_match_on_identity_hash():
    exported = {"group": "example.io", "resource": "widgets", "identityHash": "abc"}
    other = {**exported, "identityHash": "def", "state": "Accepted"}
    out = messages.permission_claim_warnings([_binding("b", [exported], [other])])
    assert "exported but not specified on APIBinding b" in out


def test_render_tree():
    tree = TreeNode(
        "root",
        [
            TreeNode("espw", [TreeNode("mb-1"), TreeNode("mb-2")]),
            TreeNode("imw-1"),
            TreeNode("my-org", [TreeNode("wmw-c", [TreeNode("deep")]), TreeNode("wmw-s")]),
        ],
    )
    assert render_tree(tree) == (
        ".\n"
        "└── root\n"
        "    ├── espw\n"
        "    │   ├── mb-1\n"
        "    │   └── mb-2\n"
        "    ├── imw-1\n"
        "    └── my-org\n"
        "        ├── wmw-c\n"
        "        │   └── deep\n"
        "        └── wmw-s\n"
    )


def test_render_tree_single_node():
    assert render_tree(TreeNode("imw-1")) == ".\n└── imw-1\n"
