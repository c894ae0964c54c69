"""Helpers for tests that run the local runtime for real: manifests, waiting, and cleaning up."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from backends.local.state import process_cmdline, process_running, read_state
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]


def manifest(name: str, predictors: list[tuple[str, int]] | None = None, replicas: int = 1,
             implementation: str = "tests.components.risk_model.RiskModel") -> str:
    """A SeldonDeployment whose predictors each serve one Python component (no MLflow needed)."""
    predictors = predictors or [("main", 100)]
    parts = []
    for pname, traffic in predictors:
        weight = "2.0" if pname != predictors[0][0] else "1.0"
        parts.append(f"""  - name: {pname}
    traffic: {traffic}
    replicas: {replicas}
    graph:
      name: model
      type: MODEL
      implementation: {implementation}
      parameters:
      - {{name: weight, value: "{weight}", type: FLOAT}}
""")
    return f"""apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: {name}
spec:
  predictors:
{"".join(parts)}"""


CRASHING = """apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: {name}
spec:
  predictors:
  - name: main
    traffic: 100
    graph:
      name: model
      type: MODEL
      implementation: tests.components.crashing.CrashOnLoad
"""

REQUEST = {"data": {"names": ["a", "b"], "ndarray": [[0.5, 1.5]]}}


def wait_for(check, timeout: float = 30.0, every: float = 0.1, what: str = "condition"):
    """check()'s first truthy result, polling; AssertionError with the last value after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def mlconsole(home: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    """The CLI as a script runs it, from the repository root (so tests.components import)."""
    return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), *args],
                          capture_output=True, text=True, env=subprocess_env(**env), timeout=timeout, cwd=ROOT)


def runtime_pids(home: Path) -> list[int]:
    """Every live process of this home's runtime: the supervisor and its serving processes."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        argv = process_cmdline(int(entry.name))
        if "--home" in argv and str(home) in argv and any(a.startswith("backends.local.") for a in argv):
            if process_running(int(entry.name)):
                out.append(int(entry.name))
    return out


def stop_runtime(home: Path) -> None:
    """`local down`, then SIGKILL whatever is left of this home's processes (leaks break CI)."""
    from backends.local.supervisor_client import stop_supervisor

    with contextlib.suppress(Exception):
        stop_supervisor(home, timeout=10)
    for pid in runtime_pids(home):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def deployment_pids(home: Path, name: str) -> list[int]:
    dep = read_state(home)["deployments"].get(name) or {}
    return [r["pid"] for r in [dep.get("gateway") or {}, *(dep.get("replicas") or [])] if r.get("pid")]
