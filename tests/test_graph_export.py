"""Export: SeldonDeployments that Seldon's CRD schema accepts, and KServe objects with notes."""

from pathlib import Path

import jsonschema
import pytest
import yaml

from console.graph.export import seldon_notes, to_kserve, to_seldon
from console.graph.manifest_io import dump_documents, load_file, load_manifest
from console.graph.spec import Deployment, Node, Parameter, Predictor
from console.graph.validate import has_errors, validate

REPO = Path(__file__).resolve().parents[1]
from tests.seldon_fixtures import SELDON, unknown_fields  # noqa: E402

EXAMPLES = sorted((SELDON / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def crd_schema() -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load((SELDON / "crd" / "machinelearning.seldon.io_seldondeployments.yaml").read_text(), Loader=loader)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def assert_valid_for_seldon(manifest: dict, schema: dict) -> None:
    jsonschema.validate(manifest, schema, cls=jsonschema.Draft7Validator)
    spec_schema = schema["properties"]["spec"]
    assert unknown_fields(manifest["spec"], spec_schema, "spec") == []
    assert manifest["apiVersion"] == "machinelearning.seldon.io/v1" and manifest["kind"] == "SeldonDeployment"


def demo_graph() -> Deployment:
    """The demo's shape: transformer -> enrichment -> A/B router over two models -> output, plus outliers."""
    ab = Node(name="ab-test", implementation="RANDOM_ABTEST", parameters=[Parameter("ratioA", "0.8", "FLOAT")],
              children=[Node(name="champion", model_uri="models:/credit-risk@champion"),
                        Node(name="challenger", model_uri="models:/credit-risk@challenger")])
    outliers = Node(name="outliers", implementation="MLCONSOLE_OUTLIER_DETECTOR",
                    parameters=[Parameter("reference", "data/credit-risk/train.parquet")], children=[ab])
    enrich = Node(name="enrich", implementation="MLCONSOLE_ENRICHMENT",
                  parameters=[Parameter("table", "data/customers.parquet"), Parameter("key", "applicant_id")],
                  children=[outliers])
    prep = Node(name="prep", implementation="MLCONSOLE_FEATURE_TRANSFORMER",
                parameters=[Parameter("columns", '["income", "age"]', "JSON")], children=[enrich])
    out = Node(name="decide", type="OUTPUT_TRANSFORMER", implementation="gv_components.post:Decision",
               children=[prep])
    return Deployment(name="credit-demo", namespace="ml", predictors=[Predictor(name="main", graph=out)])


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_seldon_example_exports_valid_for_the_crd(path, crd_schema):
    dep = load_file(path)
    manifest = to_seldon(dep)
    assert_valid_for_seldon(manifest, crd_schema)
    again = load_manifest(dump_documents([manifest]))
    assert not has_errors(validate(again))


def test_builtins_keep_their_implementation_and_get_an_explicit_type(crd_schema):
    manifest = to_seldon(demo_graph())
    assert_valid_for_seldon(manifest, crd_schema)
    graph = manifest["spec"]["predictors"][0]["graph"]
    prep = graph["children"][0]
    enrich = prep["children"][0]
    outliers = enrich["children"][0]
    ab = outliers["children"][0]
    assert (prep["implementation"], prep["type"]) == ("MLCONSOLE_FEATURE_TRANSFORMER", "TRANSFORMER")
    assert (enrich["implementation"], enrich["type"]) == ("MLCONSOLE_ENRICHMENT", "TRANSFORMER")
    assert (outliers["implementation"], outliers["type"]) == ("MLCONSOLE_OUTLIER_DETECTOR", "TRANSFORMER")
    assert ab["implementation"] == "RANDOM_ABTEST" and "type" not in ab  # Seldon's own: left as Seldon writes it
    assert ab["parameters"] == [{"name": "ratioA", "value": "0.8", "type": "FLOAT"}]
    champion = ab["children"][0]
    assert champion == {"name": "champion", "implementation": "MLFLOW_SERVER",
                        "modelUri": "models:/credit-risk@champion"}
    # what the manifest still needs on a cluster is said, not hidden
    notes = " ".join(seldon_notes(demo_graph()))
    assert "MLCONSOLE_ENRICHMENT" in notes and "gv_components.post:Decision" in notes
    assert "models:/credit-risk@champion" in notes


def test_export_reimports_as_the_same_graph():
    dep = demo_graph()
    again = load_manifest(dump_documents([to_seldon(dep)]))
    before = [(n.name, n.resolved_type, n.implementation or "MLFLOW_SERVER") for _, n in dep.nodes()]
    after = [(n.name, n.resolved_type, n.implementation) for _, n in again.nodes()]
    assert before == after


def test_server_fields_are_dropped_and_versions_upgraded(crd_schema):
    text = (SELDON / "examples" / "models_sklearn_iris_sklearn_iris_deployment.yaml").read_text()
    data = yaml.safe_load(text)
    data["metadata"].update(uid="1234", resourceVersion="99", generation=3, creationTimestamp="2026-01-01T00:00:00Z",
                            annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"})
    data["status"] = {"state": "Available"}
    manifest = to_seldon(load_manifest(yaml.safe_dump(data)))
    assert data["apiVersion"] == "machinelearning.seldon.io/v1alpha2"
    assert_valid_for_seldon(manifest, crd_schema)
    assert "status" not in manifest and set(manifest["metadata"]) == {"name"}


def test_parameters_are_made_crd_valid(crd_schema):
    dep = load_manifest("""
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: p}
spec:
  predictors:
  - name: main
    graph:
      name: ab
      implementation: RANDOM_ABTEST
      parameters:
      - {name: ratioA, value: 0.5}
      children:
      - {name: a, modelUri: 'models:/a/1'}
      - {name: b, modelUri: 'models:/a/2'}
""")
    manifest = to_seldon(dep)
    assert_valid_for_seldon(manifest, crd_schema)
    assert manifest["spec"]["predictors"][0]["graph"]["parameters"] == [
        {"name": "ratioA", "value": "0.5", "type": "STRING"}]


# -- KServe -----------------------------------------------------------------------------------


def kinds(docs):
    return [d["kind"] for d in docs]


def test_kserve_chain_becomes_a_sequence():
    dep = load_file(SELDON / "examples" / "graph_examples_tin-model-tout.yaml")
    docs, notes = to_kserve(dep)
    assert kinds(docs) == ["InferenceService"] * 3 + ["InferenceGraph"]
    graph = docs[-1]
    assert graph["apiVersion"] == "serving.kserve.io/v1alpha1" and graph["metadata"]["name"] == "test"
    root = graph["spec"]["nodes"]["root"]
    # Seldon: input transformer, model, then the output transformer on the way back
    assert root["routerType"] == "Sequence"
    assert [s["serviceName"] for s in root["steps"]] == ["test-input-transformer", "test-model",
                                                         "test-output-transformer"]
    assert [s.get("data") for s in root["steps"]] == [None, "$response", "$response"]
    assert all(d["spec"]["predictor"]["containers"][0]["name"] == "kserve-container" for d in docs[:3])
    assert any("Seldon's protocol" in n for n in notes)


def test_kserve_ab_test_becomes_a_splitter_with_ratio_weights():
    docs, notes = to_kserve(demo_graph())
    graph = docs[-1]["spec"]["nodes"]
    splitters = [n for n in graph.values() if n["routerType"] == "Splitter"]
    assert len(splitters) == 1
    assert [(s["name"], s["weight"]) for s in splitters[0]["steps"]] == [("champion", 80), ("challenger", 20)]
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "InferenceService"}
    champion = services["credit-demo-champion"]
    assert champion["metadata"]["namespace"] == "ml"
    assert champion["spec"]["predictor"]["model"] == {
        "modelFormat": {"name": "mlflow"}, "protocolVersion": "v2", "storageUri": "models:/credit-risk@champion"}
    text = " ".join(notes)
    for words in ("MLCONSOLE_ENRICHMENT", "MLCONSOLE_OUTLIER_DETECTOR", "MLCONSOLE_FEATURE_TRANSFORMER",
                  "gv_components.post:Decision", "models:/...", "which you must provide"):
        assert words in text, words
    # the output transformer is last, after the router
    root = graph["root"]
    assert root["routerType"] == "Sequence" and root["steps"][-1]["serviceName"] == "credit-demo-decide"


def test_kserve_combiner_becomes_an_ensemble_and_says_what_is_lost():
    dep = load_file(SELDON / "examples" / "graph_examples_combiner.yaml")
    docs, notes = to_kserve(dep)
    root = docs[-1]["spec"]["nodes"]["root"]
    assert root["routerType"] == "Ensemble" and [s["name"] for s in root["steps"]] == ["model-1", "model-2"]
    assert any(n.startswith("Combiner 'combiner' maps to an Ensemble") for n in notes)


def test_kserve_predictors_split_traffic_and_shadows_are_noted():
    dep = load_manifest("""
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: iris}
spec:
  predictors:
  - {name: main, traffic: 75, graph: {name: clf, implementation: SKLEARN_SERVER, modelUri: 'gs://m/a'}}
  - {name: canary, traffic: 25, graph: {name: clf, implementation: XGBOOST_SERVER, modelUri: 'gs://m/b'}}
  - {name: mirror, shadow: true, graph: {name: clf, implementation: SKLEARN_SERVER, modelUri: 'gs://m/c'}}
""")
    docs, notes = to_kserve(dep)
    nodes = docs[-1]["spec"]["nodes"]
    assert nodes["root"]["routerType"] == "Splitter"
    assert [(s["nodeName"], s["weight"]) for s in nodes["root"]["steps"]] == [("main", 75), ("canary", 25)]
    formats = {d["metadata"]["name"]: d["spec"]["predictor"]["model"]["modelFormat"]["name"] for d in docs[:-1]}
    assert formats == {"iris-main-clf": "sklearn", "iris-canary-clf": "xgboost"}
    assert notes == ["Shadow predictor 'mirror' is left out: an InferenceGraph cannot mirror traffic."]


def test_kserve_routers_with_conditions_become_a_switch_and_bandits_are_approximated():
    switch = Node(name="by-channel", type="ROUTER", implementation="gv.routers:ByChannel",
                  parameters=[Parameter("conditions", '["channel == \\"web\\"", "channel == \\"store\\""]', "JSON")],
                  children=[Node(name="web", model_uri="models:/a/1"), Node(name="store", model_uri="models:/a/2")])
    bandit = Node(name="bandit", implementation="MLCONSOLE_EPSILON_GREEDY",
                  children=[Node(name=f"m{i}", model_uri=f"models:/a/{i}") for i in (1, 2, 3)])
    for graph, router_type in ((switch, "Switch"), (bandit, "Splitter")):
        docs, notes = to_kserve(Deployment(name="r", predictors=[Predictor(name="p", graph=graph)]))
        root = docs[-1]["spec"]["nodes"]["root"]
        assert root["routerType"] == router_type
        if router_type == "Switch":
            assert [s["condition"] for s in root["steps"]] == ['channel == "web"', 'channel == "store"']
            assert not any("Router" in n for n in notes)
        else:
            assert [s["weight"] for s in root["steps"]] == [34, 33, 33]
            assert any("equal weights" in n and "MLCONSOLE_EPSILON_GREEDY" in n for n in notes)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_kserve_export_of_every_example_is_well_formed(path):
    docs, notes = to_kserve(load_file(path))
    assert kinds(docs)[-1] == "InferenceGraph" and set(kinds(docs)[:-1]) <= {"InferenceService"}
    nodes = docs[-1]["spec"]["nodes"]
    assert "root" in nodes
    services = {d["metadata"]["name"] for d in docs[:-1]}
    for node in nodes.values():
        assert node["routerType"] in ("Sequence", "Switch", "Ensemble", "Splitter")
        for step in node["steps"]:
            targets = [k for k in ("serviceName", "nodeName", "serviceUrl") if k in step]
            assert len(targets) == 1
            assert step.get("nodeName", "root") in nodes
            assert step.get("serviceName", next(iter(services), "")) in services
        names = [s["name"] for s in node["steps"]]
        assert len(names) == len(set(names))
    assert yaml.safe_load_all(dump_documents(docs))
    assert all(isinstance(n, str) and n.endswith(".") for n in notes)
