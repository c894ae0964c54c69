"""The local runtime's state on disk: what is deployed, which processes serve it.

Layout under HOME/runtime (mode 0700: logs and the API token are private to the user):

    state.json            deployments, their processes, the supervisor, rollouts (atomic writes)
    state.lock            flock taken around every read-modify-write of state.json
    supervisor.lock       held by the one running supervisor of this home
    supervisor.token      the API token (0600), sent as X-MLConsole-Token
    events.jsonl          cluster events, newest last (bounded by the supervisor)
    deployments/NAME.yaml the manifest as deployed (the desired state)
    routes/NAME.json      the gateway's routes (ready endpoints only)
    ports/NAME/*.port     port files the serving processes write once listening
    logs/supervisor.log, logs/NAME/<predictor>-<i>.log, logs/NAME/gateway.log

The supervisor owns "supervisor" and "deployments"; others (the rollout engine) own
"rollouts". Every writer goes through update_state, so nobody's keys are lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from console.errors import InvalidSpec

STATE_VERSION = 1
TOKEN_HEADER = "X-MLConsole-Token"
# The registry URI reaches the supervisor in its environment, not on its command line: a URI may hold a
# password, and every user of the machine can read a process's command line (ps, /proc/PID/cmdline).
REGISTRY_ENV = "MLCONSOLE_RUNTIME_REGISTRY"
SUPERVISOR_MODULE = "backends.local.supervisor"


def runtime_dir(home: Path) -> Path:
    return home / "runtime"


def state_path(home: Path) -> Path:
    return runtime_dir(home) / "state.json"


def events_path(home: Path) -> Path:
    return runtime_dir(home) / "events.jsonl"


def token_path(home: Path) -> Path:
    return runtime_dir(home) / "supervisor.token"


def supervisor_lock_path(home: Path) -> Path:
    return runtime_dir(home) / "supervisor.lock"


def manifest_path(home: Path, name: str) -> Path:
    return runtime_dir(home) / "deployments" / f"{name}.yaml"


def serving_context_path(home: Path, name: str) -> Path:
    """Beside the manifest: the registry and component search paths it is served with, so that
    a deployment can be served again from disk alone (see recover.py)."""
    return runtime_dir(home) / "deployments" / f"{name}.context.json"


def routes_path(home: Path, name: str) -> Path:
    return runtime_dir(home) / "routes" / f"{name}.json"


def ports_dir(home: Path, name: str) -> Path:
    return runtime_dir(home) / "ports" / name


def logs_dir(home: Path, name: str | None = None) -> Path:
    base = runtime_dir(home) / "logs"
    return base / name if name else base


def replica_log_path(home: Path, name: str, predictor: str, index: int) -> Path:
    return logs_dir(home, name) / f"{predictor}-{index}.log"


def gateway_log_path(home: Path, name: str) -> Path:
    return logs_dir(home, name) / "gateway.log"


def ensure_runtime_dir(home: Path) -> Path:
    """Create HOME/runtime private to this user (logs and the token live there)."""
    path = runtime_dir(home)
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    return path


def _empty_state() -> dict[str, Any]:
    return {"deployments": {}, "rollouts": {}}


def read_state(home: Path) -> dict[str, Any]:
    """The runtime state, or an empty one when nothing was ever deployed."""
    path = state_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _empty_state()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # Never guess at a damaged state file: say where it is so it can be inspected.
        raise InvalidSpec(
            f"local runtime state {path} is damaged (line {exc.lineno}: {exc.msg})",
            hint="`mlconsole local recover` stops this runtime's processes, keeps the damaged file beside it "
                 "and serves every deployment again from its saved manifest",
            location=str(path),
        ) from exc
    if not isinstance(data, dict):
        raise InvalidSpec(f"local runtime state {path} is not a JSON object", location=str(path))
    data.setdefault("deployments", {})
    data.setdefault("rollouts", {})
    return data


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write text so readers see the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _state_lock(home: Path) -> Iterator[None]:
    ensure_runtime_dir(home)
    with open(runtime_dir(home) / "state.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def update_state(home: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Read, change (in place) and write the state under the state lock; returns the new state."""
    with _state_lock(home):
        try:
            state = read_state(home)
        except InvalidSpec:
            raise
        change(state)
        state["version"] = STATE_VERSION
        write_atomic(state_path(home), json.dumps(state, indent=1, sort_keys=True) + "\n")
        return state


# -- processes ----------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists (signal 0 probes without harming it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_running(pid: int | None) -> bool:
    """True if pid is a live process: not gone, and not a zombie waiting to be reaped."""
    if not pid or not pid_alive(int(pid)):
        return False
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except OSError:
        return True  # no /proc: trust the signal probe
    # The state letter follows the parenthesised command name, which may itself hold spaces.
    state = stat.rsplit(")", 1)[-1].split()[:1]
    return state != ["Z"] and state != ["X"]


def process_cmdline(pid: int) -> list[str]:
    """A process's argv from /proc, or [] when it cannot be read."""
    try:
        raw = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def cmdline_matches(pid: int, module: str, flags: dict[str, str]) -> bool:
    """True if pid runs `python -m module` with these flag values (so a reused pid is not ours)."""
    argv = process_cmdline(pid)
    if module not in argv:
        return False
    for flag, value in flags.items():
        try:
            if argv[argv.index(flag) + 1] != value:
                return False
        except (ValueError, IndexError):
            return False
    return True


def supervisor_running(home: Path, state: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The running supervisor's record ({pid, port, ...}), or None when none serves this home."""
    if state is None:
        try:
            state = read_state(home)
        except InvalidSpec:
            return None
    record = state.get("supervisor") or {}
    pid = record.get("pid")
    if not pid or not process_running(pid):
        return None
    if not cmdline_matches(int(pid), SUPERVISOR_MODULE, {"--home": str(home)}):
        return None
    return record


# -- API token ------------------------------------------------------------------------------


def ensure_token(home: Path) -> str:
    """The API token, created (0600) on first use."""
    path = token_path(home)
    try:
        token = path.read_text().strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    ensure_runtime_dir(home)
    token = secrets.token_urlsafe(32)
    write_atomic(path, token + "\n", mode=0o600)
    return token


def read_token(home: Path) -> str:
    try:
        return token_path(home).read_text().strip()
    except OSError:
        return ""


# -- events -----------------------------------------------------------------------------------


def read_events(home: Path, name: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Recorded events, oldest first (a damaged line is skipped: events are informative only)."""
    try:
        lines = events_path(home).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and (name is None or event.get("deployment") == name):
            out.append(event)
    return out[-limit:]


def tail_lines(path: Path, count: int, max_bytes: int = 1 << 20) -> list[str]:
    """The last `count` lines of a text file, reading at most max_bytes from its end."""
    if count <= 0:
        return []
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            block, data = 8192, b""
            while size > 0 and data.count(b"\n") <= count and len(data) < max_bytes:
                step = min(block, size)
                size -= step
                fh.seek(size)
                data = fh.read(step) + data
                block *= 2
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if size > 0 and lines:
        lines = lines[1:]  # the first one is probably cut
    return lines[-count:]
