"""A minimal component `main()` built on the runtime, run as a subprocess by the tests.

Its controller reconciles ConfigMaps in namespace `work`: for `job-<n>` it records that it
started (ConfigMap `started-<n>`), waits until ConfigMap `release` exists, then records that
it finished (`finished-<n>`). This lets a test send SIGTERM while a reconcile is in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from edgemc.runtime import Client, Controller, Key, Manager, ManagerOptions, NotFound
from edgemc.runtime import logging as klog
from edgemc.runtime.client import GroupVersionResource
from edgemc.runtime.options import CommonOptions, add_common_flags, parse_args

CM = GroupVersionResource("", "v1", "configmaps")


def marker(name: str) -> dict:
    meta = {"name": name, "namespace": "work"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


async def run(opts: CommonOptions) -> int:
    client = await Client.from_kubeconfig(opts.kubeconfig, opts.context)
    mgr = Manager(client, ManagerOptions.from_common(opts, "sample-component"))
    log = klog.get_logger("sample")

    async def reconcile(key: Key) -> None:
        if not key.name.startswith("job-"):
            return
        n = key.name.removeprefix("job-")
        await client.create(CM, marker(f"started-{n}"))
        log.info("Reconcile started", key=key)
        while True:
            try:
                await client.get(CM, "release", "work")
                break
            except NotFound:
                await asyncio.sleep(0.02)  # polling the server for the test's go-ahead
        await client.create(CM, marker(f"finished-{n}"))
        log.info("Reconcile finished", key=key)

    controller = Controller("sample", reconcile, workers=1)
    controller.watch(mgr.informers.informer(CM, "work"))
    mgr.add(controller)
    try:
        return await mgr.run_until_stopped()
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sample-component")
    add_common_flags(parser)
    opts, _ = parse_args(parser, argv)
    klog.configure(opts.verbosity)
    return asyncio.run(run(opts))


if __name__ == "__main__":
    sys.exit(main())
