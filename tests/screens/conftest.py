"""Fixtures for screen snapshots that show registry content.

Snapshots must be byte-for-byte stable, but MLflow mints random run and model ids and
stamps the wall clock. The snapshot registry is therefore seeded at a fixed path with
uuid4 drawn from a seeded generator, its timestamps pinned afterwards, and the views'
clock pinned too.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import uuid
from pathlib import Path
from unittest import mock

import pytest

from console.config import default_registry_uri

SNAPSHOT_REGISTRY_HOME = Path("/tmp/mlconsole-snapshots/registry-home")
PINNED_MS = 1_795_990_000_000  # 2026-11-30 around 07:00 UTC
PINNED_NOW = PINNED_MS / 1000 + 2 * 3600


@pytest.fixture(scope="session")
def snapshot_registry() -> Path:
    """A home with the demo seeded deterministically; treat it as read-only."""
    from backends.mlflow.demo_seed import seed_demo

    shutil.rmtree(SNAPSHOT_REGISTRY_HOME, ignore_errors=True)
    SNAPSHOT_REGISTRY_HOME.mkdir(parents=True)
    rng = random.Random(20261130)
    with mock.patch("uuid.uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4)):
        seed_demo(default_registry_uri(SNAPSHOT_REGISTRY_HOME), SNAPSHOT_REGISTRY_HOME,
                  progress=lambda _line: None)
    db = SNAPSHOT_REGISTRY_HOME / "registry" / "mlflow.db"
    con = sqlite3.connect(db)
    with con:
        con.execute("update registered_models set creation_time = ?, last_updated_time = ?",
                    (PINNED_MS, PINNED_MS))
        con.execute("update model_versions set creation_time = ? + version * 60000, "
                    "last_updated_time = ? + version * 60000", (PINNED_MS, PINNED_MS))
        con.execute("update runs set start_time = ?, end_time = ? + 30000", (PINNED_MS, PINNED_MS))
    con.close()
    return SNAPSHOT_REGISTRY_HOME


@pytest.fixture
def pinned_clock(monkeypatch):
    """Ages ('3m', '2h') measured from a fixed now."""
    import screens.formatting

    monkeypatch.setattr(screens.formatting, "clock", lambda: PINNED_NOW)
