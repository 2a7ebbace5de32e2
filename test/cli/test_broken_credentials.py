"""Broken kubeconfigs, unreachable servers, wrong CAs and bad tokens, seen from outside (#11).

Every component runs as a real subprocess, `python -m edgemc.cmd NAME ...`, as a user runs it:

* a kubeconfig that cannot be used (missing, not YAML, no current-context, unknown context,
  a context naming a missing user or cluster, a certificate file that does not exist) ends
  the process with exactly one stderr line, `error: NAME: ...`, naming the file (and the
  context) and the problem, and exit code 1; a flag argparse rejects exits with code 2;
* a long-running component whose server is unreachable, presents a certificate from another
  CA, or rejects the token (401: garbage, expired, revoked) stays up: it serves /healthz
  (/readyz says 503), and logs one klog error line per attempt, with growing delays. It
  goes on by itself once the server is there (shown by starting the server later on the
  port). A rejected token stays rejected: the kubeconfig is read once, so a new token
  needs a restart, as with client-go without an exec plugin;
* 403, a token without permissions, is the components' own business: the central
  controllers warn that they cannot read their APIExport and keep polling; the syncer's
  informers log each refused list as an error (as client-go's reflector does) and retry;
* `syncer-gen` runs once: every case is one stderr line and exit code 1;
* the `kubectl ws` plugin answers a broken kubeconfig (its files or the credentials they
  name) with one `Error: ...` line.

No traceback anywhere. Cases run as parallel subprocesses to keep the file short.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import yaml
from polling import wait_for

from edgemc.controllers import resources as r
from edgemc.embedded.apiserver.kcp import KcpServer, build_kcp_server
from edgemc.embedded.apiserver.server import ServerConfig
from edgemc.embedded.apiserver.tls import certificates
from edgemc.embedded.bootstrap import ensure_espw, ensure_workspace, workspace_kubeconfig
from edgemc.runtime import Client, ClusterConfig
from edgemc.runtime.kubeconfig import KubeconfigError, check_kubeconfig

PROJECT = Path(__file__).resolve().parents[2]
ESPW = "root:espw"
MAILBOX = "root:espw:c1-mb-0a1b2c3d"
CENTRAL = ("mailbox-controller", "scheduler", "placement-translator", "status-summarizer")
LONG_RUNNING = (*CENTRAL, "syncer")
EVERY = (*LONG_RUNNING, "syncer-gen")
# Generous bounds: two cores run a dozen Python processes at once here.
EXIT_WITHIN = 30.0
LINES_WITHIN = 40.0
RETRY_LINE = re.compile(r"attempt=(\d+) retryInSeconds=([\d.]+)")
SERVING = re.compile(r'"Serving" .*address="([^"]+)" health=true')


# -- running components ---------------------------------------------------------------


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_SERVICE")}
    env["KUBECONFIG"] = "/nonexistent/kubeconfig"  # nothing may fall back to the user's
    return env


@dataclass
class Component:
    """One component subprocess and the lines it has written to stderr so far."""

    name: str
    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, name: str, argv: list[str]) -> Component:
        """`python -m edgemc.cmd NAME ARGV...`, its stderr read line by line."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "edgemc.cmd",
            name,
            *argv,
            cwd=PROJECT,
            env=_environment(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        component = cls(name, proc)
        component._reader = asyncio.create_task(component._read())
        return component

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            async with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()

    async def wait_for_lines(
        self, matches: Callable[[str], bool], count: int = 1, within: float = LINES_WITHIN
    ) -> list[str]:
        """The first `count` lines that `matches`, once written (fails after `within` s)."""

        def found() -> list[str] | None:
            hits = [line for line in self.lines if matches(line)]
            return hits[:count] if len(hits) >= count else None

        try:
            async with asyncio.timeout(within), self._changed:
                return await self._changed.wait_for(found)  # type: ignore[return-value]
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: no {count} matching line(s) in {within}s; stderr:\n"
                + "\n".join(self.lines)
            ) from None

    def health_url(self) -> str:
        """Where /healthz and /readyz are served (from the manager's "Serving" line)."""
        addresses = [m.group(1) for line in self.lines if (m := SERVING.search(line))]
        assert addresses, "\n".join(self.lines)
        return f"http://{addresses[0]}"

    async def wait_for_exit(self) -> int:
        """The exit code, once the process has ended and all its stderr is read."""
        assert self._reader is not None
        async with asyncio.timeout(EXIT_WITHIN):
            code = await self.proc.wait()
            await self._reader
        return code

    async def stop(self) -> None:
        """SIGTERM (SIGKILL if that does not do) unless it has exited; wait for the end."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(EXIT_WITHIN):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await self._reader

    def assert_no_traceback(self) -> None:
        assert not [line for line in self.lines if "Traceback" in line], "\n".join(self.lines)


@contextlib.asynccontextmanager
async def started(runs: list[tuple[str, list[str]]]) -> AsyncIterator[list[Component]]:
    """Start every (name, argv) at once; stop them all when the block ends."""
    components = list(await asyncio.gather(*(Component.start(n, argv) for n, argv in runs)))
    try:
        yield components
    finally:
        await asyncio.gather(*(c.stop() for c in components))


async def run_once(name: str, argv: list[str]) -> tuple[int, list[str]]:
    """Run a component that should exit; (exit code, stderr lines)."""
    component = await Component.start(name, argv)
    try:
        code = await component.wait_for_exit()
    finally:
        await component.stop()
    return code, component.lines


def argv_for(
    name: str, kubeconfig: Path, context: str | None, *, edge: Path, out: Path
) -> list[str]:
    """Flags giving `name` the kubeconfig under test (for the syncer: its mailbox's)."""
    if name == "syncer":
        flags = [f"--from-kubeconfig={kubeconfig}", f"--to-kubeconfig={edge}"]
        return flags + ([f"--from-context={context}"] if context else [])
    flags = [f"--kubeconfig={kubeconfig}"] + ([f"--context={context}"] if context else [])
    return ["c1", f"--output={out}", *flags] if name == "syncer-gen" else flags


async def get_status(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status


# -- kubeconfigs ------------------------------------------------------------------------


def write(path: Path, config: dict[str, Any] | str) -> Path:
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False))
    return path


def with_token(config: dict[str, Any], token: str) -> dict[str, Any]:
    changed = copy.deepcopy(config)
    for user in changed["users"]:
        user["user"] = {"token": token}
    return changed


def with_ca(config: dict[str, Any], ca_pem: bytes) -> dict[str, Any]:
    changed = copy.deepcopy(config)
    for cluster in changed["clusters"]:
        cluster["cluster"]["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return changed


def offline_kubeconfig(tmp_path: Path) -> dict[str, Any]:
    """A well-formed kubeconfig for a server that is not there, with broken contexts."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": "https://127.0.0.1:9/clusters/root"}},
            {
                "name": "bad-ca",
                "cluster": {
                    "server": "https://127.0.0.1:9/clusters/root",
                    "certificate-authority": "absent-ca.crt",  # relative to the file
                },
            },
        ],
        "users": [
            {"name": "u", "user": {"token": "t"}},
            {
                "name": "certs",
                "user": {
                    "client-certificate": str(tmp_path / "absent.crt"),
                    "client-key": str(tmp_path / "absent.key"),
                },
            },
        ],
        "contexts": [
            {"name": "ok", "context": {"cluster": "c", "user": "u"}},
            {"name": "no-user", "context": {"cluster": "c", "user": "ghost"}},
            {"name": "no-cluster", "context": {"cluster": "ghost", "user": "u"}},
            {"name": "certs", "context": {"cluster": "c", "user": "certs"}},
            {"name": "bad-ca", "context": {"cluster": "bad-ca", "user": "u"}},
        ],
        "current-context": "ok",
    }


@dataclass(frozen=True)
class ConfigCase:
    id: str
    # Writes the kubeconfig under test (or not) in the directory; returns its path.
    make: Callable[[Path], Path]
    context: str | None
    # What the one error line says (after naming the file).
    phrase: str


def _no_current(tmp_path: Path) -> Path:
    config = offline_kubeconfig(tmp_path)
    del config["current-context"]
    return write(tmp_path / "config", config)


CONFIG_CASES = (
    ConfigCase("missing-file", lambda d: d / "absent-kubeconfig", None, "does not exist"),
    ConfigCase(
        "not-yaml",
        lambda d: write(d / "config", "apiVersion: v1\nclusters: [\n  - name: : x\n"),
        None,
        "is not valid YAML",
    ),
    ConfigCase("no-current-context", _no_current, None, "sets no current-context"),
    ConfigCase(
        "unknown-context",
        lambda d: write(d / "config", offline_kubeconfig(d)),
        "nope",
        'context "nope" not found',
    ),
    ConfigCase(
        "missing-user",
        lambda d: write(d / "config", offline_kubeconfig(d)),
        "no-user",
        'user "ghost" of context "no-user" not found',
    ),
    ConfigCase(
        "missing-cluster",
        lambda d: write(d / "config", offline_kubeconfig(d)),
        "no-cluster",
        'cluster "ghost" of context "no-cluster" not found',
    ),
    ConfigCase(
        "missing-client-certificate",
        lambda d: write(d / "config", offline_kubeconfig(d)),
        "certs",
        'client-certificate "{dir}/absent.crt" of user "certs"',
    ),
    ConfigCase(
        "missing-ca-file",
        lambda d: write(d / "config", offline_kubeconfig(d)),
        "bad-ca",
        'certificate-authority "absent-ca.crt" of cluster "bad-ca"',
    ),
)


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda c: c.id)
async def test_broken_kubeconfig_is_one_line_and_exit_1(case: ConfigCase, tmp_path: Path) -> None:
    kubeconfig = case.make(tmp_path)
    edge = write(tmp_path / "edge", offline_kubeconfig(tmp_path))
    out = tmp_path / "manifest.yaml"
    # Every component gets the missing file. The other cases exercise the checks all
    # components share, so three stand for the rest (a Python process costs 0.5 s of CPU):
    # the scheduler for the central controllers, the syncer for a kubeconfig flag of its
    # own (--from-kubeconfig), syncer-gen for the one-shot command.
    names = EVERY if case.id == "missing-file" else ("scheduler", "syncer", "syncer-gen")
    results = await asyncio.gather(
        *(
            run_once(name, argv_for(name, kubeconfig, case.context, edge=edge, out=out))
            for name in names
        )
    )
    phrase = case.phrase.format(dir=tmp_path)
    for name, (code, lines) in zip(names, results, strict=True):
        assert code == 1, (name, lines)
        assert len(lines) == 1, (name, lines)
        assert lines[0].startswith(f"error: {name}: "), lines
        assert phrase in lines[0] and f'"{kubeconfig}"' in lines[0], lines
    assert not out.exists()


def test_kubeconfig_checks_follow_the_loading_rules(tmp_path: Path) -> None:
    """What the subprocesses do not show: lists of files, relative paths, empty files."""
    good = write(tmp_path / "good", offline_kubeconfig(tmp_path))
    absent = tmp_path / "absent"
    assert check_kubeconfig(f"{absent}:{good}") == "ok"  # missing files in a list are skipped
    with pytest.raises(KubeconfigError, match="none of the kubeconfig files"):
        check_kubeconfig(f"{absent}:{tmp_path / 'absent2'}")
    with pytest.raises(KubeconfigError, match="is empty"):
        check_kubeconfig(str(write(tmp_path / "empty", "")))
    with pytest.raises(KubeconfigError, match="users must be a list of entries"):
        check_kubeconfig(str(write(tmp_path / "odd", {"users": {"u": {}}})))
    (tmp_path / "absent-ca.crt").write_text("")  # relative to the kubeconfig's directory
    assert check_kubeconfig(str(good), "bad-ca") == "bad-ca"
    config = offline_kubeconfig(tmp_path)
    config["users"][0]["user"] = {"tokenFile": "token"}
    with pytest.raises(KubeconfigError, match='tokenFile "token" of user "u"'):
        check_kubeconfig(str(write(tmp_path / "token-file", config)))


async def test_unusable_certificate_data_is_a_kubeconfig_error(tmp_path: Path) -> None:
    """A certificate file that exists but holds no certificate: the loader's turn to fail."""
    (tmp_path / "absent.crt").write_text("not a certificate")
    (tmp_path / "absent.key").write_text("not a key")
    kubeconfig = write(tmp_path / "config", offline_kubeconfig(tmp_path))
    with pytest.raises(
        KubeconfigError, match=re.escape(f'kubeconfig "{kubeconfig}", context "certs": ')
    ):
        await ClusterConfig.from_kubeconfig(str(kubeconfig), "certs")


async def test_bad_flags_are_usage_errors(tmp_path: Path) -> None:
    kubeconfig = write(tmp_path / "config", offline_kubeconfig(tmp_path))
    code, lines = await run_once("syncer", [f"--to-kubeconfig={kubeconfig}"])
    assert code == 2 and "the following arguments are required: --from-kubeconfig" in lines[-1]
    code, lines = await run_once("scheduler", [f"--kubeconfig={kubeconfig}", "--no-such-flag"])
    assert code == 2 and "unrecognized arguments: --no-such-flag" in lines[-1]
    assert not [line for line in lines if "Traceback" in line]


CLI_CASES = ("missing-file", "not-yaml", "missing-client-certificate", "missing-ca-file")


async def test_kubectl_ws_answers_broken_kubeconfigs_in_one_line(tmp_path: Path) -> None:
    async def run(case: ConfigCase) -> tuple[ConfigCase, int, list[str]]:
        directory = tmp_path / case.id
        directory.mkdir()
        kubeconfig = case.make(directory)
        flags = [f"--kubeconfig={kubeconfig}"]
        if case.context:
            flags.append(f"--context={case.context}")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "edgemc.cli.kubectl_ws",
            "tree",
            *flags,
            cwd=PROJECT,
            env=_environment(),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(EXIT_WITHIN):
            _, stderr = await proc.communicate()
        return case, proc.returncode or 0, stderr.decode().splitlines()

    # Its own loader reads the files; credentials go through kubernetes-asyncio's.
    cases = [c for c in CONFIG_CASES if c.id in CLI_CASES]
    for case, code, lines in await asyncio.gather(*(run(c) for c in cases)):
        assert code == 1, (case.id, lines)
        assert len(lines) == 1 and lines[0].startswith("Error: "), (case.id, lines)


# -- runtime failures: the server side --------------------------------------------------


def admin_client(server: KcpServer) -> Client:
    config = ClusterConfig.for_server(server.url, server.kcp_admin_token)
    config.ssl = server.client_ssl()
    return Client(config)


async def service_account_token(ws: Client, name: str) -> str:
    """A new ServiceAccount `name` (namespace default) with no rights; its token."""
    account = {"apiVersion": "v1", "kind": "ServiceAccount"}
    await ws.create(
        r.SERVICE_ACCOUNTS, {**account, "metadata": {"name": name, "namespace": "default"}}
    )
    await ws.create(
        r.SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                "name": f"{name}-token",
                "namespace": "default",
                "annotations": {"kubernetes.io/service-account.name": name},
            },
        },
    )

    async def filled() -> str | None:
        secret = await ws.get(r.SECRETS, f"{name}-token", "default")
        token = (secret.get("data") or {}).get("token")
        return base64.b64decode(token).decode() if token else None

    return await wait_for(filled, 15, f"the token of ServiceAccount {name}")


async def revoked_token(server: KcpServer, ws: Client) -> str:
    """The token of a ServiceAccount since deleted, its token Secrets with it."""
    token = await service_account_token(ws, "revoked")
    await server.wait_idle()  # the token controller's own Secret (same token) exists now
    await ws.delete(r.SERVICE_ACCOUNTS, "revoked", "default")
    for secret in (await ws.list(r.SECRETS, "default"))["items"]:
        annotations = secret["metadata"].get("annotations") or {}
        if annotations.get("kubernetes.io/service-account.name") == "revoked":
            await ws.delete(r.SECRETS, secret["metadata"]["name"], "default")
    return token


@dataclass
class Kubeconfigs:
    """Kubeconfig files for the runtime cases, by what is wrong with them."""

    dir: Path
    server: KcpServer
    tokens: dict[str, str] = field(default_factory=dict)

    def espw(self, name: str, token: str | None = None, ca_pem: bytes | None = None) -> Path:
        return self._write(f"espw-{name}", ESPW, token, ca_pem)

    def mailbox(self, name: str, token: str | None = None, ca_pem: bytes | None = None) -> Path:
        return self._write(f"mailbox-{name}", MAILBOX, token, ca_pem)

    def _write(self, name: str, workspace: str, token: str | None, ca: bytes | None) -> Path:
        config = workspace_kubeconfig(self.server.kubeconfig(), workspace)
        if token is not None:
            config = with_token(config, token)
        if ca is not None:
            config = with_ca(config, ca)
        return write(self.dir / f"{name}.kubeconfig", config)


@pytest.fixture
async def kubeconfigs(kcp: KcpServer, tmp_path: Path) -> AsyncIterator[Kubeconfigs]:
    """The ESPW and a mailbox workspace; tokens: rightless (per workspace), expired, revoked."""
    async with admin_client(kcp) as admin:
        await ensure_workspace(admin, ESPW)
        await ensure_workspace(admin, MAILBOX)
        espw, mailbox = admin.cluster(ESPW), admin.cluster(MAILBOX)
        tokens = {
            "rightless-espw": await service_account_token(espw, "rightless"),
            "rightless-mailbox": await service_account_token(mailbox, "rightless"),
            "revoked": await revoked_token(kcp, mailbox),
        }
        claims = jwt.decode(tokens["rightless-mailbox"], options={"verify_signature": False})
        claims["exp"] = int(time.time()) - 3600
        tokens["expired"] = jwt.encode(claims, kcp.sa_tokens.signing_key, algorithm="HS256")
        tokens["garbage"] = "not-a-token"
    yield Kubeconfigs(tmp_path, kcp, tokens)


@dataclass(frozen=True)
class RuntimeCase:
    """A long-running component given one broken kubeconfig, and what it must log."""

    id: str
    component: str
    # The kubeconfig under test (for the syncer: --from-kubeconfig).
    kubeconfig: Path
    # The klog message of each retry, and what its err= says.
    message: str
    phrase: str


def runtime_cases(k: Kubeconfigs) -> Iterator[RuntimeCase]:
    other_ca = certificates(None, "127.0.0.1").ca_pem
    cannot = "Cannot reach the API server, will retry"
    rejected = "API server rejected the credentials, will retry"
    for name in LONG_RUNNING:
        make = k.mailbox if name == "syncer" else k.espw
        yield RuntimeCase(
            "wrong-ca",
            name,
            make("wrong-ca", ca_pem=other_ca),
            cannot,
            "TLS certificate verify failed",
        )
        yield RuntimeCase(
            "garbage-token",
            name,
            make("garbage", k.tokens["garbage"]),
            rejected,
            "401 Unauthorized",
        )
    # The other ways to a 401, once each: they differ on the server, not in the component.
    yield RuntimeCase(
        "expired-token", "scheduler", k.espw("expired", k.tokens["expired"]), rejected, "401"
    )
    yield RuntimeCase(
        "revoked-token", "syncer", k.mailbox("revoked", k.tokens["revoked"]), rejected, "401"
    )


async def test_rejected_or_untrusted_stays_up_and_retries(kubeconfigs: Kubeconfigs) -> None:
    k = kubeconfigs
    cases = list(runtime_cases(k))
    edge = k.espw("admin")
    out = k.dir / "manifest.yaml"
    runs = [
        (c.component, argv_for(c.component, c.kubeconfig, None, edge=edge, out=out)) for c in cases
    ]
    async with started(runs) as components:

        async def check(case: RuntimeCase, component: Component) -> None:
            lines = await component.wait_for_lines(lambda line: case.message in line, 2)
            assert all(line.startswith("E") and case.phrase in line for line in lines), lines
            retries = [m.groups() for line in lines if (m := RETRY_LINE.search(line))]
            assert [int(attempt) for attempt, _ in retries] == [1, 2], lines
            assert float(retries[0][1]) < float(retries[1][1]), lines  # the delay grows
            assert component.proc.returncode is None
            assert await get_status(component.health_url() + "/healthz") == 200
            assert await get_status(component.health_url() + "/readyz") == 503

        await asyncio.gather(*(check(c, p) for c, p in zip(cases, components, strict=True)))
    for component in components:
        component.assert_no_traceback()


async def test_rightless_token_central_controllers_warn_and_wait(kubeconfigs: Kubeconfigs) -> None:
    k = kubeconfigs
    kubeconfig = k.espw("rightless", k.tokens["rightless-espw"])
    async with started([(name, [f"--kubeconfig={kubeconfig}"]) for name in CENTRAL]) as components:

        async def check(component: Component) -> None:
            [line] = await component.wait_for_lines(
                lambda line: "Cannot read APIExport yet, will retry" in line
            )
            assert line.startswith("W") and "reason=" in line, line
            assert await get_status(component.health_url() + "/healthz") == 200
            assert component.proc.returncode is None

        await asyncio.gather(*(check(c) for c in components))
    for component in components:
        component.assert_no_traceback()


async def test_rightless_token_syncer_says_so(kubeconfigs: Kubeconfigs) -> None:
    k = kubeconfigs
    mailbox = k.mailbox("rightless", k.tokens["rightless-mailbox"])
    argv = [f"--from-kubeconfig={mailbox}", f"--to-kubeconfig={k.espw('admin')}"]
    async with started([("syncer", argv)]) as [syncer]:
        await syncer.wait_for_lines(lambda line: "forbidden" in line.lower(), within=5)


async def test_syncer_gen_one_line_for_each_runtime_failure(kubeconfigs: Kubeconfigs) -> None:
    k = kubeconfigs
    other_ca = certificates(None, "127.0.0.1").ca_pem
    cases = [
        (k.mailbox("wrong-ca", ca_pem=other_ca), "TLS certificate verify failed"),
        (k.mailbox("garbage", k.tokens["garbage"]), "401 Unauthorized"),
        (k.mailbox("expired", k.tokens["expired"]), "401 Unauthorized"),
        (k.mailbox("revoked", k.tokens["revoked"]), "401 Unauthorized"),
        (k.mailbox("rightless", k.tokens["rightless-mailbox"]), "403 Forbidden"),
    ]
    out = k.dir / "manifest.yaml"
    results = await asyncio.gather(
        *(run_once("syncer-gen", ["c1", f"--output={out}", f"--kubeconfig={p}"]) for p, _ in cases)
    )
    for (_, phrase), (code, lines) in zip(cases, results, strict=True):
        assert code == 1, lines
        assert len(lines) == 1 and lines[0].startswith("error: syncer-gen: "), lines
        assert phrase in lines[0], lines
    assert not out.exists()


# -- an unreachable server, started later -----------------------------------------------


async def test_unreachable_server_is_waited_for_then_used(tmp_path: Path) -> None:
    data = tmp_path / "kcp"
    first = build_kcp_server(ServerConfig(port=0, data_dir=data))
    await first.start()
    port = first.port
    try:
        async with admin_client(first) as admin:
            await ensure_espw(admin, ESPW, PROJECT / "config")
            await ensure_workspace(admin, MAILBOX)
        k = Kubeconfigs(tmp_path, first)
        espw, mailbox = k.espw("admin"), k.mailbox("admin")
    finally:
        await first.stop()  # the port is closed now; the CA and tokens stay in `data`

    code, lines = await run_once(
        "syncer-gen", ["c1", f"--output={tmp_path / 'm.yaml'}", f"--kubeconfig={mailbox}"]
    )
    assert code == 1 and len(lines) == 1, lines
    assert (
        f"cannot reach the server: cannot connect to 127.0.0.1:{port}: Connection refused"
        in lines[0]
    )

    runs = [
        (name, argv_for(name, mailbox if name == "syncer" else espw, None, edge=espw, out=tmp_path))
        for name in LONG_RUNNING
    ]
    async with started(runs) as components:

        async def retrying(component: Component) -> None:
            lines = await component.wait_for_lines(
                lambda line: "Cannot reach the API server, will retry" in line, 2
            )
            assert all("Connection refused" in line for line in lines), lines
            assert await get_status(component.health_url() + "/healthz") == 200
            assert await get_status(component.health_url() + "/readyz") == 503

        await asyncio.gather(*(retrying(c) for c in components))
        second = build_kcp_server(ServerConfig(port=port, data_dir=data))
        await second.start()
        try:

            async def recovered(component: Component) -> None:
                await component.wait_for_lines(lambda line: '"Reached the API server"' in line)

            await asyncio.gather(*(recovered(c) for c in components))
            scheduler = components[LONG_RUNNING.index("scheduler")]

            async def ready() -> bool:
                return await get_status(scheduler.health_url() + "/readyz") == 200

            await wait_for(ready, LINES_WITHIN, "the scheduler ready on the restarted server")
        finally:
            await asyncio.gather(*(c.stop() for c in components))
            await second.stop()
    for component in components:
        component.assert_no_traceback()


async def test_sigterm_while_waiting_for_the_server_exits_cleanly(tmp_path: Path) -> None:
    """A component still waiting for an unreachable server stops on SIGTERM with exit code 0
    (as once it runs), not killed by the signal (-15)."""
    data = tmp_path / "kcp"
    server = build_kcp_server(ServerConfig(port=0, data_dir=data))
    await server.start()
    try:
        k = Kubeconfigs(tmp_path, server)
        espw = k.espw("admin")
    finally:
        await server.stop()
    runs = [("scheduler", argv_for("scheduler", espw, None, edge=espw, out=tmp_path))]
    async with started(runs) as [scheduler]:
        await scheduler.wait_for_lines(lambda line: "Cannot reach the API server" in line)
        scheduler.proc.send_signal(signal.SIGTERM)
        assert await scheduler.wait_for_exit() == 0, "\n".join(scheduler.lines)
    scheduler.assert_no_traceback()
