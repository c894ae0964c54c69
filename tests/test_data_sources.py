"""Dataset specs beyond paths: registry-logged datasets, run artifacts (local and downloaded once),
and what the open dialog offers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from console.data.session import DataSession, Selection
from console.data.sources import SourceContext, candidates, open_spec
from console.errors import NotFound
from console.types import DatasetInput, ModelVersion, Page, RegisteredModel, RunInfo


class FakeRegistry:
    """The registry port's read calls that the sources use, over files in a folder."""

    def __init__(self, folder: Path, artifact_uri: str) -> None:
        self.folder = folder
        self.artifact_uri = artifact_uri
        self.downloads = 0

    def list_models(self, filter_text: str = "", page_token=None, max_results: int = 100):
        return Page([RegisteredModel("credit-risk")])

    def list_versions(self, name: str):
        return [ModelVersion(name, "2", run_id="r2"), ModelVersion(name, "1", run_id="r1")]

    def get_version(self, name: str, ref: str):
        return ModelVersion(name, "2" if ref in ("2", "champion", "@champion") else ref, run_id="r2")

    def get_run(self, run_id: str):
        return RunInfo(run_id, artifact_uri=self.artifact_uri, datasets=[
            DatasetInput("credit-eval", source=str(self.folder / "eval.parquet"), context="evaluation"),
            DatasetInput("credit-train", source=f"file://{self.folder / 'train.parquet'}", context="training"),
            DatasetInput("remote", source="s3://bucket/x.parquet", context="test"),
        ])

    def download_artifacts(self, run_id: str, path: str, dst: str) -> str:
        self.downloads += 1
        target = Path(dst) / Path(path).name
        pd.DataFrame({"score": [0.1, 0.9]}).to_parquet(target)
        return str(target)


@pytest.fixture
def folder(tmp_path):
    pd.DataFrame({"a": range(10)}).to_parquet(tmp_path / "train.parquet")
    pd.DataFrame({"a": range(4)}).to_parquet(tmp_path / "eval.parquet")
    (tmp_path / "artifacts").mkdir()
    pd.DataFrame({"a": range(3)}).to_csv(tmp_path / "artifacts" / "scored.csv", index=False)
    return tmp_path


def test_logged_datasets_training_first_or_by_name(folder):
    session = DataSession()
    context = SourceContext(folder, FakeRegistry(folder, str(folder / "artifacts")))
    train = open_spec(session, "dataset:credit-risk/champion", context)
    assert train.name == "train" and session.count(Selection(train.name)) == 10
    assert "credit-train (training), logged by credit-risk v2's run" in train.description
    evaluation = open_spec(session, "dataset:credit-risk/2/credit-eval", context)
    assert session.count(Selection(evaluation.name)) == 4
    with pytest.raises(NotFound, match="s3://bucket/x.parquet is not a local file"):
        open_spec(session, "dataset:credit-risk/2/remote", context)
    with pytest.raises(NotFound, match="no such logged dataset .*credit-train"):
        open_spec(session, "dataset:credit-risk/2/nope", context)


def test_run_artifacts_read_in_place_or_downloaded_once_to_the_cache(folder, tmp_path):
    session = DataSession()
    local = SourceContext(folder, FakeRegistry(folder, f"file://{folder / 'artifacts'}"))
    scored = open_spec(session, "runs:/r2/scored.csv", local)
    assert session.count(Selection(scored.name)) == 3
    with pytest.raises(NotFound, match="the run has no artifact missing.csv"):
        open_spec(session, "runs:/r2/missing.csv", local)
    remote_registry = FakeRegistry(folder, "mlflow-artifacts:/0/r2/artifacts")
    remote = SourceContext(tmp_path / "home", remote_registry)
    for _ in range(2):
        dataset = open_spec(session, "runs:/r2/preds.parquet", remote)
        assert session.page(Selection(dataset.name), 0) == [(0.1,), (0.9,)]
    assert remote_registry.downloads == 1
    assert (tmp_path / "home" / "cache" / "artifacts" / "r2" / "preds.parquet").exists()


def test_the_open_dialog_offers_request_logs_registry_datasets_and_files(folder):
    logs = folder / "runtime" / "requests" / "credit-risk"
    logs.mkdir(parents=True)
    pd.DataFrame({"ts": [1]}).to_parquet(logs / "requests-20261130T070000Z-1.parquet")
    (folder / ".hidden").mkdir()
    pd.DataFrame({"a": [1]}).to_parquet(folder / ".hidden" / "no.parquet")
    offered = candidates(SourceContext(folder, FakeRegistry(folder, "")), [folder])
    specs = [c.spec for c in offered]
    assert specs[0] == "requests:credit-risk"
    assert "dataset:credit-risk/2/credit-train" in specs and "dataset:credit-risk/1/credit-eval" in specs
    assert str(folder / "train.parquet") in specs and str(folder / "artifacts" / "scored.csv") in specs
    assert not any(".hidden" in s for s in specs)
