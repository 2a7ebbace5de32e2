"""The few kcp API calls `kubectl ws` makes, addressed by workspace path.

Every call goes to `<base>/clusters/<path>/...` where `<base>` is the kubeconfig server
URL before `/clusters/`. Requests go through the project's one REST client,
`edgemc.runtime.client.Client`; failures raise its typed errors (`NotFound`, `Forbidden`,
`AlreadyExists`, ...), so commands never test status codes.

Credentials come from kubernetes_asyncio's kubeconfig loader (tokens, token files, client
certificates, basic auth, exec and auth-provider plugins), fed with the effective context
that `edgemc.cli.kubeconfig.client_settings` resolved from the merged files and flags.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

from kubernetes_asyncio.client import Configuration
from kubernetes_asyncio.config.config_exception import ConfigException
from kubernetes_asyncio.config.kube_config import KubeConfigLoader

from edgemc.cli.kubeconfig import ClientSettings, KubeconfigError
from edgemc.runtime.backoff import Backoff
from edgemc.runtime.client import Client, ClusterConfig, GroupVersionResource, RetryPolicy
from edgemc.runtime.errors import Forbidden, NotFound

WORKSPACES = GroupVersionResource("tenancy.kcp.io", "v1alpha1", "workspaces")
APIBINDINGS = GroupVersionResource("apis.kcp.io", "v1alpha1", "apibindings")

# A shell command should fail fast on a dead server: two quick retries of idempotent GETs
# (about 0.3 s) instead of the controllers' six-second policy, and 30 s per request where
# kcp's own plugin has no limit at all.
CLI_RETRY = RetryPolicy(max_retries=2, backoff=Backoff(initial=0.1, factor=2.0, cap=1.0))
REQUEST_TIMEOUT_SECONDS = 30.0


async def cluster_config(settings: ClientSettings) -> ClusterConfig:
    """Connection settings for the runtime client from a resolved kubeconfig context.

    Credentials that cannot be loaded (a certificate file that is missing or not PEM, a
    failing exec plugin) raise `KubeconfigError` naming the context.
    """
    configuration = Configuration()
    try:
        loader = KubeConfigLoader(config_dict=settings.loader_config, active_context="context")
        await loader.load_and_set(configuration)
        context = _ssl_context(settings, configuration)
    except (ConfigException, OSError, ValueError, TypeError, KeyError) as err:
        problem = " ".join(str(err).split()) or type(err).__name__
        raise KubeconfigError(
            f'cannot load the credentials of context "{settings.context_name}": {problem}'
        ) from err
    headers: dict[str, str] = {}
    authorization = configuration.api_key.get("BearerToken")
    if authorization:
        headers["Authorization"] = (
            authorization if " " in authorization else f"Bearer {authorization}"
        )
    return ClusterConfig(
        server=settings.server,
        ssl=context,
        headers=headers,
        server_hostname=getattr(configuration, "tls_server_name", None) or None,
    )


def _ssl_context(settings: ClientSettings, configuration: Configuration) -> ssl.SSLContext | None:
    """The TLS settings of an https server: CA, client certificate, skip-verify."""
    if not settings.server.startswith("https"):
        return None
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class KcpClient:
    """Workspace, discovery and APIBinding calls against the logical cluster at a path."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @classmethod
    async def connect(cls, settings: ClientSettings, base: str) -> KcpClient:
        """A client for `<base>/clusters/...` with the effective context's credentials."""
        config = await cluster_config(settings)
        return cls(Client(config, base_url=base, retry=CLI_RETRY, timeout=REQUEST_TIMEOUT_SECONDS))

    def with_base(self, base: str) -> KcpClient:
        """The same credentials and connection pool for another base URL."""
        return KcpClient(self._client.with_base_url(base))

    @property
    def base(self) -> str:
        return self._client.base_url

    def _at(self, path: str) -> Client:
        return self._client.cluster(path)

    async def get_workspace(self, path: str, name: str) -> dict[str, Any]:
        """The Workspace `name` that lives in the workspace at `path`."""
        return await self._at(path).get(WORKSPACES, name)

    async def list_workspaces(self, path: str) -> list[dict[str, Any]]:
        """The Workspaces in the workspace at `path`, in the server's (name) order."""
        listing = await self._at(path).list(WORKSPACES)
        return list((listing or {}).get("items") or [])

    async def create_workspace(self, path: str, workspace: dict[str, Any]) -> dict[str, Any]:
        """POST a Workspace into the workspace at `path`; returns the stored object."""
        return await self._at(path).create(WORKSPACES, workspace)

    async def server_group_count(self, path: str) -> int:
        """Number of API groups discovery shows at `path` (legacy `/api` counts as one).

        Like client-go's ServerGroups: 403 and 404 from `/api` or `/apis` count as "none";
        other failures raise.
        """
        client = self._at(path)
        count = 0
        with contextlib.suppress(NotFound, Forbidden):
            versions = await client.get_path("/api") or {}
            count += 1 if versions.get("versions") else 0
        with contextlib.suppress(NotFound, Forbidden):
            groups = await client.get_path("/apis") or {}
            count += len(groups.get("groups") or [])
        return count

    async def list_apibindings(self, path: str) -> list[dict[str, Any]]:
        """The APIBindings in the workspace at `path` (empty when forbidden to list them)."""
        try:
            listing = await self._at(path).list(APIBINDINGS)
        except Forbidden:
            return []
        return list((listing or {}).get("items") or [])

    async def close(self) -> None:
        await self._client.close()
