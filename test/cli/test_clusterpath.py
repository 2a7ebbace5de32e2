"""Path arithmetic and server-URL parsing of `kubectl ws` (kcp-facts 2.1, 3.7)."""

from __future__ import annotations

import pytest

from edgemc.cli import clusterpath as cp


@pytest.mark.parametrize(
    ("server", "base", "path"),
    [
        ("https://h:6443/clusters/root", "https://h:6443", "root"),
        ("https://h:6443/clusters/root:espw", "https://h:6443", "root:espw"),
        ("https://h:6443/clusters/root:espw/", "https://h:6443", "root:espw"),
        ("https://h:6443/clusters/root:a/apis/x", "https://h:6443", "root:a"),
        ("https://h/prefix/clusters/root:a", "https://h/prefix", "root:a"),
        ("https://h:6443/clusters/12299slctppnhjnn", "https://h:6443", "12299slctppnhjnn"),
        ("https://h:6443/clusters/system:admin", "https://h:6443", "system:admin"),
        ("https://h:6443/clusters/*", "https://h:6443", "*"),
        # only the first /clusters/ counts
        ("https://h/clusters/root/clusters/other", "https://h", "root"),
    ],
)
def test_parse_cluster_url(server: str, base: str, path: str):
    parsed = cp.parse_cluster_url(server)
    assert (parsed.base, parsed.path) == (base, path)


@pytest.mark.parametrize(
    "server",
    [
        "https://h:6443",
        "https://h:6443/",
        "https://h:6443/clusters/",
        "https://h:6443/clusters/Root",
        "https://h:6443/clusters/root::a",
        "https://h:6443/services/apiexport/root/x",
    ],
)
def test_parse_cluster_url_rejects_non_workspace_urls(server: str):
    with pytest.raises(cp.NotAWorkspaceURL):
        cp.parse_cluster_url(server)


@pytest.mark.parametrize(
    ("base", "path", "url"),
    [
        ("https://h:6443", "root", "https://h:6443/clusters/root"),
        ("https://h:6443/", "root:espw", "https://h:6443/clusters/root:espw"),
        ("https://h/prefix", "root:a:b", "https://h/prefix/clusters/root:a:b"),
        ("http://127.0.0.1:1234", "system:admin", "http://127.0.0.1:1234/clusters/system:admin"),
    ],
)
def test_server_url(base: str, path: str, url: str):
    assert cp.server_url(base, path) == url
    assert cp.parse_cluster_url(url).path == path


def test_server_for_keeps_base():
    current = cp.parse_cluster_url("https://h:6443/clusters/root:espw")
    assert current.server_for("root") == "https://h:6443/clusters/root"


@pytest.mark.parametrize(
    ("path", "parent", "name"),
    [
        ("root", None, "root"),
        ("root:espw", "root", "espw"),
        ("root:my-org:wmw-c", "root:my-org", "wmw-c"),
        ("12299slctppnhjnn", None, "12299slctppnhjnn"),
        # a system: path is its own parent (kcp's logicalcluster.Path.Split)
        ("system:admin", "system:admin", ""),
    ],
)
def test_split_and_parent(path: str, parent: str | None, name: str):
    assert cp.split(path) == (parent or "", name)
    assert cp.parent(path) == parent


def test_join_and_prefix():
    assert cp.join("root:espw", "mb") == "root:espw:mb"
    assert cp.join("", "root") == "root"
    assert cp.has_prefix("root:organization", "root")
    assert cp.has_prefix("rootx", "root")  # plain string prefix, as kcp
    assert not cp.has_prefix("organization", "root")


@pytest.mark.parametrize(
    ("path", "valid"),
    [
        ("root", True),
        ("root:a-b:c1", True),
        ("*", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("root:", False),
        (":root", False),
        ("Root", False),
        ("root:-a", False),
        ("ju:nk§", False),
        ("", False),
        ("~", False),
    ],
)
def test_is_valid_path(path: str, valid: bool):
    assert cp.is_valid_path(path) is valid


def test_type_string():
    assert cp.type_string({"name": "universal", "path": "root"}) == "root:universal"
    assert cp.type_string({"name": "universal"}) == "universal"
    assert cp.type_string(None) == ""
