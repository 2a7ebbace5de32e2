"""Abuse limits: body size (413), request rate and concurrent watches per identity (429)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest
from kcphttp import Http, create_workspace, wait_until

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.auth import CLUSTER_EXTRA
from edgemc.embedded.apiserver.kcp import KcpServer, build_kcp_server
from edgemc.embedded.apiserver.limits import LimitsConfig, RequestLimiter, identity_of
from edgemc.embedded.apiserver.objects import User
from edgemc.embedded.apiserver.server import ServerConfig

# -- the limiter alone, with a controllable clock ----------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = RequestLimiter(LimitsConfig(rate=2.0, burst=3), clock)
    for _ in range(3):
        limiter.take_token("u")
    with pytest.raises(errors.StatusError) as refused:
        limiter.take_token("u")
    assert refused.value.code == 429 and refused.value.reason == "TooManyRequests"
    assert refused.value.headers == {"Retry-After": "1"}
    assert refused.value.status()["details"] == {"retryAfterSeconds": 1}
    limiter.take_token("other")  # buckets are per identity
    clock.now += 0.5  # one token back at 2/s
    limiter.take_token("u")
    with pytest.raises(errors.StatusError):
        limiter.take_token("u")
    clock.now += 10  # never more than the burst
    for _ in range(3):
        limiter.take_token("u")
    with pytest.raises(errors.StatusError):
        limiter.take_token("u")


def test_retry_after_is_the_whole_seconds_until_a_token() -> None:
    clock = Clock()
    limiter = RequestLimiter(LimitsConfig(rate=0.1, burst=1), clock)
    limiter.take_token("u")
    with pytest.raises(errors.StatusError) as refused:
        limiter.take_token("u")
    assert refused.value.headers["Retry-After"] == "10"
    clock.now += 7.5
    with pytest.raises(errors.StatusError) as refused:
        limiter.take_token("u")
    assert refused.value.headers["Retry-After"] == "3"


def test_rate_zero_turns_the_limit_off() -> None:
    limiter = RequestLimiter(LimitsConfig(rate=0, burst=1), Clock())
    for _ in range(1000):
        limiter.take_token("u")


def test_watch_slots_are_counted_and_released() -> None:
    limiter = RequestLimiter(LimitsConfig(max_watches=2))
    with limiter.watch_slot("u"), limiter.watch_slot("u"):
        assert limiter.open_watches("u") == 2
        with pytest.raises(errors.StatusError) as refused, limiter.watch_slot("u"):
            pass
        assert refused.value.code == 429 and refused.value.headers["Retry-After"] == "1"
        with limiter.watch_slot("v"):
            pass
    assert limiter.open_watches("u") == 0
    with pytest.raises(RuntimeError), limiter.watch_slot("u"):
        raise RuntimeError("stream broke")
    assert limiter.open_watches("u") == 0


def test_body_limit() -> None:
    limiter = RequestLimiter(LimitsConfig(max_body_bytes=10))
    limiter.check_body(None)
    limiter.check_body(10)
    with pytest.raises(errors.StatusError) as refused:
        limiter.check_body(11)
    assert refused.value.code == 413 and refused.value.reason == "RequestEntityTooLarge"


def test_service_accounts_of_different_workspaces_are_different_identities() -> None:
    name = "system:serviceaccount:default:default"
    a = User(name, (), {CLUSTER_EXTRA: ["a"]})
    b = User(name, (), {CLUSTER_EXTRA: ["b"]})
    assert identity_of(a) != identity_of(b)
    assert identity_of(User("alice")) == "alice"


# -- over HTTP ---------------------------------------------------------------------------

LIMITS = LimitsConfig(max_body_bytes=64 * 1024, max_watches=2, rate=1.0, burst=20)


@pytest.fixture
async def kcp() -> AsyncIterator[KcpServer]:
    server = build_kcp_server(ServerConfig(port=0, limits=LIMITS))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def default_token(admin: Http, ws: str) -> str:
    """The token of ServiceAccount default/default, bound to cluster-admin (if RBAC is on)."""
    base = f"/clusters/{ws}/api/v1/namespaces/default"
    await admin.ok(
        "POST",
        f"/clusters/{ws}/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "default-admin"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "namespace": "default", "name": "default"}],
        },
    )

    async def token() -> str | None:
        sa = await admin.ok("GET", f"{base}/serviceaccounts/default")
        if not sa.get("secrets"):
            return None
        secret = await admin.ok("GET", f"{base}/secrets/{sa['secrets'][0]['name']}")
        data = secret.get("data", {}).get("token")
        return base64.b64decode(data).decode() if data else None

    return await wait_until(token)


CM = "/api/v1/namespaces/default/configmaps"


async def test_oversized_body_gets_413(admin: Http) -> None:
    big = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big"},
        "data": {"x": "y" * (LIMITS.max_body_bytes + 1)},
    }
    status, body = await admin.post(f"/clusters/root{CM}", big)
    assert status == 413
    assert body["kind"] == "Status" and body["reason"] == "RequestEntityTooLarge"
    status, _ = await admin.get(f"/clusters/root{CM}/big")
    assert status == 404


async def test_request_rate_per_identity_gets_429_with_retry_after(
    admin: Http, kcp: KcpServer
) -> None:
    await create_workspace(admin, "root", "x")
    sa = admin.as_token(await default_token(admin, "root:x"))
    answers = [(await sa.get(CM))[0] for _ in range(LIMITS.burst + 5)]
    assert answers[0] == 200 and 429 in answers
    headers = {"Authorization": f"Bearer {sa.token}"}
    async with sa.session.get(sa.base + CM, headers=headers) as r:
        assert r.status == 429
        assert int(r.headers["Retry-After"]) >= 1
        body = await r.json()
        assert body["reason"] == "TooManyRequests" and body["details"]["retryAfterSeconds"] >= 1
    # Admins (the controllers' identities) are exempt.
    for _ in range(LIMITS.burst + 5):
        await admin.ok("GET", f"/clusters/root{CM}")


async def test_concurrent_watches_per_identity_get_429(admin: Http, kcp: KcpServer) -> None:
    await create_workspace(admin, "root", "x")
    token = await default_token(admin, "root:x")
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{admin.base}{CM}?watch=true&timeoutSeconds=30"
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=kcp.client_ssl())
    ) as session:
        first = await session.get(url, headers=headers)
        second = await session.get(url, headers=headers)
        assert first.status == 200 and second.status == 200
        async with session.get(url, headers=headers) as third:
            assert third.status == 429 and third.headers["Retry-After"] == "1"
        # Closing a stream frees its slot.
        first.close()
        second.close()

        async def slot_free() -> bool:
            return kcp.limiter.open_watches(identity_of_token(kcp, token)) == 0

        await wait_until(slot_free)
        async with session.get(url, headers=headers) as again:
            assert again.status == 200


def identity_of_token(kcp: KcpServer, token: str) -> str:
    claims = kcp.sa_tokens.verify(token)
    assert claims is not None
    return identity_of(kcp.sa_tokens.user_for(claims))


async def test_admins_are_not_limited(admin: Http) -> None:
    results = await asyncio.gather(*(admin.get(f"/clusters/root{CM}") for _ in range(50)))
    assert {status for status, _ in results} == {200}
