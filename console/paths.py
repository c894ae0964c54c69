"""XDG locations for config, data (the default home), state and logs."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "").strip()
    # The XDG spec says relative paths are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_file() -> Path:
    """The user's config file: $XDG_CONFIG_HOME/mlconsole/config.toml."""
    override = os.environ.get("MLCONSOLE_CONFIG")
    if override:
        return Path(override).expanduser()
    return _xdg("XDG_CONFIG_HOME", ".config") / "mlconsole" / "config.toml"


def default_home() -> Path:
    """Where embedded state lives when no --home is given."""
    return _xdg("XDG_DATA_HOME", ".local/share") / "mlconsole"


def state_dir() -> Path:
    """XDG state dir, for the console's own history (not the runtime's state)."""
    return _xdg("XDG_STATE_HOME", ".local/state") / "mlconsole"
