"""What runs for each container of a pod on the simulated node.

Most containers are simulated: they are "running" from the moment the pod starts and
nothing executes. A container whose command is `python -m edgemc.cmd NAME ...` (or whose
image is the edgemc image, whose entrypoint is that command, with NAME in `args`) runs the
edgemc component NAME for real: by default in this process and event loop, through its
`App`; with `process=True` as a child process (`python -m edgemc.cmd NAME ...` with this
interpreter, output appended to a log file), which a SIGKILL can crash like a real container
(exit code 128 + signal). If the component exits it is restarted after a growing delay, as a
kubelet does for `restartPolicy: Always` (CrashLoopBackOff); `OnFailure` restarts only after
a failure and `Never` leaves the container terminated.

The component gets the pod's view of the world: the `argv` the caller prepared (paths into
volumes already rewritten, see `volumes`). The `App` for a name comes from a resolver,
by default `edgemc.cmd.components`' table.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import posixpath
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgemc.controllers.app import App, run
from edgemc.embedded.nodesim.kinds import now_rfc3339
from edgemc.runtime.backoff import Backoff

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ComponentResolver = Callable[[str], App | None]

EDGEMC_MODULE = "edgemc.cmd"


def default_resolver(name: str) -> App | None:
    """The `APP` of component `name` from `edgemc.cmd.components`, or None."""
    from edgemc.cmd.components import find

    component = find(name)
    if component is None:
        return None
    try:
        module = importlib.import_module(component.module)
    except ImportError as err:
        log.error("component %s: cannot import %s: %s", name, component.module, err)
        return None
    app = getattr(module, "APP", None)
    return app if isinstance(app, App) else None


def edgemc_command(container: Obj) -> tuple[str, list[str]] | None:
    """(component, its arguments) if the container runs `python -m edgemc.cmd NAME`."""
    command = [str(c) for c in container.get("command") or ()]
    args = [str(a) for a in container.get("args") or ()]
    if not command:
        repository = str(container.get("image") or "").split("@", 1)[0]
        if posixpath.basename(repository).split(":", 1)[0] != "edgemc":
            return None
        command = ["python", "-m", EDGEMC_MODULE]
    argv = command + args
    for i in range(len(argv) - 2):
        if (
            posixpath.basename(argv[i]).startswith("python")
            and argv[i + 1] == "-m"
            and argv[i + 2] == EDGEMC_MODULE
        ):
            rest = argv[i + 3 :]
            if rest and not rest[0].startswith("-"):
                return rest[0], rest[1:]
            return None
    return None


@dataclass
class ContainerState:
    """A container's state as the kubelet reports it in `status.containerStatuses`."""

    name: str
    image: str
    restart_count: int = 0
    running_since: str | None = None
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    terminated: Obj | None = None
    last_terminated: Obj | None = None

    @property
    def ready(self) -> bool:
        return self.running_since is not None

    def run(self) -> None:
        self.running_since = now_rfc3339()
        self.waiting_reason = self.waiting_message = ""
        self.terminated = None

    def wait(self, reason: str, message: str = "") -> None:
        self.running_since = None
        self.terminated = None
        self.waiting_reason, self.waiting_message = reason, message

    def exit(self, code: int, message: str = "") -> Obj:
        finished: Obj = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": self.running_since or now_rfc3339(),
            "finishedAt": now_rfc3339(),
        }
        if message:
            finished["message"] = message
        self.running_since = None
        self.terminated = finished
        return finished

    def status(self, container_id: str, image_id: str) -> Obj:
        state: Obj
        if self.running_since is not None:
            state = {"running": {"startedAt": self.running_since}}
        elif self.terminated is not None:
            state = {"terminated": {**self.terminated, "containerID": container_id}}
        else:
            waiting: Obj = {"reason": self.waiting_reason}
            if self.waiting_message:
                waiting["message"] = self.waiting_message
            state = {"waiting": waiting}
        status: Obj = {
            "name": self.name,
            "image": self.image,
            "imageID": image_id,
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.running_since is not None,
            "state": state,
            "lastState": {"terminated": self.last_terminated} if self.last_terminated else {},
        }
        if self.running_since is not None or self.terminated is not None:
            status["containerID"] = container_id
        return status


@dataclass
class RestartPolicy:
    """The kubelet's restart delays for a crashing container."""

    # 10 s doubling to 5 min is the kubelet's CrashLoopBackOff; tests shorten it.
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=10.0, cap=300.0, jitter=0))
    # A container that ran this long without exiting starts the backoff afresh.
    reset_after: float = 600.0
    # How long a stopping component may take before it is cancelled (terminationGrace).
    stop_timeout: float = 30.0


class ComponentContainer:
    """Runs one edgemc component for a container, restarting it per the pod's policy."""

    def __init__(
        self,
        state: ContainerState,
        component: str,
        argv: list[str],
        resolver: ComponentResolver,
        *,
        restart_policy: str = "Always",
        policy: RestartPolicy | None = None,
        on_change: Callable[[], None] = lambda: None,
        label: str = "",
        process: bool = False,
        log_path: Path | None = None,
    ) -> None:
        self.state = state
        self.component = component
        self.argv = argv
        self.resolver = resolver
        self.restart_policy = restart_policy
        self.policy = policy or RestartPolicy()
        self.on_change = on_change
        self.label = label or component
        # Run as a child process (see the module docstring), its output appended to log_path.
        self.process = process
        self.log_path = log_path
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._manager: Any = None
        self._child: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The process id of the running component, when it runs as a child process."""
        child = self._child
        return child.pid if child is not None and child.returncode is None else None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"container {self.label}")

    async def stop(self) -> None:
        """Stop the component (asking it first, then cancelling) and the restart loop."""
        self._stop.set()
        if self._manager is not None:
            self._manager.request_stop()
        if self._child is not None and self._child.returncode is None:
            self._child.terminate()  # SIGTERM: the component stops cleanly
        if self._task is None:
            return
        try:
            async with asyncio.timeout(self.policy.stop_timeout):
                await asyncio.shield(self._task)
        except TimeoutError:
            log.error(
                "%s: did not stop within %.0fs; cancelling", self.label, self.policy.stop_timeout
            )
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run_child(self) -> tuple[int, str]:
        """Run the component as a child process until it exits; its exit code as a container
        runtime reports it (128 + N when killed by signal N)."""
        command = [sys.executable, "-m", EDGEMC_MODULE, self.component, *self.argv]
        log_file = None
        if self.log_path is not None:
            await asyncio.to_thread(self.log_path.parent.mkdir, parents=True, exist_ok=True)
            log_file = await asyncio.to_thread(open, self.log_path, "ab")
        try:
            child = await asyncio.create_subprocess_exec(
                *command,
                stdin=subprocess.DEVNULL,
                stdout=log_file or subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
        finally:
            if log_file is not None:
                log_file.close()  # the child has its own descriptor
        self._child = child
        if self._stop.is_set():
            child.terminate()
        try:
            code = await child.wait()
        except asyncio.CancelledError:
            if child.returncode is None:
                child.kill()
                await child.wait()
            raise
        finally:
            self._child = None
        if code < 0:
            return 128 - code, f"killed by signal {-code}"
        return code, ""

    async def _run_once(self, app: App) -> tuple[int, str]:
        def remember(manager: Any) -> None:
            self._manager = manager
            if self._stop.is_set():
                manager.request_stop()

        try:
            if self.process:
                return await self._run_child()
            code = await run(app, self.argv, handle_signals=False, on_manager=remember)
            return code, ""
        except SystemExit as exit_:  # argparse rejecting the arguments
            code = exit_.code if isinstance(exit_.code, int) else 1
            return code, f"{self.component}: invalid arguments"
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.error("%s: component failed: %s", self.label, err)
            return 1, f"{type(err).__name__}: {err}"
        finally:
            self._manager = None

    def _restarts(self, code: int) -> bool:
        return self.restart_policy == "Always" or (self.restart_policy == "OnFailure" and code != 0)

    async def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            app = self.resolver(self.component)
            finished: Obj | None = None
            ran = 0.0
            if app is None:
                self.state.wait(
                    "CreateContainerError", f"edgemc component {self.component!r} is not available"
                )
                code = 128
            else:
                self.state.run()
                self.on_change()
                log.info("%s: started component %s", self.label, self.component)
                began = time.monotonic()
                code, message = await self._run_once(app)
                ran = time.monotonic() - began
                if self._stop.is_set():
                    return
                log.info("%s: component %s exited with code %d", self.label, self.component, code)
                finished = self.state.exit(code, message)
            if not self._restarts(code):
                self.on_change()
                return
            if ran >= self.policy.reset_after:
                failures = 0
            delay = self.policy.backoff.delay(failures)
            failures += 1
            if finished is not None:
                self.state.last_terminated = finished
                self.state.restart_count += 1
                self.state.wait(
                    "CrashLoopBackOff",
                    f"back-off {delay:.0f}s restarting failed container={self.state.name}",
                )
            self.on_change()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop.wait()
