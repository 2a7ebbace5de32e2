"""Heartbeat: the syncer writes `status.lastSyncerHeartbeatTime` on every SyncerConfig.

The original declared the field but never wrote it (spec 2.6). Every `period` seconds each
SyncerConfig of the mailbox gets a JSON merge patch of just that field: through the status
subresource when the mailbox serves one for SyncerConfigs, else on the object itself (the
generated CRD has no status subresource; a merge patch leaves the spec, which the placement
translator owns, untouched). A SyncerConfig that appears gets its first beat at once; a
failed beat is logged and tried again after `FAILED_BEAT_RETRY` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from edgemc.apis.edge import GROUP, VERSION
from edgemc.apis.meta import format_timestamp
from edgemc.controllers import resources as r
from edgemc.controllers.syncer.engine import Engine
from edgemc.runtime import ApiError, NotFound, get_logger

log = get_logger("edgemc.controllers.syncer.heartbeat")

# Seconds before a beat that failed on some SyncerConfig is tried again (instead of a period).
FAILED_BEAT_RETRY = 1.0


async def beat(engine: Engine, now: Callable[[], str] = format_timestamp) -> int:
    """Write one heartbeat on every SyncerConfig; returns how many were written."""
    res = engine.mailbox_discovery.get(GROUP, VERSION, r.SYNCER_CONFIGS.resource)
    sub = "status" if res is not None and res.has_status else ""
    patch = {"status": {"lastSyncerHeartbeatTime": now()}}
    written = 0
    for config in engine.configs.store.list():
        name = config["metadata"]["name"]
        try:
            await engine.mailbox.client.patch(r.SYNCER_CONFIGS, name, patch, subresource=sub)
            written += 1
        except NotFound:
            continue  # deleted meanwhile
        except ApiError as err:
            log.v(2).info("Heartbeat failed", syncerConfig=name, err=err)
    return written


async def run_heartbeat(engine: Engine, period: float) -> None:
    """Beat every `period` seconds until cancelled; at once when a SyncerConfig appears, and
    after a failed beat again within `FAILED_BEAT_RETRY` seconds. Until a SyncerConfig has
    its first heartbeat, or while its last one is missed, the status summarizer reports this
    mailbox's destinations as stale."""
    await engine.wait_for_running()
    appeared = asyncio.Event()
    handler = engine.configs.add_handler(on_add=lambda _config: appeared.set())
    appeared.clear()  # the ones already there get the first beat below
    try:
        while True:
            complete = await beat(engine) == len(engine.configs.store)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(period if complete else min(period, FAILED_BEAT_RETRY)):
                    await appeared.wait()
            appeared.clear()
    finally:
        engine.configs.remove_handler(handler)
