"""The demo graph with real MLflow models from the registry, deployed on the local runtime."""

from __future__ import annotations

import json
import time

import pytest

from console.config import default_registry_uri
from console.graph.demo_graph import write_demo_graph
from tests.local_runtime import mlconsole, stop_runtime

pytestmark = pytest.mark.timeout(180)


def test_demo_graph_serves_registry_models(seeded_home, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    registry = default_registry_uri(seeded_home)
    graph = write_demo_graph(seeded_home)
    try:
        started = time.monotonic()
        out = mlconsole(home, "--registry", registry, "deploy", str(graph), "--wait", timeout=150)
        assert out.returncode == 0, out.stdout + out.stderr
        print(f"\ndemo graph (MLflow models) deploy to Available: {time.monotonic() - started:.2f}s")
        out = mlconsole(home, "--registry", registry, "traffic", "credit-risk", "--rate", "20", "--duration", "1",
                        "--from-dataset", str(seeded_home / "data" / "credit-risk" / "eval.parquet"), "--json")
        assert out.returncode == 0, out.stderr
        stats = json.loads(out.stdout)
        assert stats["sent"] == 20 and stats["ok"] == 20, stats
        pods = json.loads(mlconsole(home, "get", "pods", "credit-risk", "--json").stdout)["pods"]
        assert [p["ready"] for p in pods] == [True, True]
    finally:
        stop_runtime(home)
