"""The seed's httpd workloads served on the kind config's host ports (simulated)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import aiohttp
import pytest
from kubectl_runner import Kubectl
from polling import wait_for
from simhelpers import table

from edgemc.embedded.edgecluster import EdgeCluster
from edgemc.embedded.nodesim import FLORIN_CONFIG, GUILDER_CONFIG, KindConfig, PortMapping
from edgemc.embedded.nodesim.hostports import document_path

# The seed's common workload (namespace commonstuff), as `kubectl apply`-ed into guilder.
COMMON = """\
apiVersion: v1
kind: Namespace
metadata:
  name: commonstuff
---
apiVersion: v1
kind: ConfigMap
metadata:
  namespace: commonstuff
  name: httpd-htdocs
data:
  index.html: |
    <!DOCTYPE html>
    <html>
      <body>
        This is a common web site.
      </body>
    </html>
---
apiVersion: apps/v1
kind: Deployment
metadata:
  namespace: commonstuff
  name: commond
spec:
  selector: {matchLabels: {app: common} }
  template:
    metadata:
      labels: {app: common}
    spec:
      containers:
      - name: httpd
        image: library/httpd:2.4
        ports:
        - name: http
          containerPort: 80
          hostPort: 8081
          protocol: TCP
        volumeMounts:
        - name: htdocs
          readOnly: true
          mountPath: /usr/local/apache2/htdocs
      volumes:
      - name: htdocs
        configMap:
          name: httpd-htdocs
          optional: false
"""

COMMON_PAGE = """<!DOCTYPE html>
<html>
  <body>
    This is a common web site.
  </body>
</html>
"""


async def fetch(port: int, path: str = "/") -> tuple[int, str] | None:
    """(status, body) of GET http://localhost:port/path; None if the connection fails."""
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}{path}") as resp,
        ):
            return resp.status, await resp.text()
    except aiohttp.ClientError:
        return None


def test_document_path() -> None:
    assert document_path("/") == "index.html"
    assert document_path("/a/") == "a/index.html"
    assert document_path("/a/b.css") == "a/b.css"
    assert document_path("/../../etc/passwd") == "etc/passwd"


async def test_seed_common_workload_served_on_guilder_8083(
    make_cluster: Callable[..., EdgeCluster], kubectl: Callable[[EdgeCluster], Kubectl]
) -> None:
    guilder = make_cluster("guilder", kind_config=GUILDER_CONFIG, host_ports={8083: 0, 8082: 0})
    await guilder.start()
    port = guilder.host_port(8083)  # where `curl http://localhost:8083` goes in this test
    assert port and guilder.host_port(8082) and port != guilder.host_port(8082)
    k = kubectl(guilder)
    # Before the workload, nothing answers behind the published port.
    assert await fetch(port) is None
    await k.arun("apply", "-f", "-", input=COMMON)

    async def page() -> tuple[int, str] | None:
        got = await fetch(port)
        return got if got and got[0] == 200 else None

    assert await wait_for(page, what="the common page on 8083") == (200, COMMON_PAGE)
    rows = table((await k.arun("get", "deploy", "-n", "commonstuff")).stdout)
    assert rows[1][:2] == ["commond", "1/1"]
    assert guilder.node is not None
    assert (guilder.node.ports.serving(8081) or "").startswith("commonstuff/commond-")
    assert await fetch(port, "/index.html") == (200, COMMON_PAGE)
    missing = await fetch(port, "/nope.html")
    assert missing is not None and missing[0] == 404
    # Port 8082 maps containerPort 8082, which this pod does not use.
    assert await fetch(guilder.host_port(8082) or 0) is None

    # ConfigMap updates show at once.
    await k.arun(
        "patch", "configmap", "httpd-htdocs", "-n", "commonstuff", "-p",
        '{"data":{"index.html":"changed\\n","extra.txt":"more\\n"}}',
    )  # fmt: skip

    async def changed() -> bool:
        return await fetch(port) == (200, "changed\n") and await fetch(port, "/extra.txt") == (
            200,
            "more\n",
        )

    await wait_for(changed, what="the updated ConfigMap served")

    # A restarted cluster serves again, on the same (test-chosen) port.
    await guilder.stop()
    assert await fetch(port) is None
    await guilder.start()
    assert guilder.host_port(8083) == port
    await wait_for(changed, what="the page served after a restart")

    # Deleting the workload leaves nothing behind the port.
    await k.arun("delete", "deploy", "commond", "-n", "commonstuff")

    async def closed() -> bool:
        return await fetch(port) is None

    await wait_for(closed, what="nothing served after the Deployment is gone")


async def test_unmapped_host_port_and_port_conflict(
    make_cluster: Callable[..., EdgeCluster], caplog: pytest.LogCaptureFixture
) -> None:
    # A port already taken on this machine: the cluster starts anyway, with a clear log line.
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = taken.getsockname()[1]
    try:
        config = KindConfig(port_mappings=(PortMapping(8081, busy, "127.0.0.1"),))
        cluster = make_cluster("florin", kind_config=config)
        await cluster.start()
        assert cluster.host_port(busy) is None
        assert any(
            f"cannot publish containerPort 8081 on 127.0.0.1:{busy}" in r.getMessage()
            for r in caplog.records
        )
    finally:
        taken.close()


async def test_pod_waits_for_its_configmap(
    make_cluster: Callable[..., EdgeCluster], kubectl: Callable[[EdgeCluster], Kubectl]
) -> None:
    florin = make_cluster("florin", kind_config=FLORIN_CONFIG, host_ports={8081: 0})
    await florin.start()
    port = florin.host_port(8081)
    assert port
    k = kubectl(florin)
    docs = COMMON.split("---\n")
    without_configmap = "---\n".join(d for d in docs if "kind: ConfigMap" not in d)
    await k.arun("apply", "-f", "-", input=without_configmap)

    async def waiting() -> str | None:
        rows = table((await k.arun("get", "pods", "-n", "commonstuff")).stdout)
        return rows[1][2] if len(rows) == 2 else None

    assert await wait_for(waiting, what="the pod listed") == "ContainerCreating"
    assert await fetch(port) is None
    await k.arun("apply", "-f", "-", input=COMMON)

    async def page() -> tuple[int, str] | None:
        got = await fetch(port)
        return got if got and got[0] == 200 else None

    assert await wait_for(page, what="the page once the ConfigMap exists") == (200, COMMON_PAGE)
