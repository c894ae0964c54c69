"""In-process graph executor benchmark: per-node overhead of a 5-node graph against calling
the same model directly in a loop, one row per request. Prints microseconds; asserts nothing.

Goal (issue 4): under 0.2 ms of overhead per node.

The graph is the demo's shape: output transformer -> feature transformer -> enrichment
(Parquet look-up) -> outlier detector (z-score) -> model. The model is a trivial in-memory
one (a logistic of two columns), so its cost is small and measured on its own. Like an
MLflow model it takes a pandas DataFrame, which the direct loop must build too: building
that one-row frame costs more than the model itself, so both figures are shown.

Three measurements, interleaved over several rounds (medians; machines here are noisy):
- direct: build the model's one-row DataFrame and call the model;
- graph: GraphExecutor.predict on the Seldon v1 request for the same row;
- identity graphs: four pass-through nodes over an echo model, against the echo model alone,
  which isolates what the executor itself costs per node from what components' work costs.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from console.graph.executor import GraphExecutor  # noqa: E402
from console.graph.models import StaticModelSource  # noqa: E402
from console.graph.spec import deployment_from_dict  # noqa: E402

N = int(os.environ.get("BENCH_N", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
MODEL_COLUMNS = ["amount", "hour", "tenure_years"]
NAMES = ["customer_id", "amount", "hour", "channel"]
ROW = [4242, 120.0, 13.0, "web"]


def trivial_model(frame: pd.DataFrame) -> np.ndarray:
    """p = logistic(amount / 100 - tenure / 10): cheap, and it reads named columns."""
    z = frame["amount"].to_numpy(dtype=float) / 100.0 - frame["tenure_years"].to_numpy(dtype=float) / 10.0
    p = 1.0 / (1.0 + np.exp(-z))
    return np.column_stack([1.0 - p, p])


def write_tables(tmp: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    customers = tmp / "customers.parquet"
    n = 100_000
    pq.write_table(pa.table({"customer_id": np.arange(n), "segment": rng.choice(["gold", "silver"], n),
                             "tenure_years": rng.uniform(0, 20, n).round(1)}), customers)
    reference = tmp / "reference.parquet"
    pq.write_table(pa.table({"amount": rng.normal(100, 30, 5000), "hour": rng.normal(13, 4, 5000)}), reference)
    return customers, reference


def manifest(graph: str) -> object:
    body = "\n".join("      " + line for line in graph.strip("\n").splitlines())
    return deployment_from_dict(yaml.safe_load(
        "apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata: {name: bench}\n"
        f"spec:\n  predictors:\n  - name: p\n    graph:\n{body}\n"))


def five_node_graph(customers: Path, reference: Path) -> object:
    return manifest(f"""
name: output
type: OUTPUT_TRANSFORMER
implementation: MLCONSOLE_FEATURE_TRANSFORMER
parameters:
- {{name: rename, type: JSON, value: '{{"t:1": "p_fraud"}}'}}
- {{name: columns, type: JSON, value: '["p_fraud"]'}}
children:
- name: features
  type: TRANSFORMER
  implementation: MLCONSOLE_FEATURE_TRANSFORMER
  parameters:
  - {{name: one_hot, type: JSON, value: '{{"channel": ["web", "pos", "phone"]}}'}}
  children:
  - name: enrich
    type: TRANSFORMER
    implementation: MLCONSOLE_ENRICHMENT
    parameters:
    - {{name: table, value: '{customers}'}}
    - {{name: key, value: customer_id}}
    children:
    - name: outliers
      type: TRANSFORMER
      implementation: MLCONSOLE_OUTLIER_DETECTOR
      parameters:
      - {{name: reference, value: '{reference}'}}
      - {{name: features, type: JSON, value: '["amount", "hour"]'}}
      children:
      - name: model
        type: MODEL
        modelUri: models:/trivial/1
""")


def identity_graph(depth: int) -> object:
    """depth pass-through transformers over an echo model (depth 0: the model alone)."""
    text = "name: model\ntype: MODEL\nmodelUri: models:/echo/1\n"
    for i in range(depth):
        inner = "\n".join("  " + line for line in text.strip("\n").splitlines())
        text = f"name: pass{i}\ntype: TRANSFORMER\nimplementation: MLCONSOLE_FEATURE_TRANSFORMER\nchildren:\n-{inner[1:]}\n"
    return manifest(text)


def per_call(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    source = StaticModelSource({"models:/trivial/1": trivial_model, "models:/echo/1": lambda x: x},
                               {"models:/trivial/1": MODEL_COLUMNS})
    with tempfile.TemporaryDirectory() as tmp:
        customers, reference = write_tables(Path(tmp))
        graph = GraphExecutor(five_node_graph(customers, reference), source)
        bare = GraphExecutor(identity_graph(0), source)
        passes = GraphExecutor(identity_graph(4), source)
        request = {"data": {"names": NAMES, "ndarray": [ROW]}}
        tenure = graph.component("enrich").table.index[ROW[0]][1]
        model_row = [[ROW[1], ROW[2], tenure]]
        frame = pd.DataFrame(model_row, columns=MODEL_COLUMNS)
        # Without names the echo model gets a numpy array: no pandas noise in the executor-only figure.
        plain = {"data": {"ndarray": model_row}}

        def direct() -> None:
            trivial_model(pd.DataFrame(model_row, columns=MODEL_COLUMNS))

        check = graph.predict(request)["data"]["ndarray"][0][0]
        assert abs(check - trivial_model(frame)[0, 1]) < 1e-12, "the graph and the model disagree"
        for fn in (direct, lambda: graph.predict(request), lambda: bare.predict(plain),
                   lambda: passes.predict(plain)):
            per_call(fn, 200)  # warm caches and code paths

        rounds: dict[str, list[float]] = {k: [] for k in ("model", "direct", "graph", "bare", "passes")}
        for _ in range(ROUNDS):  # interleaved so noise hits every variant alike
            rounds["model"].append(per_call(lambda: trivial_model(frame), N))
            rounds["direct"].append(per_call(direct, N))
            rounds["graph"].append(per_call(lambda: graph.predict(request), N))
            rounds["bare"].append(per_call(lambda: bare.predict(plain), N))
            rounds["passes"].append(per_call(lambda: passes.predict(plain), N))
        med = {k: statistics.median(v) * 1e6 for k, v in rounds.items()}

        own: dict[str, list[float]] = {}
        for _ in range(N):
            for node in graph.run(request).nodes:
                own.setdefault(node.name, []).append(node.seconds * 1e6)

    overhead = (med["graph"] - med["direct"]) / 5
    executor_only = (med["passes"] - med["bare"]) / 4
    print(f"requests: {N} x {ROUNDS} rounds, one row each, medians of rounds")
    print(f"model alone, frame prebuilt         {med['model']:8.1f} us")
    print(f"direct: build frame + model         {med['direct']:8.1f} us   (the baseline)")
    print(f"graph, 5 nodes                      {med['graph']:8.1f} us   ({med['graph'] / med['direct']:.2f}x direct)")
    print(f"overhead per node vs direct         {overhead:8.1f} us   (goal < 200 us: "
          f"{'met' if overhead < 200 else 'MISSED'})")
    print(f"executor alone per pass-through node {executor_only:7.1f} us   (4 pass-through nodes + model vs the model alone)")
    print("own time per node (median, record=False):")
    for name, values in own.items():
        print(f"  {name:10s} {statistics.median(values):8.1f} us")


if __name__ == "__main__":
    main()
