"""The local runtime's state on disk: what is deployed, which processes serve it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from console.errors import InvalidSpec


def runtime_dir(home: Path) -> Path:
    return home / "runtime"


def state_path(home: Path) -> Path:
    return runtime_dir(home) / "state.json"


def read_state(home: Path) -> dict[str, Any]:
    """The runtime state, or an empty one when nothing was ever deployed."""
    path = state_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"deployments": {}, "rollouts": {}}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # Never guess at a damaged state file: say where it is so it can be inspected.
        raise InvalidSpec(
            f"local runtime state {path} is damaged (line {exc.lineno}: {exc.msg})",
            hint="move it aside to start with an empty runtime; its deployments are then forgotten",
            location=str(path),
        ) from exc
    if not isinstance(data, dict):
        raise InvalidSpec(f"local runtime state {path} is not a JSON object", location=str(path))
    data.setdefault("deployments", {})
    data.setdefault("rollouts", {})
    return data


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists (signal 0 probes without harming it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
