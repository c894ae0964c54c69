"""Starting, signalling and identifying the local runtime's serving processes."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from backends.local.state import cmdline_matches, process_running, tail_lines

GRAPH_SERVER_MODULE = "backends.local.serving.graph_server"
GATEWAY_MODULE = "backends.local.serving.gateway"
MAX_LOG_BYTES = 4 * 1024 * 1024  # a log over this is moved to .1 (one generation kept)
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where `backends` imports from


def child_env(search_paths: list[str] | tuple[str, ...] = (), registry: str | None = None) -> dict[str, str]:
    """The environment of a serving process: components importable, logs unbuffered, no telemetry."""
    env = dict(os.environ)
    paths = [*search_paths, str(PROJECT_ROOT)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
    env["PYTHONUNBUFFERED"] = "1"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if registry:
        env["MLFLOW_TRACKING_URI"] = registry
    return env


def graph_server_argv(manifest: Path, deployment: str, predictor: str, index: int, port_file: Path,
                      registry: str, home: Path, port: int = 0) -> list[str]:
    """The graph server's command line. The registry is not on it: the server reads MLFLOW_TRACKING_URI,
    which child_env sets (a URI may hold a password, and command lines are readable by every user)."""
    return [sys.executable, "-m", GRAPH_SERVER_MODULE, "--manifest", str(manifest), "--predictor", predictor,
            "--deployment", deployment, "--replica", str(index), "--port", str(port),
            "--port-file", str(port_file), "--home", str(home), "--host", "127.0.0.1"]


def gateway_argv(deployment: str, routes: Path, port_file: Path, home: Path, port: int = 0) -> list[str]:
    return [sys.executable, "-m", GATEWAY_MODULE, "--deployment", deployment, "--routes", str(routes),
            "--port", str(port), "--port-file", str(port_file), "--home", str(home), "--host", "127.0.0.1"]


def identity(kind: str, deployment: str, predictor: str, index: int) -> tuple[str, dict[str, str]]:
    """(module, flags) that a process of ours carries on its command line."""
    if kind == "gateway":
        return GATEWAY_MODULE, {"--deployment": deployment}
    return GRAPH_SERVER_MODULE, {"--deployment": deployment, "--predictor": predictor, "--replica": str(index)}


def is_ours(pid: int | None, kind: str, deployment: str, predictor: str, index: int) -> bool:
    """True if pid is alive and runs the process this record describes (not a reused pid)."""
    if not process_running(pid):
        return False
    module, flags = identity(kind, deployment, predictor, index)
    return cmdline_matches(int(pid), module, flags)  # type: ignore[arg-type]


def rotate_log(path: Path, limit: int = MAX_LOG_BYTES) -> None:
    """Move a log over `limit` bytes to PATH.1 and start it again empty.

    Safe while a process writes to it: logs are opened with O_APPEND, so after the copy and
    truncation its next write lands at the new end.
    """
    try:
        if path.stat().st_size <= limit:
            return
        old = path.with_name(path.name + ".1")
        with open(path, "rb") as src, open(old, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        os.truncate(path, 0)
    except OSError:
        pass


def spawn(argv: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """Start a serving process detached: its own session (it outlives the supervisor), output to log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    rotate_log(log)
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=str(cwd), start_new_session=True, close_fds=True)


def signal_group(pid: int, sig: int) -> bool:
    """Signal the process's group (it leads its own session, so its children go too)."""
    try:
        os.killpg(pid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)
        return True


def read_port_file(path: Path) -> int | None:
    """The port a serving process wrote once listening; None until then."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def describe_exit(code: int | None) -> str:
    """'exit code 1', 'killed by SIGKILL', or 'exited' when the code is unknown (adopted process)."""
    if code is None:
        return "exited"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d+ \S+ (?:DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def log_text(line: str) -> str:
    """A log line without its timestamp, logger and level prefix (for one-line summaries)."""
    return _LOG_PREFIX.sub("", line.strip())


def last_log_lines(path: Path, count: int = 5) -> list[str]:
    """The last non-empty lines of a log, for crash messages."""
    return [line for line in tail_lines(path, count * 3) if line.strip()][-count:]


def stop_pids(pids: list[int], grace: float = 5.0) -> list[int]:
    """SIGTERM each process group, then SIGKILL what is left after `grace`; the pids that needed KILL."""
    alive = [p for p in pids if process_running(p)]
    for pid in alive:
        signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if process_running(p)]
    for pid in alive:
        signal_group(pid, signal.SIGKILL)
    return alive
