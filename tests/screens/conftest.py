"""Fixtures for screen snapshots that show registry content.

Snapshots must be byte-for-byte stable, but MLflow mints random run and model ids and
stamps the wall clock. The snapshot registry is therefore seeded at a fixed path, in a
fresh interpreter with uuid4 drawn from a seeded generator (seed_snapshot_registry.py),
its timestamps pinned afterwards, and the views' clock pinned too.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SNAPSHOT_REGISTRY_HOME = Path("/tmp/mlconsole-snapshots/registry-home")
PINNED_MS = 1_795_990_000_000  # 2026-11-30 around 07:00 UTC
PINNED_NOW = PINNED_MS / 1000 + 2 * 3600


@pytest.fixture(scope="session")
def snapshot_registry(snapshot_lock) -> Path:
    """A home with the demo seeded deterministically; treat it as read-only."""
    shutil.rmtree(SNAPSHOT_REGISTRY_HOME, ignore_errors=True)
    SNAPSHOT_REGISTRY_HOME.mkdir(parents=True)
    seeder = Path(__file__).with_name("seed_snapshot_registry.py")
    # No git commit either: the demo records the checkout's HEAD, which changes every commit.
    env = dict(os.environ, GIT_DIR=str(SNAPSHOT_REGISTRY_HOME / "no-git"))
    subprocess.run([sys.executable, str(seeder), str(SNAPSHOT_REGISTRY_HOME)], check=True,
                   cwd=Path(__file__).resolve().parents[2], timeout=300, env=env)
    db = SNAPSHOT_REGISTRY_HOME / "registry" / "mlflow.db"
    con = sqlite3.connect(db)
    with con:
        con.execute("update registered_models set creation_time = ?, last_updated_time = ?",
                    (PINNED_MS, PINNED_MS))
        con.execute("update model_versions set creation_time = ? + version * 60000, "
                    "last_updated_time = ? + version * 60000", (PINNED_MS, PINNED_MS))
        con.execute("update runs set start_time = ?, end_time = ? + 30000", (PINNED_MS, PINNED_MS))
    con.close()
    # MLflow records the build tools of the running environment (pip, setuptools versions);
    # pin those files so the artifact sizes shown do not follow the machine's pip.
    for path in SNAPSHOT_REGISTRY_HOME.rglob("*"):
        if path.name in ENVIRONMENT_FILES:
            path.write_text(ENVIRONMENT_FILES[path.name])
    return SNAPSHOT_REGISTRY_HOME


ENVIRONMENT_FILES = {
    "python_env.yaml": "python: 3.11.7\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\n"
                       "dependencies:\n- -r requirements.txt\n",
    "conda.yaml": "channels:\n- conda-forge\ndependencies:\n- python=3.11.7\n- pip\n- pip:\n"
                  "  - -r requirements.txt\nname: mlflow-env\n",
    "requirements.txt": "mlflow\nscikit-learn\nnumpy\npandas\nscipy\nskops\n",
}


@pytest.fixture
def pinned_clock(monkeypatch):
    """Ages ('3m', '2h') measured from a fixed now."""
    import screens.formatting

    monkeypatch.setattr(screens.formatting, "clock", lambda: PINNED_NOW)
