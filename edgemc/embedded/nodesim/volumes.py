"""A pod's files on the simulated node: Secret, ConfigMap and service-account volumes.

A component run as a pod (see `components`) reads its files from a private directory that
stands for the container's filesystem: a volume mounted at `/kcp/` lives in `<root>/kcp/`.
`VolumeSet` gathers the contents (pure: from already-fetched objects) and `write_files`
puts them on disk; `rewrite_paths` turns command-line paths into the mounts into paths in
that directory. The service-account mount (`token`, `ca.crt`, `namespace` at
/var/run/secrets/kubernetes.io/serviceaccount) is added like the kubelet adds it.
"""

from __future__ import annotations

import base64
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Obj = dict[str, Any]

SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


class VolumeNotReady(Exception):
    """A volume's source is missing (a Secret or ConfigMap not yet created); retry later."""


@dataclass
class VolumeSet:
    """Files of a container by absolute in-container path."""

    files: dict[str, bytes] = field(default_factory=dict)
    mounts: list[str] = field(default_factory=list)

    def add_mount(self, mount_path: str, contents: Mapping[str, bytes]) -> None:
        mount_path = posixpath.normpath(mount_path)
        self.mounts.append(mount_path)
        for rel, data in contents.items():
            self.files[posixpath.join(mount_path, rel)] = data


def _decode(values: Mapping[str, str] | None) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in (values or {}).items()}


def _encode(values: Mapping[str, str] | None) -> dict[str, bytes]:
    return {k: v.encode() for k, v in (values or {}).items()}


def _select(data: dict[str, bytes], items: list[Obj] | None, what: str) -> dict[str, bytes]:
    """Apply a volume's `items` (key -> path) selection, as the kubelet does."""
    if not items:
        return data
    out: dict[str, bytes] = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            raise VolumeNotReady(f"{what} has no key {key!r}")
        out[item.get("path") or key] = data[key]
    return out


def secret_files(secret: Obj | None, source: Obj) -> dict[str, bytes]:
    """The files of a `secret` volume source; None `secret` means not found."""
    name = source.get("secretName", "")
    if secret is None:
        if source.get("optional"):
            return {}
        raise VolumeNotReady(f'secret "{name}" not found')
    return _select(_decode(secret.get("data")), source.get("items"), f'secret "{name}"')


def configmap_files(configmap: Obj | None, source: Obj) -> dict[str, bytes]:
    """The files of a `configMap` volume source; None `configmap` means not found."""
    name = source.get("name", "")
    if configmap is None:
        if source.get("optional"):
            return {}
        raise VolumeNotReady(f'configmap "{name}" not found')
    data = _encode(configmap.get("data"))
    data.update(_decode(configmap.get("binaryData")))
    return _select(data, source.get("items"), f'configmap "{name}"')


def service_account_files(token: str, ca_pem: str, namespace: str) -> dict[str, bytes]:
    return {"token": token.encode(), "ca.crt": ca_pem.encode(), "namespace": namespace.encode()}


def container_volumes(
    pod: Obj,
    container: Obj,
    sources: Mapping[str, dict[str, bytes]],
    service_account: dict[str, bytes] | None,
) -> VolumeSet:
    """The files `container` sees, given each pod volume's files by volume name."""
    volumes = VolumeSet()
    for mount in container.get("volumeMounts") or ():
        name = mount.get("name", "")
        if name not in sources:
            continue  # emptyDir, hostPath...: an empty directory is enough here
        contents = sources[name]
        sub = mount.get("subPath")
        if sub:
            prefix = sub.rstrip("/") + "/"
            single = contents.get(sub)
            if single is not None:
                volumes.files[posixpath.normpath(mount["mountPath"])] = single
                volumes.mounts.append(posixpath.normpath(mount["mountPath"]))
                continue
            contents = {k[len(prefix) :]: v for k, v in contents.items() if k.startswith(prefix)}
        volumes.add_mount(mount.get("mountPath", "/"), contents)
    spec = pod.get("spec") or {}
    if service_account is not None and spec.get("automountServiceAccountToken", True):
        if SERVICE_ACCOUNT_MOUNT not in volumes.mounts:
            volumes.add_mount(SERVICE_ACCOUNT_MOUNT, service_account)
    return volumes


def local_path(root: Path, container_path: str) -> Path:
    """Where an in-container absolute path lives under `root`."""
    return root / posixpath.normpath(container_path).lstrip("/")


def write_files(root: Path, volumes: VolumeSet) -> None:
    """Write a container's files below `root` (private: 0700 directories, 0600 files)."""
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    for mount in volumes.mounts:
        if mount not in volumes.files:  # a subPath mount of a single file is no directory
            local_path(root, mount).mkdir(parents=True, exist_ok=True)
    for path, data in volumes.files.items():
        target = local_path(root, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.chmod(target, 0o600)


def rewrite_paths(argv: list[str], mounts: list[str], root: Path) -> list[str]:
    """Arguments naming a path inside a mount, rewritten into `root` (also `--flag=path`)."""

    def rewrite(value: str) -> str:
        if not value.startswith("/"):
            return value
        normal = posixpath.normpath(value)
        for mount in mounts:
            if normal == mount or normal.startswith(mount.rstrip("/") + "/"):
                return str(local_path(root, normal))
        return value

    out = []
    for arg in argv:
        if arg.startswith("-") and "=" in arg:
            flag, value = arg.split("=", 1)
            out.append(f"{flag}={rewrite(value)}")
        else:
            out.append(rewrite(arg))
    return out
