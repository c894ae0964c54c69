"""Starting, stopping and talking to the supervisor of a home (the client side of its API)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from backends.local.processes import child_env, rotate_log, stop_pids
from backends.local.state import (
    REGISTRY_ENV,
    TOKEN_HEADER,
    ensure_runtime_dir,
    logs_dir,
    read_state,
    read_token,
    supervisor_running,
    tail_lines,
)
from console.errors import BackendUnavailable, Conflict, ConsoleError, Forbidden, InvalidSpec, NotFound

START_TIMEOUT = 20.0


def supervisor_log(home: Path) -> Path:
    return logs_dir(home) / "supervisor.log"


def ensure_supervisor(home: Path, registry: str | None = None, timeout: float = START_TIMEOUT) -> dict[str, Any]:
    """The running supervisor's record; starts one detached when none runs. Idempotent."""
    running = supervisor_running(home)
    if running and _answers(home, running):
        return running
    ensure_runtime_dir(home)
    read_state(home)  # a damaged state file: say so here, with the way out, not from the supervisor's log
    log = supervisor_log(home)
    log.parent.mkdir(parents=True, exist_ok=True)
    rotate_log(log)
    argv = [sys.executable, "-m", "backends.local.supervisor", "--home", str(home)]
    env = child_env()
    env.pop(REGISTRY_ENV, None)
    if registry:
        env[REGISTRY_ENV] = registry  # not on the command line: see REGISTRY_ENV
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=str(home), env=env, start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = supervisor_running(home)
        if running and _answers(home, running):
            return running
        code = proc.poll()
        if code not in (None, 0):  # 0: another supervisor holds the lock and is starting; wait for it
            lines = "\n".join(tail_lines(log, 8))
            raise BackendUnavailable(f"the local runtime's supervisor exited with code {code}",
                                     hint=f"see {log}:\n{lines}")
        time.sleep(0.05)
    raise BackendUnavailable(f"the local runtime's supervisor did not start within {timeout:.0f}s",
                             hint=f"see {log}")


def _answers(home: Path, record: dict[str, Any]) -> bool:
    import httpx

    if not record.get("port"):
        return False
    try:
        resp = httpx.get(f"http://127.0.0.1:{record['port']}/v1/status",
                         headers={TOKEN_HEADER: read_token(home)}, timeout=2.0)
    except httpx.HTTPError:
        return False
    return resp.status_code == 200


def stop_supervisor(home: Path, stop_processes: bool = True, timeout: float = 15.0) -> dict[str, Any]:
    """`local down`: stop the supervisor (and every serving process); {"was_running", "stopped"}."""
    running = supervisor_running(home)
    stopped = 0
    if running:
        try:
            stopped = int(SupervisorClient(home, running).call(
                "POST", "/v1/shutdown", {"stop_processes": stop_processes}, timeout=timeout).get("stopped", 0))
        except ConsoleError:
            import signal

            try:
                os.kill(int(running["pid"]), signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and supervisor_running(home):
            time.sleep(0.05)
        if supervisor_running(home):
            stop_pids([int(running["pid"])], grace=0)
    if stop_processes:
        # Whatever is left (the supervisor was down, or died mid-way): stop recorded processes that are ours.
        stopped += len(stop_leftovers(home))
    return {"was_running": bool(running), "stopped": stopped}


def stop_leftovers(home: Path) -> list[int]:
    """SIGTERM (then SIGKILL) every recorded serving process still running; their pids."""
    from backends.local.processes import is_ours

    try:
        state = read_state(home)
    except ConsoleError:
        return []
    pids = []
    for name, dep in state["deployments"].items():
        for rec in [dep.get("gateway") or {}, *(dep.get("replicas") or [])]:
            pid = rec.get("pid")
            if pid and is_ours(pid, rec.get("kind", "graph-server"), name, rec.get("predictor", ""),
                               int(rec.get("index", 0))):
                pids.append(int(pid))
    stop_pids(pids)
    return pids


class SupervisorClient:
    """Calls to one running supervisor; its errors come back as the port's typed errors."""

    def __init__(self, home: Path, record: dict[str, Any]) -> None:
        self.home = home
        self.base = f"http://127.0.0.1:{record['port']}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        import httpx

        try:
            resp = httpx.request(method, self.base + path, json=body, timeout=timeout,
                                 headers={TOKEN_HEADER: read_token(self.home)})
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the local runtime's supervisor at {self.base} did not answer: {exc}",
                                     hint=f"see {supervisor_log(self.home)}; `mlconsole local up` restarts it") \
                from None
        return answer(resp)


def answer(resp: Any) -> dict[str, Any]:
    """A supervisor API response's JSON; its error answers as the port's typed errors."""
    try:
        data = resp.json()
    except ValueError:
        data = {"message": resp.text[:300]}
    if resp.status_code < 300:
        return data
    message, hint = data.get("message", f"HTTP {resp.status_code}"), data.get("hint", "")
    target = data.get("target", "")
    if resp.status_code == 404:
        raise NotFound(message, hint=hint, target=target)
    if resp.status_code == 409:
        raise Conflict(message, hint=hint, target=target)
    if resp.status_code == 422:
        raise InvalidSpec(message, hint=hint, target=target, location=data.get("location", ""))
    if resp.status_code in (401, 403):
        raise Forbidden(message, hint=hint)
    raise BackendUnavailable(f"the local runtime's supervisor failed: {message}", hint=hint)


