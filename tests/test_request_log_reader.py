"""The request-log reader against files written by the gateway's own writer (RequestLog)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from backends.local.serving.request_log import RequestLog, requests_dir
from console.data.reference import ReferenceDataset, find_reference, find_reference_for, local_path
from console.data.request_log import (
    META_COLUMNS,
    expand,
    log_files,
    parse_since,
    read_requests,
    redact,
    request_rows,
    tail,
)
from console.errors import InvalidSpec, NotFound
from console.secrets import MASK
from console.types import DatasetInput, ModelVersion, RunInfo

NAMES = ["age", "income", "region"]
V1 = "/api/v1.0/predictions"
NOW = time.time()


def v1(rows, names=NAMES, **extra) -> str:
    return json.dumps({"data": {"names": names, "ndarray": rows}, **extra})


def answer(rows) -> str:
    return json.dumps({"data": {"names": ["t:0", "t:1"], "ndarray": rows}, "meta": {"puid": "x"}})


class Log:
    """Rows recorded through the real writer, one file per flush."""

    def __init__(self, home: Path, deployment: str = "credit") -> None:
        self.writer = RequestLog(requests_dir(home, deployment), deployment)
        self.n = 0

    def add(self, request: str | bytes, response: str | bytes = "", *, age: float = 10.0, predictor: str = "main",
            shadow: bool = False, code: int = 200, path: str = V1) -> None:
        self.n += 1
        self.writer.record(f"gw-{self.n}", predictor, shadow, code, 1.5, request, response, path, ts=NOW - age)

    def flush(self) -> None:
        assert self.writer.flush() > 0


@pytest.fixture
def log(home) -> Log:
    return Log(home)


def test_ndarray_rows_become_rows_with_predictions_newest_first(home, log):
    log.add(v1([[30, 1000.0, "n"], [40, 2000.0, "s"]]), answer([[0.9, 0.1], [0.2, 0.8]]), age=20)
    log.add(v1([[50, 3000.5, "e"]], meta={"puid": "p-50"}), answer([[0.5, 0.5]]), age=10)
    log.flush()
    sample = read_requests(home, "credit", now=NOW)
    assert sample.features == NAMES
    assert sample.predictions == ["prediction_t:0", "prediction_t:1"]
    assert sample.table.column_names == [*META_COLUMNS, *NAMES, *sample.predictions]
    rows = sample.table.to_pylist()
    assert [r["age"] for r in rows] == [50, 30, 40]  # newest request first, its rows in order
    assert [r["prediction_t:1"] for r in rows] == [0.5, 0.1, 0.8]
    assert rows[0]["id"] == "p-50" and rows[1]["id"] == "gw-1"  # the request's puid, else the gateway's id
    assert rows[0]["predictor"] == "main" and rows[0]["code"] == 200
    assert rows[1]["ts"] == rows[2]["ts"]
    assert sample.requests == 2 and sample.rows == 3 and sample.skipped == 0 and sample.files == 1
    assert str(sample.table.schema.field("income").type) == "double"


def test_every_payload_shape_expands(home, log):
    log.add(json.dumps({"data": {"names": ["a", "b"], "tensor": {"shape": [2, 2], "values": [1, 2, 3, 4]}}}),
            json.dumps({"data": {"names": [], "ndarray": [1, 0]}}), age=60)
    log.add(json.dumps({"jsonData": {"a": 5, "b": 6}}), age=50)
    log.add(json.dumps({"jsonData": {"a": [7, 8], "b": [9, 10]}}), age=40)
    log.add(json.dumps({"jsonData": [{"a": 11}, {"b": 12}]}), age=35)
    log.add(json.dumps({"inputs": [{"name": "a", "shape": [2], "datatype": "INT64", "data": [13, 14]},
                                   {"name": "b", "shape": [2, 1], "datatype": "INT64", "data": [[15], [16]]}]}),
            json.dumps({"model_name": "m", "outputs": [{"name": "predict", "shape": [2], "datatype": "INT64",
                                                        "data": [1, 1]}]}),
            path="/v2/models/m/infer", age=30)
    log.add(json.dumps({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [17.0, 18.0]}]}),
            path="/v2/models/m/infer", age=20)
    log.add(json.dumps({"data": {"ndarray": [19, 20]}}), json.dumps({"data": {"ndarray": [1]}}), age=10)
    log.flush()
    sample = read_requests(home, "credit", now=NOW)
    assert sample.skipped == 0, sample.skip_reasons
    rows = sample.table.to_pylist()  # newest request first, each request's rows in their order
    assert (rows[0]["f0"], rows[0]["f1"]) == (19.0, 20.0)  # no names: f0, f1, ...
    assert (rows[1]["f0"], rows[1]["f1"]) == (17.0, 18.0)
    pairs = [(r["a"], r["b"]) for r in rows[2:]]
    assert pairs == [(13, 15), (14, 16), (11, None), (None, 12), (7, 9), (8, 10), (5, 6), (1, 2), (3, 4)]
    assert sample.predictions == ["prediction"]
    assert [r["prediction"] for r in rows] == [1, None, 1, 1, None, None, None, None, None, 1, 0]
    named = read_requests(home, "credit", default_names=["left", "right"], now=NOW)
    assert {"left", "right"} <= set(named.features) and "f0" not in named.features


def test_malformed_payloads_are_skipped_and_counted(home, log):
    log.add(v1([[1, 2.0, "n"]]), age=90)
    log.add(b'{"data": {"names": ["age"], "ndarray": [[1,', age=80)  # bad JSON (the traffic generator's)
    log.add(v1([[1, 2.0, "n", 0]]), age=70)  # wrong shape
    log.add(json.dumps({"meta": {"tags": {"broken": True}}}), age=60)  # no data
    log.add(v1("not a matrix"), age=50)
    log.add(json.dumps({"strData": "hello"}), age=40)
    log.add("", age=30)
    log.add(json.dumps([1, 2, 3]), age=25)
    log.add(json.dumps({"data": {"names": ["a"], "tensor": {"shape": [1, 1, 1], "values": [1]}}}), age=20)
    log.add(v1([[2, 3.0, "s"]]), "not json either", age=10)
    log.flush()
    sample = read_requests(home, "credit", now=NOW)
    assert sample.requests == 10 and sample.skipped == 8 and sample.rows == 2
    assert sample.skip_reasons == {
        "not JSON (or cut short)": 1, "rows and names differ in length": 1, "no data": 1,
        "ndarray is not a list": 1, "strData or binData: not a table": 1, "empty request": 1,
        "not a JSON object": 1, "tensor of 3 dimensions": 1}
    assert sample.table.column("age").to_pylist() == [2, 1]
    assert sample.predictions == []


def test_mixed_types_become_text_and_nested_values_json(home, log):
    log.add(json.dumps({"jsonData": {"k": 1, "nested": {"a": [1]}}}), age=20)
    log.add(json.dumps({"jsonData": {"k": "one", "nested": {"b": 2}}}), age=10)
    log.flush()
    table = read_requests(home, "credit", now=NOW).table
    assert table.column("k").to_pylist() == ["one", "1"]
    assert table.column("nested").to_pylist() == ['{"b":2}', '{"a":[1]}']


def test_filters_by_time_predictor_shadow_and_code(home, log):
    for i in range(10):
        log.add(v1([[i, 0.0, "n"]]), age=3600 * 3 - i * 1000)  # 3 h ago up to 30 min ago
    log.add(v1([[100, 0.0, "n"]]), age=5, predictor="canary")
    log.add(v1([[200, 0.0, "n"]]), age=5, predictor="mirror", shadow=True)
    log.add(v1([[300, 0.0, "n"]]), age=4, code=500)
    log.flush()
    ages = lambda s: sorted(s.table.column("age").to_pylist())  # noqa: E731
    assert ages(read_requests(home, "credit", now=NOW)) == [*range(10), 100, 300]
    assert ages(read_requests(home, "credit", since=3600, now=NOW)) == [8, 9, 100, 300]
    assert ages(read_requests(home, "credit", since="1h", now=NOW)) == [8, 9, 100, 300]
    start = datetime.fromtimestamp(NOW, UTC) - timedelta(hours=2)
    assert ages(read_requests(home, "credit", since=start, until=3600, now=NOW)) == [4, 5, 6, 7]
    assert ages(read_requests(home, "credit", predictor="canary", now=NOW)) == [100]
    assert ages(read_requests(home, "credit", shadow=True, now=NOW)) == [200]
    assert ages(read_requests(home, "credit", shadow=None, now=NOW)) == [*range(10), 100, 200, 300]
    assert ages(read_requests(home, "credit", predictor="mirror", shadow=None, now=NOW)) == [200]
    assert 300 not in ages(read_requests(home, "credit", ok_only=True, now=NOW))


def test_limit_bounds_rows_newest_first_across_files(home, log):
    for f in range(5):
        for i in range(20):
            log.add(v1([[f * 100 + i, 0.0, "n"], [f * 100 + i, 1.0, "s"]]), age=1000 - (f * 20 + i))
        log.flush()
    assert len(log_files(home, "credit")) == 5
    sample = read_requests(home, "credit", limit=15, now=NOW)
    assert sample.rows == 15 and sample.truncated
    assert sample.table.column("age").to_pylist()[:3] == [419, 419, 418]
    whole = read_requests(home, "credit", now=NOW)
    assert whole.rows == 200 and not whole.truncated and whole.requests == 100
    canary = read_requests(home, "credit", predictor="main", limit=150, now=NOW)  # widens past the newest files
    assert canary.rows == 150


def test_an_empty_or_missing_log_is_an_empty_sample(home):
    sample = read_requests(home, "nothing-here")
    assert sample.rows == 0 and sample.files == 0 and sample.features == []
    assert set(META_COLUMNS) <= set(sample.table.column_names)
    assert tail(home, "nothing-here") == []
    with pytest.raises(InvalidSpec):
        read_requests(home, "../../etc")


def test_an_unreadable_file_is_left_out(home, log):
    log.add(v1([[1, 2.0, "n"]]))
    log.flush()
    directory = requests_dir(home, "credit")
    (directory / "requests-20990101T000000Z-000001.parquet").write_bytes(b"PAR1 garbage")
    sample = read_requests(home, "credit", now=NOW)
    assert sample.rows == 1 and sample.unreadable_files == ["requests-20990101T000000Z-000001.parquet"]
    assert [e.predictor for e in tail(home, "credit")] == ["main"]


def test_old_files_are_not_read_for_a_recent_window(home, log):
    log.add(v1([[1, 2.0, "n"]]), age=10)
    log.flush()
    directory = requests_dir(home, "credit")
    old = directory / "requests-20000101T000000Z-000001.parquet"
    old.write_bytes(b"not even parquet: never opened, being older than the window")
    sample = read_requests(home, "credit", since=60, now=NOW)
    assert sample.rows == 1 and sample.unreadable_files == []


def test_the_file_is_the_writer_schema(home, log):
    log.add(v1([[1, 2.0, "n"]]))
    log.flush()
    [path] = log_files(home, "credit")
    assert pq.read_schema(path).names == ["id", "ts", "deployment", "predictor", "shadow", "code", "latency_ms",
                                          "request", "response", "path"]
    assert read_requests(home, "credit").rows == 1  # the default `now` and window


# -- tail and redaction ----------------------------------------------------------------------------------


def test_tail_is_newest_first_and_masks_secrets(home, log):
    log.add(v1([[1, 2.0, "n"]], meta={"tags": {"api_key": "sk-live-123", "user": "ann"}}), answer([[0.1, 0.9]]),
            age=30)
    log.add(json.dumps({"jsonData": {"password": "hunter2", "db": "postgresql://bob:pw123@db:5432/x",
                                     "authorization": "Bearer abc.def"}}), age=20, code=400)
    log.add(v1([[3, 4.0, "s"]]), age=10, predictor="canary")
    log.flush()
    entries = tail(home, "credit", 2)
    assert [e.predictor for e in entries] == ["canary", "main"]
    assert entries[1].code == 400 and entries[1].path == V1 and entries[1].latency_ms == 1.5
    text = entries[1].request
    for secret in ("hunter2", "pw123", "abc.def"):
        assert secret not in text
    assert MASK in text and "bob" in text
    full = tail(home, "credit", 10)
    assert len(full) == 3 and "sk-live-123" not in full[2].request and '"user": "ann"' in full[2].request
    assert full[0].time == pytest.approx(NOW - 10, abs=1e-3)
    assert [e.predictor for e in tail(home, "credit", 5, predictor="main")] == ["main", "main"]


def test_redact_cuts_long_bodies_without_leaking_a_cut_secret():
    short = json.dumps({"data": {"ndarray": [[1] * 50]}, "meta": {"tags": {"token": "T" * 400}}})
    shown = redact(short, max_chars=short.index("TTTT") + 10)
    assert "TTTT" not in shown and '"token": "****"' in shown  # masked first: what is left fits
    huge = json.dumps({"meta": {"tags": {"token": "T" * 10_000}}, "data": {"ndarray": [[1] * 50]}})
    cut_at = huge.index("TTTT") + 10
    shown = redact(huge, max_chars=cut_at)
    assert "TTTT" not in shown and shown.endswith("…") and len(shown) <= cut_at + 1
    assert redact("") == "" and redact('{"a": 1}') == '{"a": 1}'
    assert "s3cr3t" not in redact('{"token": "s3cr3t"' + " " * 5000, max_chars=15)


# -- small helpers -----------------------------------------------------------------------------------


def test_parse_since():
    assert parse_since("90s") == 90 and parse_since("15m") == 900 and parse_since("1h") == 3600
    assert parse_since("2d") == 172800 and parse_since("45") == 45
    assert parse_since("2026-11-30T10:00:00") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert parse_since("2026-11-30T10:00:00+01:00").utcoffset() == timedelta(hours=1)
    with pytest.raises(InvalidSpec, match="neither a duration"):
        parse_since("yesterday")


def test_request_rows_and_expand_directly():
    assert request_rows({"data": {"names": ["a"], "ndarray": [[1], [2]]}}) == (["a"], [[1], [2]])
    with pytest.raises(ValueError, match="names repeat"):
        request_rows({"data": {"names": ["a", "a"], "ndarray": [[1, 2]]}})
    import pyarrow as pa

    log = pa.table({"ts": pa.array([1, 2], pa.timestamp("us", tz="UTC")), "id": ["a", "b"],
                    "request": [v1([[1, 2.0, "n"]] * 3), v1([[2, 3.0, "s"]] * 3)],
                    "response": [None, None]})
    sample = expand(log, limit=4)
    assert sample.rows == 4 and sample.truncated and sample.requests == 2
    assert sample.table.column("id").to_pylist() == ["a", "a", "a", "b"]


def test_a_feature_named_like_a_meta_column_is_renamed(home, log):
    log.add(json.dumps({"jsonData": {"id": "customer-7", "code": 3}}))
    log.flush()
    sample = read_requests(home, "credit", now=NOW)
    assert sample.features == ["id_1", "code_1"]
    assert sample.table.column("id_1").to_pylist() == ["customer-7"]


# -- the reference dataset ------------------------------------------------------------------------------


class FakeRegistry:
    def __init__(self, datasets: list[DatasetInput]) -> None:
        self.datasets = datasets

    def get_version(self, name: str, ref: str) -> ModelVersion:
        if name == "missing":
            raise NotFound(f"no model {name!r}")
        return ModelVersion(name=name, version="3", run_id="run-1")

    def get_run(self, run_id: str) -> RunInfo:
        return RunInfo(run_id=run_id, datasets=self.datasets)


MANIFEST = """\
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: credit}
spec:
  predictors:
  - name: main
    traffic: 100
    graph:
      name: first
      modelUri: models:/missing@champion
      children:
      - name: scorer
        modelUri: models:/credit-risk@champion
"""


def test_find_reference_prefers_the_training_dataset(tmp_path):
    from console.graph.manifest_io import load_manifest

    train, evaluation = tmp_path / "train.parquet", tmp_path / "eval.parquet"
    for path in (train, evaluation):
        path.write_bytes(b"PAR1")
    registry = FakeRegistry([
        DatasetInput(name="gone", source=str(tmp_path / "gone.parquet"), source_type="local", context="training"),
        DatasetInput(name="credit-eval", source=str(evaluation), source_type="local", context="evaluation"),
        DatasetInput(name="credit-train", source=f"file://{train}", source_type="local", context="training"),
    ])
    dep = load_manifest(MANIFEST)
    found = find_reference(dep, registry)
    assert isinstance(found, ReferenceDataset)
    assert (found.path, found.context, found.model, found.version, found.node) == (
        train, "training", "credit-risk", "3", "scorer")
    assert "credit-train (training) logged by credit-risk v3" in found.description

    class Cluster:
        def get_deployment(self, name):
            from types import SimpleNamespace

            return SimpleNamespace(manifest=MANIFEST)

    assert find_reference_for("credit", Cluster(), registry).path == train
    registry.datasets = [DatasetInput(name="remote", source="s3://bucket/train.parquet", context="training")]
    with pytest.raises(NotFound, match=r"remote: source s3://bucket/train.parquet is not a local file"):
        find_reference(dep, registry)
    registry.datasets = []
    with pytest.raises(NotFound, match="logged no dataset"):
        find_reference(dep, registry)
    assert local_path("file:///a%20b/c.parquet") == Path("/a b/c.parquet")
