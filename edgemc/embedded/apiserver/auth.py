"""Identities of the kcp-compatible server: admin tokens and ServiceAccount JWTs.

kcp's `admin.kubeconfig` carries two users: `kcp-admin` (group `system:kcp:admin`, admin in
every workspace) and `shard-admin` (group `system:masters`, the only identity allowed to make
wildcard `/clusters/*` requests). ServiceAccount tokens are JWTs, as kcp's legacy token
controller issues them, carrying the ServiceAccount's logical cluster in the claim
`kubernetes.io/serviceaccount/clusterName`; a token is valid while its token Secret exists
(deleting the Secret revokes it).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import jwt

from edgemc.embedded.apiserver.objects import User

ISSUER = "kubernetes/serviceaccount"
CLUSTER_CLAIM = "kubernetes.io/serviceaccount/clusterName"
# The user-info extra key carrying a ServiceAccount's logical cluster (kcp's fork names it so).
CLUSTER_EXTRA = "authentication.kubernetes.io/cluster-name"

KCP_ADMIN = User("kcp-admin", ("system:kcp:admin", "system:authenticated"))
SHARD_ADMIN = User("shard-admin", ("system:masters", "system:authenticated"))

# Looks up whether a token Secret still exists: (cluster, namespace, secret name) -> token.
SecretLookup = Callable[[str, str, str], str | None]


class ServiceAccountTokens:
    """Mints and verifies ServiceAccount JWTs (HS256 with a per-server signing key)."""

    def __init__(self, signing_key: str | None = None) -> None:
        self.signing_key = signing_key or secrets.token_hex(32)

    def mint(self, cluster: str, namespace: str, name: str, uid: str, secret_name: str = "") -> str:
        claims = {
            "iss": ISSUER,
            "sub": f"system:serviceaccount:{namespace}:{name}",
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/secret.name": secret_name,
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": uid,
            CLUSTER_CLAIM: cluster,
        }
        return jwt.encode(claims, self.signing_key, algorithm="HS256")

    def verify(self, token: str) -> dict | None:
        try:
            return jwt.decode(token, self.signing_key, algorithms=["HS256"], issuer=ISSUER)
        except jwt.PyJWTError:
            return None

    def user_for(self, claims: dict) -> User:
        namespace = claims.get("kubernetes.io/serviceaccount/namespace", "")
        return User(
            claims.get("sub", ""),
            (
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ),
            {CLUSTER_EXTRA: [claims.get(CLUSTER_CLAIM, "")]},
            claims.get("kubernetes.io/serviceaccount/service-account.uid", ""),
        )


def unverified_cluster(token: str) -> str:
    """The cluster claim of a JWT without checking its signature (kcp's request rewrite)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return ""
    nested = claims.get("kubernetes.io")
    if isinstance(nested, dict) and nested.get("clusterName"):
        return str(nested["clusterName"])
    return str(claims.get(CLUSTER_CLAIM, ""))
