"""A request to try a graph with: rows of its first model's logged dataset, else the model's
input example, else an empty template to fill in.

Rows of the logged dataset carry every column the data had (ids and raw fields a front
transformer or enrichment needs), which a model's input example — already the model's own
features — lacks; so the dataset comes first.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from console.errors import ConsoleError
from console.graph.spec import Deployment
from console.graph.validate import parse_model_uri

TEMPLATE = {"data": {"names": ["feature_a", "feature_b"], "ndarray": [[0.0, 0.0]]}}
CONTEXT_ORDER = ("evaluation", "eval", "validation", "test", "training", "train")


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null (JSON has no spelling for them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def read_rows(path: Path, rows: int) -> dict[str, Any]:
    """The first rows of a Parquet or CSV file as a Seldon v1 message (never the whole file)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as handle:
            table = next(handle.iter_batches(batch_size=rows))
    else:
        import pyarrow.csv as pacsv

        with pacsv.open_csv(path) as reader:
            table = reader.read_next_batch()
    records = table.slice(0, rows).to_pylist()
    names = list(table.schema.names)
    return {"data": {"names": names, "ndarray": [[_clean(r[n]) for n in names] for r in records]}}


def from_input_example(text: str) -> dict[str, Any] | None:
    """MLflow's stored input example (pandas split orient, records, or a plain array)."""
    try:
        example = json.loads(text)
    except (TypeError, ValueError):
        return None
    if isinstance(example, dict) and isinstance(example.get("columns"), list) and "data" in example:
        return {"data": {"names": example["columns"], "ndarray": example["data"]}}
    if isinstance(example, list) and example and all(isinstance(r, dict) for r in example):
        names = list(example[0])
        return {"data": {"names": names, "ndarray": [[_clean(r.get(n)) for n in names] for r in example]}}
    if isinstance(example, list):
        return {"data": {"ndarray": example}}
    return None


def model_uris(dep: Deployment) -> list[str]:
    """The registry model URIs of the graph, in the order requests reach them."""
    return [node.model_uri for _, node in dep.nodes()
            if isinstance(node.model_uri, str) and node.model_uri.startswith("models:/")]


def sample_request(dep: Deployment, registry: Any, rows: int = 3) -> tuple[dict[str, Any], str]:
    """(request, where it came from). Never raises: the template is the last resort."""
    reasons: list[str] = []
    for uri in model_uris(dep):
        parsed = parse_model_uri(uri)
        if parsed is None or registry is None:
            continue
        name, ref = parsed
        try:
            version = registry.get_version(name, ref)
            run = registry.get_run(version.run_id) if version.run_id else None
            datasets = list(getattr(run, "datasets", []) or [])
            datasets.sort(key=lambda d: CONTEXT_ORDER.index(d.context) if d.context in CONTEXT_ORDER else 99)
            for dataset in datasets:
                path = Path(dataset.source.removeprefix("file://")) if dataset.source else None
                if dataset.source_type == "local" and path is not None and path.is_file():
                    try:
                        return read_rows(path, rows), f"{rows} rows of {dataset.name} ({path.name}), logged by " \
                                                      f"{name} v{version.version}'s run"
                    except Exception as exc:  # a damaged file: say so and try the next source
                        reasons.append(f"{path.name}: {exc}")
            signature = registry.get_signature(name, version.version)
            example = from_input_example(signature.input_example) if signature else None
            if example is not None:
                return example, f"the input example of {name} v{version.version}"
        except ConsoleError as exc:
            reasons.append(str(exc))
    why = f" ({'; '.join(reasons)})" if reasons else ""
    return json.loads(json.dumps(TEMPLATE)), f"a template: no logged dataset or input example found{why}"
