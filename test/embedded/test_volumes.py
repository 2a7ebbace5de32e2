"""A pod's files: Secret/ConfigMap volumes with items and subPath, the service-account mount."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from edgemc.embedded.nodesim import volumes


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


SECRET = {"data": {"kubeconfig": b64("kc"), "other": b64("x")}}
CONFIGMAP = {"data": {"index.html": "hi"}, "binaryData": {"logo.png": b64(b"\x89PNG")}}


def test_sources_items_and_optional() -> None:
    assert volumes.secret_files(SECRET, {"secretName": "s"}) == {"kubeconfig": b"kc", "other": b"x"}
    items = {"secretName": "s", "items": [{"key": "kubeconfig", "path": "conf/kc"}]}
    assert volumes.secret_files(SECRET, items) == {"conf/kc": b"kc"}
    assert volumes.configmap_files(CONFIGMAP, {"name": "c"}) == {
        "index.html": b"hi",
        "logo.png": b"\x89PNG",
    }
    assert volumes.configmap_files(None, {"name": "c", "optional": True}) == {}
    with pytest.raises(volumes.VolumeNotReady, match='secret "s" not found'):
        volumes.secret_files(None, {"secretName": "s"})
    with pytest.raises(volumes.VolumeNotReady, match="no key 'nope'"):
        volumes.secret_files(SECRET, {"secretName": "s", "items": [{"key": "nope"}]})


def test_container_view_mounts_subpath_and_service_account(tmp_path: Path) -> None:
    pod = {"spec": {}}
    container = {
        "volumeMounts": [
            {"name": "cfg", "mountPath": "/kcp/"},
            {"name": "web", "mountPath": "/etc/index.html", "subPath": "index.html"},
            {"name": "scratch", "mountPath": "/tmp/x"},
        ]
    }
    sources = {"cfg": {"kubeconfig": b"kc"}, "web": {"index.html": b"hi"}}
    account = volumes.service_account_files("tok", "CA", "ns")
    view = volumes.container_volumes(pod, container, sources, account)
    assert view.files == {
        "/kcp/kubeconfig": b"kc",
        "/etc/index.html": b"hi",
        f"{volumes.SERVICE_ACCOUNT_MOUNT}/token": b"tok",
        f"{volumes.SERVICE_ACCOUNT_MOUNT}/ca.crt": b"CA",
        f"{volumes.SERVICE_ACCOUNT_MOUNT}/namespace": b"ns",
    }
    volumes.write_files(tmp_path, view)
    assert (tmp_path / "kcp" / "kubeconfig").read_bytes() == b"kc"
    assert (tmp_path / "kcp" / "kubeconfig").stat().st_mode & 0o077 == 0
    no_token = {"spec": {"automountServiceAccountToken": False}}
    assert volumes.SERVICE_ACCOUNT_MOUNT not in (
        volumes.container_volumes(no_token, container, sources, account).mounts
    )
