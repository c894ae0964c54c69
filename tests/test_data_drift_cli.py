"""`mlconsole data drift`: exit codes (0 no drift, 1 drift, 2 bad input), the table, JSON, messages."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.cli import main
from tests.conftest import subprocess_env

REPO = Path(__file__).resolve().parents[1]


def frame(n: int, seed: int, shift: float = 0.0, mix=(0.5, 0.3, 0.2)) -> pa.Table:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10 + shift, 0.4, n)
    income[rng.random(n) < 0.03] = np.nan
    return pa.table({
        "age": rng.integers(18, 75, n),
        "income": income,
        "region": rng.choice(["north", "south", "east"], n, p=list(mix)),
    })


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    out = {}
    for name, table in (("train", frame(4_000, 1)), ("same", frame(1_500, 2)),
                        ("shifted", frame(1_500, 3, shift=0.6, mix=(0.2, 0.3, 0.5)))):
        out[name] = tmp_path / f"{name}.parquet"
        pq.write_table(table, out[name])
    same = frame(1_500, 2).to_pandas()
    out["csv"] = tmp_path / "same.csv"
    same.to_csv(out["csv"], index=False)
    out["jsonl"] = tmp_path / "same.jsonl"
    same.to_json(out["jsonl"], orient="records", lines=True)
    return out


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_no_drift_exits_0_with_a_sorted_table(capsys, files, home):
    code, out, err = run(capsys, "--home", str(home), "data", "drift", str(files["train"]), str(files["same"]))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["FEATURE", "KIND", "PSI", "KS", "P-VALUE", "WASSERSTEIN/CHI2", "DRIFTED", "NOTE"]
    assert {line.split()[0] for line in lines[1:]} == {"age", "income", "region"}
    psis = [float(line.split()[2]) for line in lines[1:]]
    assert psis == sorted(psis, reverse=True)
    assert all(line.split()[6] == "no" for line in lines[1:])
    assert "no drift in 3 compared features" in err and "4,000 rows of" in err


def test_drift_exits_1_and_says_which(capsys, files, home):
    code, out, err = run(capsys, "--home", str(home), "data", "drift", str(files["train"]), str(files["shifted"]))
    assert code == 1
    drifted = {line.split()[0] for line in out.splitlines()[1:] if line.split()[6] == "yes"}
    assert drifted == {"income", "region"}
    assert "2 of 3 compared features drifted" in err


def test_json_output(capsys, files, home):
    code, out, _ = run(capsys, "--home", str(home), "data", "drift", str(files["train"]), str(files["shifted"]),
                       "--json", "--features", "income,age")
    assert code == 1
    data = json.loads(out)
    assert data["drifted"] == ["income"]
    assert [f["feature"] for f in data["features"]] == ["income", "age"]
    income = data["features"][0]
    assert income["kind"] == "numeric" and income["drifted"] and income["psi"] > 0.2
    assert income["missing_reference"] > 0 and income["chi2"] is None
    assert data["reference"]["rows"] == 4_000 and data["current"]["source"] == str(files["shifted"])
    assert data["thresholds"]["psi"] == 0.2 and data["thresholds"]["p_value"] == 0.01


def test_thresholds_from_flags(capsys, files, home):
    code, _, _ = run(capsys, "--home", str(home), "data", "drift", str(files["train"]), str(files["shifted"]),
                     "--psi-threshold", "100", "--p-value-threshold", "0")
    assert code == 0
    code, out, _ = run(capsys, "--home", str(home), "data", "drift", str(files["train"]), str(files["same"]),
                       "--psi-threshold", "0.0001", "--json")
    assert code == 1 and json.loads(out)["drifted"]


def test_csv_jsonl_and_globs(capsys, files, home):
    for current in (files["csv"], files["jsonl"]):
        code, out, err = run(capsys, "--home", str(home), "data", "drift", str(files["train"]), str(current),
                             "--json")
        assert code == 0, err
        assert json.loads(out)["current"]["rows"] == 1_500
    pattern = str(files["train"].parent / "s*.parquet")  # same + shifted
    code, out, _ = run(capsys, "--home", str(home), "data", "drift", str(files["train"]), pattern, "--json")
    assert json.loads(out)["current"]["rows"] == 3_000


@pytest.mark.parametrize("case, message", [
    ("missing", "missing.parquet: no such file"),
    ("empty", "empty.parquet: empty file (0 bytes)"),
    ("corrupt", "corrupt.parquet: not a valid Parquet file"),
    ("norows", "norows.parquet: no rows"),
    ("glob", "nothing-*.parquet: no file matches"),
    ("unknown", "data.xlsx: unknown file type"),
])
def test_bad_input_exits_2_with_one_line_naming_the_file(capsys, files, home, tmp_path, case, message):
    paths = {"missing": tmp_path / "missing.parquet", "empty": tmp_path / "empty.parquet",
             "corrupt": tmp_path / "corrupt.parquet", "norows": tmp_path / "norows.parquet",
             "glob": tmp_path / "nothing-*.parquet", "unknown": tmp_path / "data.xlsx"}
    (tmp_path / "empty.parquet").write_bytes(b"")
    (tmp_path / "corrupt.parquet").write_bytes(b"PAR1" + b"\x00" * 64)
    pq.write_table(pa.table({"age": pa.array([], pa.int64())}), tmp_path / "norows.parquet")
    (tmp_path / "data.xlsx").write_bytes(b"PK")
    code, out, err = run(capsys, "--home", str(home), "data", "drift", str(files["train"]), str(paths[case]))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert message in err and err.startswith("mlconsole: data drift: ")


def test_bad_features_exit_2(capsys, files, home):
    code, _, err = run(capsys, "--home", str(home), "data", "drift", str(files["train"]), str(files["same"]),
                       "--features", "age,nope")
    assert code == 2 and "no column 'nope' in either sample" in err
    code, _, err = run(capsys, "--home", str(home), "data", "drift", str(files["train"]), str(files["same"]),
                       "--features", " , ")
    assert code == 2 and "--features" in err


def test_columns_on_one_side_are_listed_and_do_not_fail(capsys, tmp_path, files, home):
    extra = frame(1_000, 4).append_column("label", pa.array(np.zeros(1_000)))
    pq.write_table(extra, tmp_path / "labelled.parquet")
    code, out, _ = run(capsys, "--home", str(home), "data", "drift", str(tmp_path / "labelled.parquet"),
                       str(files["same"]))
    assert code == 0
    assert "label" in out and "only in the reference: not compared" in out


# -- the request log as a side --------------------------------------------------------------------------


def write_requests(home: Path, table: pa.Table, *, age: float = 60.0, bad: int = 0) -> None:
    from backends.local.serving.request_log import RequestLog, requests_dir

    log = RequestLog(requests_dir(home, "credit"), "credit")
    names = table.column_names
    now = time.time()
    for i, row in enumerate(table.to_pylist()):
        values = [None if isinstance(v, float) and np.isnan(v) else v for v in row.values()]
        body = json.dumps({"data": {"names": names, "ndarray": [values]}})
        log.record(f"r{i}", "main", False, 200, 2.0, body, json.dumps({"data": {"ndarray": [[0.3]]}}),
                   "/api/v1.0/predictions", ts=now - age)
    for i in range(bad):
        log.record(f"bad{i}", "main", False, 400, 1.0, b'{"data": {"ndarray": [[1,', b"{}", "/x", ts=now - age)
    log.flush()


def test_requests_source(capsys, files, home):
    write_requests(home, frame(800, 5, shift=0.6, mix=(0.2, 0.3, 0.5)), bad=3)
    code, out, err = run(capsys, "--home", str(home), "data", "drift", str(files["train"]), "requests:credit@1h")
    assert code == 1, err
    assert "800 rows from 803 requests of requests:credit@1h" in err
    assert "3 malformed request(s) skipped: 3 not JSON (or cut short)" in err
    assert "prediction" in out and "only in the current" in out
    code, out, err = run(capsys, "--home", str(home), "data", "drift", "requests:credit",
                         "requests:credit@30s", "--json")
    assert code == 2 and "requests:credit@30s: no requests logged since 30s" in err


def test_requests_source_matches_the_file_it_came_from(capsys, files, home):
    write_requests(home, frame(1_500, 2))
    code, out, err = run(capsys, "--home", str(home), "data", "drift", str(files["same"]), "requests:credit",
                         "--json", "--features", "age,income,region")
    assert code == 0, err
    data = json.loads(out)
    for feature in data["features"]:
        assert feature["psi"] == pytest.approx(0.0, abs=1e-9), feature


def test_bad_requests_sources_exit_2(capsys, files, home):
    for spec, message in (("requests:nowhere", "requests:nowhere: no request log at"),
                          ("requests:", "name a deployment"),
                          ("requests:credit@yesterday", "neither a duration")):
        code, _, err = run(capsys, "--home", str(home), "data", "drift", str(files["train"]), spec)
        assert code == 2 and message in err, err


def test_training_source_uses_the_deployments_logged_dataset(capsys, monkeypatch, files, home):
    import console.wiring
    from console.types import DatasetInput, ModelVersion, RunInfo

    manifest = ("apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata: {name: credit}\n"
                "spec:\n  predictors:\n  - name: main\n    graph: {name: m, modelUri: 'models:/credit@prod'}\n")

    class Cluster:
        def get_deployment(self, name):
            from types import SimpleNamespace

            return SimpleNamespace(manifest=manifest)

    class Registry:
        def get_version(self, name, ref):
            return ModelVersion(name=name, version="2", run_id="r")

        def get_run(self, run_id):
            return RunInfo(run_id=run_id, datasets=[
                DatasetInput(name="credit-train", source=str(files["train"]), source_type="local",
                             context="training")])

    monkeypatch.setattr(console.wiring, "make_cluster", lambda settings: Cluster())
    monkeypatch.setattr(console.wiring, "make_registry", lambda settings: Registry())
    code, out, err = run(capsys, "--home", str(home), "data", "drift", "training:credit", str(files["same"]),
                         "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["reference"]["dataset"] == "credit-train" and data["reference"]["rows"] == 4_000


def test_data_needs_a_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["data"])
    assert exc.value.code == 2


def test_as_a_process_exit_codes_and_no_traceback(files, home, tmp_path):
    def mlconsole(*argv):
        return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), *argv], cwd=REPO,
                              env=subprocess_env(), capture_output=True, text=True, timeout=120)

    assert mlconsole("data", "drift", str(files["train"]), str(files["same"])).returncode == 0
    assert mlconsole("data", "drift", str(files["train"]), str(files["shifted"])).returncode == 1
    bad = mlconsole("data", "drift", str(files["train"]), str(tmp_path / "nope.parquet"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == f"mlconsole: data drift: {tmp_path / 'nope.parquet'}: no such file"
