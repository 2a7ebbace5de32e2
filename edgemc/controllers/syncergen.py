"""`python -m edgemc.cmd syncer-gen`: a syncer identity in a mailbox and the edge manifest.

Run with the mailbox workspace current (as `scripts/mailbox-prep.sh` leaves it). It creates,
in the mailbox, ServiceAccount `<syncer id>` (namespace `default`), a ClusterRole with the
rights the syncer needs there, a ClusterRoleBinding and a token Secret, then writes the YAML
that installs the syncer in the edge cluster: Namespace, ServiceAccount, its token Secret,
ClusterRole and ClusterRoleBinding for the edge side, Role/RoleBinding `kcp-edge-dns-...`,
Secret `<syncer id>` holding a kubeconfig for the mailbox, and a Deployment running
`python -m edgemc.cmd syncer` from the edgemc image with that Secret mounted at `/kcp/`.

The syncer id is `kcp-edge-syncer-<name>-<8 base-36 digits of sha224(SyncTarget uid)>`; the
uid is read off the mailbox workspace's name (`<cluster>-mb-<uid>`), so re-running gives the
same id (the original invented a random uid each run). The syncer's kubeconfig names the
mailbox by its logical cluster (`<server>/clusters/<cluster>`), which stays valid whatever
path the mailbox is reached by. Re-running updates the mailbox ClusterRole and binding when
they differ from what this version wants, and leaves them alone otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import sys
from pathlib import Path
from typing import Any

import yaml

from edgemc.apis import edge
from edgemc.controllers import resources as r
from edgemc.controllers.app import describe_error
from edgemc.runtime import AlreadyExists, ApiError, Client, GroupVersionResource
from edgemc.runtime.cache import cluster_of
from edgemc.runtime.kcp import split_cluster_url
from edgemc.runtime.options import default_kubeconfig

EDGEMC_IMAGE = "ghcr.io/edgemc/edgemc:latest"
SYNCER_NAMESPACE_IN_MAILBOX = "default"
# The server's token controller fills a token Secret in well under a second; 30 s covers a
# loaded server without leaving the user waiting forever on one that never does it.
TOKEN_WAIT_SECONDS = 30.0

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class GenError(Exception):
    """A failure the user can act on; printed as one line."""


def base36(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, digit = divmod(number, 36)
        out = _DIGITS[digit] + out
    return out or "0"


def syncer_id(sync_target_name: str, sync_target_uid: str) -> str:
    digest = hashlib.sha224(sync_target_uid.encode()).digest()
    return f"kcp-edge-syncer-{sync_target_name}-{base36(digest)[:8]}"


def mailbox_rules() -> list[dict[str, Any]]:
    """What the syncer does in its mailbox: read everything it syncs, write copies and status.

    `*` resources include the subresources (status). The non-resource `access` on `/` is what
    kcp asks of a user entering a workspace; a ServiceAccount of the mailbox itself does not
    need it there, but it keeps the role usable when bound to another identity.
    """
    return [
        {
            "apiGroups": ["*"],
            "resources": ["*"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        },
        {"nonResourceURLs": ["/"], "verbs": ["access"]},
    ]


def edge_manifest(
    *,
    ident: str,
    sync_target_name: str,
    sync_target_uid: str,
    mailbox_path: str,
    kubeconfig: dict[str, Any],
    image: str,
) -> list[dict[str, Any]]:
    """The objects that install the syncer in the edge cluster, in apply order."""
    dns = ident.replace("kcp-edge-syncer-", "kcp-edge-dns-", 1)
    labels = {"app.kubernetes.io/name": ident, "app.kubernetes.io/part-of": "edgemc"}
    meta = {"name": ident, "namespace": ident, "labels": labels}
    args = [
        "--from-kubeconfig=/kcp/kubeconfig",
        f"--sync-target-name={sync_target_name}",
        f"--sync-target-uid={sync_target_uid}",
        f"--from-cluster={mailbox_path}",
        "--qps=30",
        "--burst=20",
        "--v=3",
    ]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ident, "labels": labels}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                **meta,
                "name": f"{ident}-token",
                "annotations": {"kubernetes.io/service-account.name": ident},
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": ident, "labels": labels},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": ident, "labels": labels},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": ident,
            },
            "subjects": [{"kind": "ServiceAccount", "name": ident, "namespace": ident}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": dns, "namespace": ident, "labels": labels},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["services", "endpoints"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": dns, "namespace": ident, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": dns},
            "subjects": [{"kind": "ServiceAccount", "name": ident, "namespace": ident}],
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta,
            "stringData": {"kubeconfig": yaml.safe_dump(kubeconfig, sort_keys=False)},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": {"app.kubernetes.io/name": ident}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": ident,
                        "containers": [
                            {
                                "name": "kcp-edge-syncer",
                                "image": image,
                                "command": ["python", "-m", "edgemc.cmd", "syncer"],
                                "args": args,
                                "volumeMounts": [
                                    {"name": "kcp-config", "mountPath": "/kcp/", "readOnly": True}
                                ],
                            }
                        ],
                        "volumes": [{"name": "kcp-config", "secret": {"secretName": ident}}],
                    },
                },
            },
        },
    ]


def _current_cluster_entry(path: str, context: str | None) -> dict[str, Any]:
    """The kubeconfig's cluster entry of `context` (default: the current context)."""
    # (entry, directory of the file it came from): relative file names in a kubeconfig are
    # relative to that file.
    clusters: list[tuple[dict[str, Any], Path]] = []
    contexts: list[dict[str, Any]] = []
    current = None
    for file in path.split(":"):
        try:
            doc = yaml.safe_load(Path(file).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise GenError(f"cannot read kubeconfig {file}: {err}") from None
        if not isinstance(doc, dict):
            raise GenError(f"kubeconfig {file} is not a kubeconfig")
        clusters += [(c, Path(file).parent) for c in doc.get("clusters") or []]
        contexts += doc.get("contexts") or []
        current = current or doc.get("current-context")
    wanted = context or current
    ctx = next((c.get("context") or {} for c in contexts if c.get("name") == wanted), None)
    if ctx is None:
        raise GenError(f"kubeconfig {path} has no context {wanted!r}")
    found = next(
        ((c.get("cluster") or {}, d) for c, d in clusters if c.get("name") == ctx.get("cluster")),
        None,
    )
    if found is None:
        raise GenError(f"kubeconfig {path} has no cluster {ctx.get('cluster')!r}")
    entry, directory = dict(found[0]), found[1]
    ca_file = entry.pop("certificate-authority", None)
    if ca_file and "certificate-authority-data" not in entry:
        try:
            ca = (directory / ca_file).read_bytes()
        except OSError as err:
            raise GenError(f"cannot read the CA file of kubeconfig {path}: {err}") from None
        entry["certificate-authority-data"] = base64.b64encode(ca).decode()
    return entry


async def _ensure(
    client: Client,
    gvr: GroupVersionResource,
    obj: dict[str, Any],
    compared: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Create `obj`; if it exists, update it when a `compared` field differs. Returns it."""
    try:
        return await client.create(gvr, obj)
    except AlreadyExists:
        pass
    meta = obj["metadata"]
    existing = await client.get(gvr, meta["name"], meta.get("namespace"))
    if all(existing.get(field) == obj.get(field) for field in compared):
        return existing
    updated = {**existing, **{field: obj[field] for field in compared}}
    return await client.update(gvr, updated)


async def _token(client: Client, name: str) -> str:
    async with asyncio.timeout(TOKEN_WAIT_SECONDS):
        while True:
            secret = await client.get(r.SECRETS, name, SYNCER_NAMESPACE_IN_MAILBOX)
            token = (secret.get("data") or {}).get("token")
            if token:
                return base64.b64decode(token).decode()
            await asyncio.sleep(0.1)


async def generate(args: argparse.Namespace) -> tuple[str, list[dict[str, Any]]]:
    """Make the syncer identity in the mailbox; return the syncer id and the edge objects."""
    kubeconfig = args.kubeconfig or default_kubeconfig()
    # The runtime's loading first: its errors name the file, context and problem.
    async with await Client.from_kubeconfig(kubeconfig, args.context) as client:
        cluster = await asyncio.to_thread(_current_cluster_entry, kubeconfig, args.context)
        base, mailbox_path = split_cluster_url(client.base_url)
        mailbox_name = (mailbox_path or "").rsplit(":", 1)[-1]
        if not mailbox_path or not edge.is_mailbox_workspace_name(mailbox_name):
            raise GenError(
                f"the current workspace ({mailbox_path or client.base_url}) is not a mailbox "
                "workspace; run scripts/mailbox-prep.sh from root:espw"
            )
        uid = mailbox_name.split(edge.MAILBOX_NAME_SEPARATOR)[1]
        ident = syncer_id(args.sync_target, uid)
        ns = SYNCER_NAMESPACE_IN_MAILBOX
        print(f'Creating service account "{ident}"')
        account = await _ensure(
            client,
            r.SERVICE_ACCOUNTS,
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": ident, "namespace": ns},
            },
        )
        print(
            f'Creating cluster role "{ident}" to give service account "{ident}"\n\n'
            f" 1. read and write access to what it syncs in this mailbox workspace\n"
            f" 2. write access to the status of those objects.\n"
        )
        await _ensure(
            client,
            r.CLUSTER_ROLES,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": ident},
                "rules": mailbox_rules(),
            },
            ("rules",),
        )
        print(
            f'Creating or updating cluster role binding "{ident}" to bind service account '
            f'"{ident}" to cluster role "{ident}".\n'
        )
        await _ensure(
            client,
            r.CLUSTER_ROLE_BINDINGS,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": ident},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": ident,
                },
                "subjects": [{"kind": "ServiceAccount", "name": ident, "namespace": ns}],
            },
            ("subjects",),
        )
        await _ensure(
            client,
            r.SECRETS,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/service-account-token",
                "metadata": {
                    "name": f"{ident}-token",
                    "namespace": ns,
                    "annotations": {"kubernetes.io/service-account.name": ident},
                },
            },
        )
        try:
            token = await _token(client, f"{ident}-token")
        except TimeoutError:
            raise GenError(
                f"the server did not fill in the token of Secret {ident}-token in time"
            ) from None
        cluster["server"] = f"{base}/clusters/{cluster_of(account) or mailbox_path}"
        mailbox_kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "mailbox", "cluster": cluster}],
            "users": [{"name": ident, "user": {"token": token}}],
            "contexts": [{"name": "mailbox", "context": {"cluster": "mailbox", "user": ident}}],
            "current-context": "mailbox",
        }
        objects = edge_manifest(
            ident=ident,
            sync_target_name=args.sync_target,
            sync_target_uid=uid,
            mailbox_path=mailbox_path,
            kubeconfig=mailbox_kubeconfig,
            image=args.syncer_image,
        )
    return ident, objects


def write_manifest(path: Path, ident: str, objects: list[dict[str, Any]]) -> None:
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    path.chmod(0o600)
    print(
        f'Wrote physical cluster manifest to {path} for namespace "{ident}". Use\n\n'
        f'  KUBECONFIG=<pcluster-config> kubectl apply -f "{path}"\n\n'
        "to apply it. Use\n\n"
        f'  KUBECONFIG=<pcluster-config> kubectl get deployment -n "{ident}" {ident}\n\n'
        "to verify the syncer pod is running."
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m edgemc.cmd syncer-gen",
        description="Create a syncer identity in the current (mailbox) workspace and write "
        "the manifest that installs the syncer in the edge cluster.",
    )
    parser.add_argument("sync_target", metavar="SYNCTARGET", help="the SyncTarget's name")
    parser.add_argument("-o", "--output", help="manifest file (default SYNCTARGET-syncer.yaml)")
    parser.add_argument(
        "--syncer-image", default=EDGEMC_IMAGE, help=f"image (default {EDGEMC_IMAGE})"
    )
    parser.add_argument("--kubeconfig", help="default $KUBECONFIG, then ~/.kube/config")
    parser.add_argument("--context", help="default: the current context")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        ident, objects = asyncio.run(generate(args))
        write_manifest(Path(args.output or f"{args.sync_target}-syncer.yaml"), ident, objects)
    except ApiError as err:
        prefix = "cannot reach the server: " if err.code == 0 else ""
        _fail(prefix + describe_error(err))
        return 1
    except GenError as err:
        _fail(str(err))
        return 1
    except Exception as err:  # a broken kubeconfig, a file not written: one line
        _fail(describe_error(err))
        return 1
    return 0


def _fail(message: str) -> None:
    one_line = " ".join(message.split())  # YAML and HTTP errors can span several lines
    print(f"error: syncer-gen: {one_line}", file=sys.stderr)
