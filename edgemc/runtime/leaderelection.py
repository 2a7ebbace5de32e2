"""Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics.

A candidate may take the lease when it does not exist, when its holder is empty (released)
or when the lease has not been renewed for `lease_duration` *as observed locally*: expiry is
judged by when this process last saw the record change, never by comparing the holder's
timestamps with our clock, so clock skew between machines cannot cause two leaders. Writes
use the lease's resourceVersion (optimistic concurrency): of two candidates updating the
same version, one gets 409 Conflict and stays a follower.
"""

from __future__ import annotations

import asyncio
import datetime
import random
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

from edgemc.runtime.client import Client, GroupVersionResource
from edgemc.runtime.errors import AlreadyExists, ApiError, Conflict, NotFound
from edgemc.runtime.logging import get_logger

log = get_logger("edgemc.runtime.leaderelection")

LEASES = GroupVersionResource("coordination.k8s.io", "v1", "leases")


def default_identity() -> str:
    """`<hostname>_<random>`: unique per process, readable in `kubectl get lease`."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def micro_time(t: datetime.datetime | None = None) -> str:
    """A Kubernetes MicroTime: RFC 3339 UTC with microseconds."""
    t = t or datetime.datetime.now(datetime.UTC)
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeadershipLost(Exception):
    """The lease could not be renewed within the renew deadline."""


@dataclass(frozen=True)
class LeaderElectionConfig:
    """Where the lease lives and the timing of the protocol (client-go's defaults)."""

    name: str
    namespace: str = "default"
    identity: str = field(default_factory=default_identity)
    # How long followers wait after the last observed renewal before taking over.
    lease_duration: float = 15.0
    # How long the leader keeps retrying a failing renewal before it gives up leadership.
    # Must be shorter than lease_duration, so it stops before anyone else may start.
    renew_deadline: float = 10.0
    # Pause between attempts to acquire or renew (jittered by up to 20% when acquiring).
    retry_period: float = 2.0


class LeaderElector:
    """Acquires, renews and releases one Lease for one identity."""

    def __init__(self, client: Client, config: LeaderElectionConfig) -> None:
        if config.renew_deadline >= config.lease_duration:
            raise ValueError("renew_deadline must be shorter than lease_duration")
        self.client = client
        self.config = config
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self.is_leader = False
        self._log = log.with_values(lease=f"{config.namespace}/{config.name}")

    async def acquire(self) -> None:
        """Return once this identity holds the lease."""
        self._log.info("Attempting to acquire leader lease", identity=self.config.identity)
        while True:
            if await self._try_acquire_or_renew():
                break
            await asyncio.sleep(self.config.retry_period * random.uniform(1.0, 1.2))
        self.is_leader = True
        self._log.info("Successfully acquired lease", identity=self.config.identity)

    async def keep_renewing(self) -> None:
        """Renew every retry period; raise LeadershipLost if renewals fail for too long."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.retry_period)
            deadline = loop.time() + self.config.renew_deadline
            while not await self._try_acquire_or_renew():
                if loop.time() + self.config.retry_period >= deadline:
                    self.is_leader = False
                    self._log.error("Failed to renew lease", identity=self.config.identity)
                    raise LeadershipLost(self.config.name)
                await asyncio.sleep(self.config.retry_period)

    async def release(self) -> None:
        """Give the lease up at once (holder emptied) so a successor need not wait."""
        if not self.is_leader:
            return
        self.is_leader = False
        try:
            lease = await self.client.get(LEASES, self.config.name, self.config.namespace)
            spec = lease.setdefault("spec", {})
            if spec.get("holderIdentity") != self.config.identity:
                return
            now = micro_time()
            spec.update(holderIdentity="", leaseDurationSeconds=1, acquireTime=now, renewTime=now)
            await self.client.update(LEASES, lease, self.config.namespace)
            self._log.info("Released lease", identity=self.config.identity)
        except ApiError as err:
            self._log.error("Failed to release lease", err)

    async def _try_acquire_or_renew(self) -> bool:
        cfg = self.config
        now_mono = asyncio.get_running_loop().time()
        now = micro_time()
        duration = max(1, round(cfg.lease_duration))
        try:
            lease = await self.client.get(LEASES, cfg.name, cfg.namespace)
        except NotFound:
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                "spec": {
                    "holderIdentity": cfg.identity,
                    "leaseDurationSeconds": duration,
                    "acquireTime": now,
                    "renewTime": now,
                    "leaseTransitions": 0,
                },
            }
            try:
                created = await self.client.create(LEASES, lease, cfg.namespace)
            except (AlreadyExists, Conflict):
                return False
            except ApiError as err:
                self._log.error("Failed to create lease", err)
                return False
            self._observe(created, now_mono)
            return True
        except ApiError as err:
            self._log.error("Failed to get lease", err)
            return False

        spec = lease.get("spec") or {}
        self._observe(lease, now_mono, only_if_changed=True)
        holder = spec.get("holderIdentity") or ""
        held_for = float(spec.get("leaseDurationSeconds") or cfg.lease_duration)
        if holder and holder != cfg.identity and self._observed_at + held_for > now_mono:
            return False  # someone else holds an unexpired lease
        new_spec = dict(spec)
        new_spec.update(holderIdentity=cfg.identity, leaseDurationSeconds=duration, renewTime=now)
        if holder != cfg.identity:
            new_spec["acquireTime"] = now
            new_spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        lease["spec"] = new_spec
        try:
            updated = await self.client.update(LEASES, lease, cfg.namespace)
        except Conflict:
            return False
        except ApiError as err:
            self._log.error("Failed to update lease", err)
            return False
        self._observe(updated, now_mono)
        return True

    def _observe(self, lease: dict[str, Any], now: float, only_if_changed: bool = False) -> None:
        spec = lease.get("spec") or {}
        record = (
            spec.get("holderIdentity"),
            spec.get("renewTime"),
            spec.get("acquireTime"),
            spec.get("leaseTransitions"),
        )
        if only_if_changed and record == self._observed:
            return
        self._observed = record
        self._observed_at = now
