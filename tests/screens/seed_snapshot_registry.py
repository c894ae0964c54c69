"""Seed the snapshot registry in a fresh interpreter: `python seed_snapshot_registry.py HOME`.

MLflow mints run and model ids with uuid4. Drawing them from a seeded generator in a
process of their own gives the same ids on every run, whatever else the test session
imported or created before (which would shift a shared generator).
"""

import random
import sys
import uuid
from pathlib import Path

rng = random.Random(20261130)
uuid.uuid4 = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)

from backends.mlflow.demo_seed import seed_demo  # noqa: E402
from console.config import default_registry_uri  # noqa: E402

home = Path(sys.argv[1])
seed_demo(default_registry_uri(home), home, progress=lambda _line: None)
