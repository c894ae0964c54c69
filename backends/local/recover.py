"""Recovering the local runtime from a damaged state file, losing nothing that can be kept.

state.json is the runtime's memory of what it serves (and of rollouts in flight); if it cannot
be read, nothing guesses at it. `mlconsole local recover` then:
1. stops this home's supervisor and serving processes, found by their command lines (the state
   that would list their pids is what is damaged), so none is left holding a port;
2. moves the damaged file aside (state.json.damaged-<UTC time>), kept for inspection;
3. writes a new state listing every deployment whose manifest the runtime saved
   (runtime/deployments/NAME.yaml), so the next `local up` serves them all again.
Each deployment's registry URI and component search paths come back from the context file the
supervisor keeps beside its manifest. What cannot come back is said: rollouts in flight (their
state lived only in the damaged file).
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from backends.local.processes import GATEWAY_MODULE, GRAPH_SERVER_MODULE, signal_group
from backends.local.state import (
    STATE_VERSION,
    process_cmdline,
    read_state,
    runtime_dir,
    serving_context_path,
    state_path,
    write_atomic,
)
from console.errors import InvalidSpec

SUPERVISOR_MODULE = "backends.local.supervisor"


@dataclass
class Recovery:
    """What `local recover` did."""

    damaged_copy: Path | None = None
    deployments: list[str] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)
    state_was_readable: bool = False


def home_processes(home: Path) -> list[int]:
    """Pids of this home's supervisor, gateways and graph servers (by their command lines)."""
    runtime = str(runtime_dir(home))
    home_text = str(Path(home).resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        argv = process_cmdline(int(entry.name))
        if GRAPH_SERVER_MODULE in argv or GATEWAY_MODULE in argv:
            if any(arg.startswith(runtime) for arg in argv):
                found.append(int(entry.name))
        elif SUPERVISOR_MODULE in argv and "--home" in argv:
            i = argv.index("--home")
            if i + 1 < len(argv) and str(Path(argv[i + 1]).resolve()) == home_text:
                found.append(int(entry.name))
    return sorted(found)


def _stop(pids: list[int], grace: float = 5.0) -> None:
    for pid in pids:
        signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if Path(f"/proc/{pid}").exists():
            signal_group(pid, signal.SIGKILL)


def recover(home: Path, registry: str) -> Recovery:
    """Stop, set the damaged state aside, rebuild the deployment list from saved manifests."""
    out = Recovery()
    try:
        read_state(home)
        out.state_was_readable = True
        return out  # nothing to recover: never touch a good state
    except InvalidSpec:
        pass
    out.stopped = home_processes(home)
    _stop(out.stopped)
    path = state_path(home)
    if path.exists():
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        out.damaged_copy = path.with_name(f"{path.name}.damaged-{stamp}")
        path.replace(out.damaged_copy)
    now = time.time()
    deployments = {}
    for manifest in sorted((runtime_dir(home) / "deployments").glob("*.yaml")):
        name = manifest.stem
        try:
            context = json.loads(serving_context_path(home, name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            context = {}  # written by older runtimes only with the state: the console's defaults then
        deployments[name] = {"name": name, "registry": context.get("registry") or registry,
                             "search_paths": list(context.get("search_paths") or []), "created_at": now,
                             "updated_at": now, "predictors": [], "replicas": [], "gateway": {},
                             "phase": "Progressing", "message": "recovered from its saved manifest"}
        out.deployments.append(name)
    write_atomic(path, json.dumps({"deployments": deployments, "rollouts": {}, "version": STATE_VERSION},
                                  indent=1, sort_keys=True) + "\n")
    return out
