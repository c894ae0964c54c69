"""A graph server over a real registry model (the demo's, in the session's seeded sqlite registry)."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.serving_helpers import post, start_graph_server

MANIFEST = """
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: credit}
spec:
  predictors:
  - name: main
    graph: {name: classifier, type: MODEL, modelUri: "models:/credit-risk@champion"}
"""
NAMES = ["age", "income", "loan_amount", "loan_term_months", "credit_history_years", "debt_to_income",
         "num_open_accounts", "num_late_payments", "employment_type", "home_ownership", "loan_purpose", "region"]
ROW = [34, 29400.0, 13880.0, 12, 2.5, 0.269, 3, 2, "salaried", "rent", "education", "central"]


@pytest.fixture(scope="module")
def registry_server(seeded_home, tmp_path_factory):
    from console.config import default_registry_uri

    workdir = tmp_path_factory.mktemp("mlflow-graph-server")
    manifest = workdir / "credit.yaml"
    manifest.write_text(MANIFEST)
    uri = default_registry_uri(seeded_home)
    served = start_graph_server(manifest, "main", workdir, deployment="credit", registry=uri)
    try:
        yield served.wait(timeout=120), manifest, uri
    finally:
        served.stop()


def test_registry_model_serves_v1_and_v2_as_in_process(registry_server):
    served, manifest, uri = registry_server
    from backends.mlflow.model_loader import MlflowModelSource
    from console.graph.executor import GraphExecutor
    from console.graph.manifest_io import load_file

    request = {"data": {"names": NAMES, "ndarray": [ROW]}}
    expected = GraphExecutor(load_file(str(manifest)), MlflowModelSource(uri)).predict(request)
    with httpx.Client(timeout=30) as client:
        v1 = post(client, served.url + "/api/v1.0/predictions", request)
        assert v1.status_code == 200, v1.text
        assert v1.json()["data"] == expected["data"]
        # The same row as V2 columns, as MLServer's pandas codec sends a table.
        datatypes = {int: "INT64", float: "FP64", str: "BYTES"}
        inputs = [{"name": n, "shape": [1], "datatype": datatypes[type(v)], "data": [v]}
                  for n, v in zip(NAMES, ROW, strict=True)]
        v2 = post(client, served.url + "/v2/models/credit/infer", {"inputs": inputs})
        assert v2.status_code == 200, v2.text
        got = [o["data"][0] for o in v2.json()["outputs"]]
        np.testing.assert_allclose(got, expected["data"]["ndarray"][0])
        metadata = client.get(served.url + "/v2/models/credit").json()
        inputs_meta = {i["name"]: i["datatype"] for i in metadata["inputs"]}
        assert inputs_meta["age"] == "INT64" and inputs_meta["income"] == "FP64"
        assert inputs_meta["region"] == "BYTES" and "applicant_id" not in inputs_meta
        text = client.get(served.url + "/metrics").text
    assert ('model_image="models:/credit-risk"' in text and 'model_version="champion"' in text
            and 'model_name="classifier"' in text)
