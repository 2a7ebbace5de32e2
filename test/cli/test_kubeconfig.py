"""kcp's kubeconfig rewrite (kcp-facts 3.7) and client-go-style load/merge/write-back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from edgemc.cli import kubeconfig as kc
from edgemc.cli.kubeconfig import CURRENT, PREVIOUS, Entry, Kubeconfig


def cfg(clusters: dict[str, str], contexts: dict[str, tuple[str, str]], current: str) -> Kubeconfig:
    """A Kubeconfig from {cluster: server} and {context: (cluster, user)}, origin "f"."""
    return Kubeconfig(
        clusters={
            n: Entry({"server": s, "certificate-authority-data": "Q0E="}, "f")
            for n, s in clusters.items()
        },
        contexts={n: Entry({"cluster": c, "user": u}, "f") for n, (c, u) in contexts.items()},
        users={"test": Entry({"token": "t"}, "f"), "test2": Entry({"token": "t2"}, "f")},
        current_context=current,
    )


def servers(config: Kubeconfig) -> dict[str, str]:
    return {n: e.body["server"] for n, e in config.clusters.items()}


def contexts(config: Kubeconfig) -> dict[str, tuple[str, str]]:
    return {n: (e.body["cluster"], e.body["user"]) for n, e in config.contexts.items()}


def test_first_switch_from_a_plain_context():
    start = cfg({"root": "https://h/clusters/root"}, {"root": ("root", "test")}, "root")
    new = kc.switch_to(start, "root", "https://h/clusters/root:imw-1")
    assert servers(new) == {
        "root": "https://h/clusters/root",
        CURRENT: "https://h/clusters/root:imw-1",
    }
    assert contexts(new) == {
        "root": ("root", "test"),
        CURRENT: (CURRENT, "test"),
        PREVIOUS: ("root", "test"),
    }
    assert new.current_context == CURRENT
    # the copy keeps CA and other fields of the cluster it came from
    assert new.clusters[CURRENT].body["certificate-authority-data"] == "Q0E="
    assert new.users == start.users
    assert start.current_context == "root" and CURRENT not in start.clusters  # pure


def test_switch_from_the_current_context_saves_its_cluster_as_previous():
    start = cfg({CURRENT: "https://test/clusters/root:foo"}, {CURRENT: (CURRENT, "test")}, CURRENT)
    new = kc.switch_to(start, CURRENT, "https://test/clusters/root:foo:bar")
    assert servers(new) == {
        CURRENT: "https://test/clusters/root:foo:bar",
        PREVIOUS: "https://test/clusters/root:foo",
    }
    assert contexts(new) == {CURRENT: (CURRENT, "test"), PREVIOUS: (PREVIOUS, "test")}


def test_swap_with_previous():
    start = cfg(
        {CURRENT: "https://test/clusters/root:foo", PREVIOUS: "https://test/clusters/root:foo:bar"},
        {CURRENT: (CURRENT, "test"), PREVIOUS: (PREVIOUS, "test2")},
        CURRENT,
    )
    new = kc.swap_previous(start, CURRENT)
    assert servers(new) == {
        CURRENT: "https://test/clusters/root:foo:bar",
        PREVIOUS: "https://test/clusters/root:foo",
    }
    assert contexts(new) == {CURRENT: (CURRENT, "test2"), PREVIOUS: (PREVIOUS, "test")}
    assert kc.current_server(new) == "https://test/clusters/root:foo:bar"
    # twice is identity
    again = kc.swap_previous(new, CURRENT)
    assert servers(again) == servers(start) and contexts(again) == contexts(start)


def test_swap_when_previous_is_a_non_workspace_context():
    start = cfg(
        {CURRENT: "https://test/clusters/root:foo", "other": "https://other/"},
        {CURRENT: (CURRENT, "test"), PREVIOUS: ("other", "test2"), "other": ("other", "test2")},
        CURRENT,
    )
    new = kc.swap_previous(start, CURRENT)
    assert contexts(new)[CURRENT] == ("other", "test2")
    assert contexts(new)[PREVIOUS] == (PREVIOUS, "test")
    assert servers(new)[PREVIOUS] == "https://test/clusters/root:foo"
    assert servers(new)[CURRENT] == "https://test/clusters/root:foo"  # stale, as kcp leaves it
    assert kc.current_server(new) == "https://other/"


def test_swap_from_an_unrelated_context():
    start = cfg(
        {CURRENT: "https://test/clusters/root:foo", "other": "https://o/", "other2": "https://o2/"},
        {
            CURRENT: (CURRENT, "test"),
            PREVIOUS: ("other2", "test2"),
            "other": ("other", "test"),
            "other2": ("other2", "test2"),
        },
        "other",
    )
    new = kc.swap_previous(start, "other")
    assert contexts(new)[CURRENT] == ("other2", "test2")
    assert contexts(new)[PREVIOUS] == ("other", "test")
    assert servers(new) == servers(start)
    assert new.current_context == CURRENT


def test_swap_without_previous_fails():
    start = cfg({CURRENT: "https://t/clusters/root"}, {CURRENT: (CURRENT, "test")}, CURRENT)
    with pytest.raises(kc.KubeconfigError, match="no previous workspace found in kubeconfig"):
        kc.swap_previous(start, CURRENT)


def test_missing_context_and_cluster():
    start = cfg({}, {"dangling": ("nowhere", "test")}, "gone")
    with pytest.raises(kc.KubeconfigError, match='current "gone" context not found'):
        kc.switch_to(start, "gone", "https://x")
    with pytest.raises(kc.KubeconfigError, match='cluster "nowhere" not found in kubeconfig'):
        kc.switch_to(start, "dangling", "https://x")


def test_create_context_copies_current():
    start = cfg({"root": "https://h/clusters/root:a"}, {"root": ("root", "test")}, "root")
    new = kc.create_context(start, "root", "root:a")
    assert servers(new)["root:a"] == "https://h/clusters/root:a"
    assert contexts(new)["root:a"] == ("root:a", "test")
    assert new.current_context == "root:a"


# --- files ----------------------------------------------------------------------------


def write(path: Path, document: dict) -> Path:
    path.write_text(yaml.safe_dump(document))
    return path


def doc(clusters: dict, contexts: dict, users: dict, current: str = "") -> dict:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": b} for n, b in clusters.items()],
        "contexts": [{"name": n, "context": b} for n, b in contexts.items()],
        "users": [{"name": n, "user": b} for n, b in users.items()],
    }
    if current:
        document["current-context"] = current
    return document


def test_loading_rules(tmp_path: Path):
    rules = kc.LoadingRules.from_environment("", {"KUBECONFIG": "/a:/b::/a", "HOME": "/h"})
    assert rules.precedence == ("/a", "/b") and not rules.explicit
    assert kc.LoadingRules.from_environment("", {"HOME": "/h"}).precedence == ("/h/.kube/config",)
    explicit = kc.LoadingRules.from_environment("/x", {"KUBECONFIG": "/a"})
    assert explicit.explicit == "/x" and explicit.precedence == ("/x",)
    existing = write(tmp_path / "b", doc({}, {}, {}))
    rules = kc.LoadingRules((str(tmp_path / "a"), str(existing)))
    assert rules.default_filename() == str(existing)
    assert kc.LoadingRules((str(tmp_path / "a"), str(tmp_path / "c"))).default_filename() == str(
        tmp_path / "a"
    )


def test_merge_first_file_wins(tmp_path: Path):
    a = write(
        tmp_path / "a",
        doc({"c1": {"server": "https://a"}}, {"x": {"cluster": "c1", "user": "u"}}, {}, ""),
    )
    b = write(
        tmp_path / "b",
        doc(
            {"c1": {"server": "https://b"}, "c2": {"server": "https://b2"}},
            {},
            {"u": {"token": "t"}},
            "x",
        ),
    )
    merged = kc.load(kc.LoadingRules((str(a), str(b), str(tmp_path / "missing"))))
    assert merged.clusters["c1"] == Entry({"server": "https://a"}, str(a))
    assert merged.clusters["c2"].origin == str(b)
    assert merged.users["u"].origin == str(b)
    assert merged.current_context == "x"


def test_explicit_file_must_exist(tmp_path: Path):
    with pytest.raises(kc.KubeconfigError, match="does not exist"):
        kc.load(kc.LoadingRules((str(tmp_path / "nope"),), explicit=str(tmp_path / "nope")))


def test_write_back_single_file_keeps_everything_else(tmp_path: Path):
    original = doc(
        {"root": {"server": "https://h/clusters/root", "certificate-authority": "ca.crt"}},
        {"root": {"cluster": "root", "user": "kcp-admin"}},
        {"kcp-admin": {"token": "secret"}},
        "root",
    )
    original["preferences"] = {}
    path = write(tmp_path / "config", original)
    path.chmod(0o640)
    rules = kc.LoadingRules((str(path),))
    start = kc.load(rules)
    kc.modify_config(rules, start, kc.switch_to(start, "root", "https://h/clusters/root:espw"))
    written = yaml.safe_load(path.read_text())
    assert written["current-context"] == CURRENT
    assert written["preferences"] == {}
    assert written["users"] == original["users"]
    assert {c["name"]: c["cluster"] for c in written["clusters"]} == {
        "root": {"server": "https://h/clusters/root", "certificate-authority": "ca.crt"},
        CURRENT: {"server": "https://h/clusters/root:espw", "certificate-authority": "ca.crt"},
    }
    assert {c["name"]: c["context"] for c in written["contexts"]} == {
        "root": {"cluster": "root", "user": "kcp-admin"},
        CURRENT: {"cluster": CURRENT, "user": "kcp-admin"},
        PREVIOUS: {"cluster": "root", "user": "kcp-admin"},
    }
    assert os.stat(path).st_mode & 0o777 == 0o640  # an existing file keeps its mode
    assert not (tmp_path / "config.lock").exists()
    # a second switch updates the entries in place (no duplicates)
    start = kc.load(rules)
    kc.modify_config(rules, start, kc.switch_to(start, CURRENT, "https://h/clusters/root"))
    written = yaml.safe_load(path.read_text())
    assert [c["name"] for c in written["clusters"]] == ["root", CURRENT, PREVIOUS]
    assert kc.load(rules).clusters[PREVIOUS].body["server"] == "https://h/clusters/root:espw"


def test_write_back_multiple_files(tmp_path: Path):
    """Entries go to the file of the entry they were copied from; current-context to the
    first existing file."""
    users = write(tmp_path / "users", doc({}, {}, {"kcp-admin": {"token": "t"}}, ""))
    admin = write(
        tmp_path / "admin",
        doc(
            {"root": {"server": "https://h/clusters/root"}},
            {"root": {"cluster": "root", "user": "kcp-admin"}},
            {},
            "root",
        ),
    )
    rules = kc.LoadingRules((str(tmp_path / "absent"), str(users), str(admin)))
    start = kc.load(rules)
    new = kc.switch_to(start, "root", "https://h/clusters/root:imw-1")
    plan = kc.planned_writes(rules, start, new)
    assert plan[str(users)] == {"delete": {}, "current-context": CURRENT}
    assert set(plan[str(admin)]["clusters"]) == {CURRENT}
    assert set(plan[str(admin)]["contexts"]) == {CURRENT, PREVIOUS}
    kc.modify_config(rules, start, new)
    assert not (tmp_path / "absent").exists()
    merged = kc.load(rules)
    assert merged.current_context == CURRENT
    assert kc.current_server(merged) == "https://h/clusters/root:imw-1"
    assert yaml.safe_load(users.read_text())["users"] == [
        {"name": "kcp-admin", "user": {"token": "t"}}
    ]


def test_new_file_is_created_private(tmp_path: Path):
    rules = kc.LoadingRules((str(tmp_path / "new" / "config"),))
    start = Kubeconfig()
    new = Kubeconfig(
        clusters={"c": Entry({"server": "https://h"})},
        contexts={"c": Entry({"cluster": "c"})},
        current_context="c",
    )
    kc.modify_config(rules, start, new)
    path = tmp_path / "new" / "config"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert kc.load(rules).current_context == "c"


def test_lock_file_blocks_concurrent_writers(tmp_path: Path):
    path = write(
        tmp_path / "config",
        doc({"c": {"server": "https://h/clusters/root"}}, {"c": {"cluster": "c"}}, {}, "c"),
    )
    rules = kc.LoadingRules((str(path),))
    start = kc.load(rules)
    (tmp_path / "config.lock").touch()
    with pytest.raises(kc.KubeconfigError, match="locked"):
        kc.modify_config(rules, start, kc.switch_to(start, "c", "https://h/clusters/root:a"))
    assert kc.load(rules).current_context == "c"


def test_client_settings_resolve_paths_and_overrides(tmp_path: Path):
    path = write(
        tmp_path / "config",
        doc(
            {"root": {"server": "https://h/clusters/root", "certificate-authority": "ca.crt"}},
            {
                "root": {"cluster": "root", "user": "kcp-admin"},
                "other": {"cluster": "root", "user": "other"},
            },
            {"kcp-admin": {"token": "t"}, "other": {"client-certificate": "sub/c.crt"}},
            "root",
        ),
    )
    config = kc.load(kc.LoadingRules((str(path),)))
    settings = kc.client_settings(config)
    assert settings.context_name == "root" and settings.server == "https://h/clusters/root"
    cluster = settings.loader_config["clusters"][0]["cluster"]
    assert cluster["certificate-authority"] == str(tmp_path / "ca.crt")
    assert settings.loader_config["users"][0]["user"] == {"token": "t"}

    other = kc.client_settings(config, kc.Overrides(context="other"))
    user = other.loader_config["users"][0]["user"]
    assert user["client-certificate"] == str(tmp_path / "sub" / "c.crt")

    overridden = kc.client_settings(
        config,
        kc.Overrides(
            server="https://x/clusters/root:a", token="tok", insecure_skip_tls_verify=True
        ),
    )
    assert overridden.server == "https://x/clusters/root:a"
    assert overridden.loader_config["users"][0]["user"] == {"token": "tok"}
    cluster = overridden.loader_config["clusters"][0]["cluster"]
    assert cluster["insecure-skip-tls-verify"] is True and "certificate-authority" not in cluster

    with pytest.raises(kc.KubeconfigError, match='current "nope" context not found'):
        kc.client_settings(config, kc.Overrides(context="nope"))
    with pytest.raises(kc.KubeconfigError, match="no current context"):
        kc.client_settings(Kubeconfig())
