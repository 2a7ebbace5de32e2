"""The syncer's heartbeat reaches a SyncerConfig at once when it appears, not a period later.

Found by the chaos test (e2e/test_chaos.py): a mailbox whose SyncerConfig the translator made
after the syncer's last beat had no heartbeat for up to a whole period, and the status
summarizer reported its destinations as stale ("no syncer heartbeat") all that time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from edgeenv import EdgeEnv, wait_for
from test_syncer_support import Rig

from edgemc.controllers import resources as r


def syncer_config(name: str) -> dict:
    return {
        "apiVersion": "edge.kcp.io/v1alpha1",
        "kind": "SyncerConfig",
        "metadata": {"name": name},
        "spec": {},
    }


async def test_a_new_syncer_config_gets_its_first_heartbeat_at_once(
    env: EdgeEnv, tmp_path: Path
) -> None:
    rig = Rig(env, tmp_path)
    await rig.start()

    def heartbeat(name: str) -> Callable[[], Awaitable[str | None]]:
        async def check() -> str | None:
            got = await rig.mailbox.get(r.SYNCER_CONFIGS, name)
            return (got.get("status") or {}).get("lastSyncerHeartbeatTime")

        return check

    try:
        await rig.mailbox.create(r.SYNCER_CONFIGS, syncer_config("first"))
        async with rig.syncer("--heartbeat-period=600"):
            await wait_for(heartbeat("first"), 15, "the syncer's first beat")
            await rig.mailbox.create(r.SYNCER_CONFIGS, syncer_config("the-one"))
            await wait_for(heartbeat("the-one"), 10, "a beat long before the 600 s period")
    finally:
        await rig.stop()
