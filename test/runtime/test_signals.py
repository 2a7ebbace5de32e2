"""A component process stops cleanly on SIGTERM: in-flight work finishes, nothing new, exit 0."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from edgemc.embedded.apiserver.server import ApiServer
from edgemc.runtime import Client, NotFound
from edgemc.runtime.client import GroupVersionResource

CM = GroupVersionResource("", "v1", "configmaps")
NS = GroupVersionResource("", "v1", "namespaces")
ROOT = Path(__file__).resolve().parents[2]


def cm(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "work"},
    }


async def exists(client: Client, name: str) -> bool:
    try:
        await client.get(CM, name, "work")
        return True
    except NotFound:
        return False


async def wait_exists(client: Client, name: str, proc: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(30):
        while True:
            if await exists(client, name):
                return
            if proc.returncode is not None:
                raise AssertionError(f"component exited early: {proc.returncode}")
            await asyncio.sleep(0.02)


async def test_sigterm_finishes_in_flight_and_exits_0(apiserver: ApiServer, tmp_path: Path) -> None:
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    client = await Client.from_kubeconfig(str(kubeconfig))
    await client.create(NS, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "work"}})
    await client.create(CM, cm("job-1"))
    await client.create(CM, cm("job-2"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("sample_component.py")),
        f"--kubeconfig={kubeconfig}",
        "-v=2",
        "--metrics-addr=127.0.0.1:0",
        cwd=ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_exists(client, "started-1", proc)  # job-1 is in flight, job-2 queued
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0)
        await client.create(CM, cm("release"))
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
        print((await proc.communicate())[1].decode())
        raise
    log = stderr.decode()
    assert proc.returncode == 0, log
    assert await exists(client, "finished-1")  # the in-flight reconcile completed
    assert not await exists(client, "started-2")  # no new work after the signal
    assert '"Received signal, stopping"' in log and 'signal="SIGTERM"' in log
    assert '"Manager stopped"' in log
    await client.close()
