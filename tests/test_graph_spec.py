"""Loading and dumping SeldonDeployment manifests: lossless round trips of Seldon's own examples,
edits that survive a dump, line numbers, and clear errors for what is not a SeldonDeployment."""

from pathlib import Path

import pytest
import yaml

from console.errors import InvalidSpec
from console.graph.manifest_io import dump_json, dump_yaml, load_file, load_manifest
from console.graph.spec import Deployment, Node, Parameter, Predictor, deployment_to_dict

REPO = Path(__file__).resolve().parents[1]
from tests.seldon_fixtures import SELDON  # noqa: E402

EXAMPLES = sorted((SELDON / "examples").glob("*.yaml"))


def seldon_document(path: Path) -> dict:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return next(d for d in docs if d.get("kind") == "SeldonDeployment")


def key_orders(value, out=None) -> list:
    """Every mapping's keys, in order, depth first: equal lists mean the same key order."""
    out = [] if out is None else out
    if isinstance(value, dict):
        out.append(list(value))
        for v in value.values():
            key_orders(v, out)
    elif isinstance(value, list):
        for v in value:
            key_orders(v, out)
    return out


def test_the_fixtures_are_there():
    assert len(EXAMPLES) >= 10, f"Seldon examples expected in {SELDON / 'examples'}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_fixture_round_trips_losslessly(path):
    original = seldon_document(path)
    dep = load_file(path)
    assert deployment_to_dict(dep) == original
    for text in (dump_yaml(dep), dump_json(dep)):
        again = load_manifest(text)
        assert again == dep
        assert deployment_to_dict(again) == original
        assert key_orders(deployment_to_dict(again)) == key_orders(original)
    assert key_orders(yaml.safe_load(dump_yaml(dep))) == key_orders(original)


def test_dump_is_block_style_in_source_order():
    dep = load_file(SELDON / "examples" / "graph_examples_combiner.yaml")
    text = dump_yaml(dep)
    assert "{" not in text and "[]" in text  # block style; the source's explicit `children: []` kept
    assert text.index("apiVersion") < text.index("kind") < text.index("metadata") < text.index("spec")
    # in this example `children` comes before `name` in every node, and stays there
    graph = text[text.index("graph:"):]
    assert graph.index("children:") < graph.index("name: combiner")


def test_edits_survive_a_dump_and_untouched_fields_stay():
    path = SELDON / "examples" / "nb_model_replicas.yaml"
    original = seldon_document(path)
    dep = load_file(path)
    main = dep.predictors[0]
    main.traffic = 70
    dep.predictors[1].traffic = 30
    main.graph.name = "classifier-a"
    main.graph.type = None  # cleared: the key goes
    child = main.graph.children[0]
    child.model_uri = "models:/credit-risk@champion"
    child.parameters.append(Parameter("threshold", "0.7", "FLOAT"))
    child.children.append(Node(name="extra", model_uri="models:/fraud-detector/1"))
    dep.annotations["mlconsole.io/owner"] = "ml-platform"
    again = deployment_to_dict(load_manifest(dump_yaml(dep)))
    p0 = again["spec"]["predictors"][0]
    assert p0["traffic"] == 70 and again["spec"]["predictors"][1]["traffic"] == 30
    assert p0["graph"]["name"] == "classifier-a" and "type" not in p0["graph"]
    edited = p0["graph"]["children"][0]
    assert edited["modelUri"] == "models:/credit-risk@champion"
    assert edited["parameters"] == [{"name": "threshold", "value": "0.7", "type": "FLOAT"}]
    assert edited["children"] == [{"name": "extra", "modelUri": "models:/fraud-detector/1"}]
    assert edited["endpoint"] == {"type": "REST"}  # untouched
    assert again["metadata"]["annotations"] == {"mlconsole.io/owner": "ml-platform"}
    assert p0["componentSpecs"] == original["spec"]["predictors"][0]["componentSpecs"]
    assert again["spec"]["replicas"] == 1  # a field mlconsole does not interpret
    assert list(p0)[:3] == list(original["spec"]["predictors"][0])[:3]


def test_a_graph_built_in_code_dumps_complete_seldon_fields():
    dep = Deployment(name="built", predictors=[Predictor(name="main", graph=Node(
        name="prep", type="TRANSFORMER", implementation="MLCONSOLE_FEATURE_TRANSFORMER",
        parameters=[Parameter("columns", '["a", "b"]', "JSON")],
        children=[Node(name="clf", model_uri="models:/credit-risk@champion")]))])
    data = deployment_to_dict(dep)
    assert data["apiVersion"] == "machinelearning.seldon.io/v1" and data["kind"] == "SeldonDeployment"
    graph = data["spec"]["predictors"][0]["graph"]
    assert graph["parameters"] == [{"name": "columns", "value": '["a", "b"]', "type": "JSON"}]
    assert graph["children"] == [{"name": "clf", "modelUri": "models:/credit-risk@champion"}]
    assert deployment_to_dict(load_manifest(dump_yaml(dep))) == data


def test_untyped_values_in_parameters_keep_their_spelling():
    text = """apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: p}
spec:
  predictors:
  - name: main
    graph:
      name: ab
      implementation: RANDOM_ABTEST
      parameters:
      - {type: FLOAT, value: 0.5, name: ratioA}
      - {name: flag, value: true}
      children: []
"""
    dep = load_manifest(text)
    assert dep.predictors[0].graph.param("ratioA") == 0.5
    assert deployment_to_dict(dep) == yaml.safe_load(text)
    assert key_orders(deployment_to_dict(dep)) == key_orders(yaml.safe_load(text))


def test_resolved_type_follows_seldon():
    assert Node(name="m").resolved_type == "MODEL"
    assert Node(name="r", implementation="RANDOM_ABTEST").resolved_type == "ROUTER"
    assert Node(name="e", implementation="MLCONSOLE_ENRICHMENT").resolved_type == "TRANSFORMER"
    assert Node(name="c", implementation="MLCONSOLE_COMBINER").resolved_type == "COMBINER"
    assert Node(name="s", implementation="SKLEARN_SERVER", type="MODEL").resolved_type == "MODEL"
    assert Node(name="x", type="OUTPUT_TRANSFORMER", implementation="MLCONSOLE_ENRICHMENT").resolved_type \
        == "OUTPUT_TRANSFORMER"


# -- line numbers ---------------------------------------------------------------------------


def test_lines_of_nodes_predictors_and_paths():
    dep = load_file(SELDON / "examples" / "graph_examples_tin-model-tout.yaml")
    assert dep.line == 1 and dep.predictors[0].line == 7
    assert [(n.name, n.line) for n in dep.predictors[0].graph.walk()] == [
        ("output-transformer", 17), ("input-transformer", 22), ("model", 27)]
    assert dep.lines["spec.predictors[0].graph.children[0].endpoint.type"] == 25
    assert dep.source.endswith("graph_examples_tin-model-tout.yaml")


def test_multi_document_file_picks_the_seldon_deployment():
    dep = load_file(SELDON / "examples" / "iter8_progressive_rollout_single_sdep_abtest.yaml")
    assert dep.name == "iris" and dep.namespace == "ns-production"
    assert dep.line == 6  # after the Namespace document
    assert [(p.name, p.line, p.graph.line) for p in dep.predictors] == [
        ("baseline", 13, 16), ("candidate", 19, 22)]
    assert not dep.notes


def test_several_seldon_deployments_take_the_first_or_the_named_one():
    one = "apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata: {name: %s}\n" \
          "spec: {predictors: [{name: p, graph: {name: m, modelUri: 'models:/a/1'}}]}\n"
    text = one % "first" + "---\n" + one % "second"
    dep = load_manifest(text, "two.yaml")
    assert dep.name == "first" and "2 SeldonDeployments" in dep.notes[0] and "'second'" in dep.notes[0]
    second = load_manifest(text, "two.yaml", name="second")
    assert second.name == "second" and second.line == 6 and not second.notes
    with pytest.raises(InvalidSpec, match="no SeldonDeployment named 'third'"):
        load_manifest(text, "two.yaml", name="third")


def test_json_manifest_has_lines_too():
    dep = load_file(SELDON / "examples" / "graph_examples_combiner.yaml")
    again = load_manifest(dump_json(dep).replace("  ", "\t"), "dep.json")  # tab-indented JSON
    assert again == dep
    assert again.predictors[0].graph.line is not None and again.predictors[0].graph.line > 1


# -- errors -----------------------------------------------------------------------------------


SD = "apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\n"


@pytest.mark.parametrize(("text", "location", "words"), [
    ("a: b: c\n", "m.yaml:1:5", "invalid YAML"),
    ("spec:\n\tpredictors: []\n", "m.yaml:2:1", "tab character"),
    ('metadata:\n  name: "unclosed\n', "m.yaml:3:1", "quoted string that starts at line 2"),
    ("a: 1\nb:\n  c: 2\n d: 3\n", "m.yaml:4:2", "indented wrongly"),
    ("kind: X\nkind: Y\n", "m.yaml:2:1", "duplicate key 'kind' (first at line 1)"),
    ("1: one\n", "m.yaml:1:1", "the key 1 is not a string"),
    ("a: !!binary aGk=\n", "m.yaml:1:4", "unsupported YAML tag"),
    ("a: &x [*x]\n", "m.yaml:1:4", "refers to a value that contains it"),
    ("- a\n- b\n", "m.yaml:1", "found a list of 2 items, not a SeldonDeployment"),
    ("just text\n", "m.yaml:1", "found a single value, the string 'just text'"),
    ("apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n", "m.yaml:1", "found a Namespace 'prod' (v1)"),
    ("kind: SeldonDeployment\napiVersion: mlops.seldon.io/v1alpha1\n", "m.yaml:2", "apiVersion 'mlops.seldon.io"),
    ("# only a comment\n", "m.yaml", "the file is empty"),
    (SD + "metadata: {}\nspec: {predictors: []}\n", "m.yaml:3", "metadata.name: is missing"),
    (SD + "metadata: {name: x}\nspec:\n  predictors:\n  - name: p\n    traffic: '50'\n    graph: {name: m}\n",
     "m.yaml:7", "spec.predictors[0].traffic: must be a whole number"),
    (SD + "metadata: {name: x}\nspec:\n  predictors:\n  - name: p\n    graph:\n      name: m\n"
          "      children:\n      - type: MODEL\n", "m.yaml:10", "children[0].name: is missing"),
    (SD + "metadata: {name: x}\nspec:\n  predictors:\n  - name: p\n    graph: [m]\n", "m.yaml:7",
     "spec.predictors[0].graph: must be a mapping, not a list of 1 item"),
    (SD + "metadata: {name: x, labels: {tier: 2}}\nspec: {predictors: []}\n", "m.yaml:3", "must be a string"),
    (SD + "metadata: {name: x}\nspec: {predictors: [], replicas: .nan}\n", "m.yaml:4", "has no JSON form"),
])
def test_malformed_input_names_the_place(text, location, words):
    with pytest.raises(InvalidSpec) as info:
        load_manifest(text, "m.yaml")
    assert info.value.location == location
    assert words in str(info.value)
    assert str(info.value).startswith(location + ":") or str(info.value).startswith(location + " ")


def test_json_errors_say_json():
    with pytest.raises(InvalidSpec) as info:
        load_manifest('{\n  "apiVersion": "machinelearning.seldon.io/v1",\n  "kind" "SeldonDeployment"\n}', "m.json")
    assert info.value.location == "m.json:3:10"
    assert "invalid JSON: Expecting ':' delimiter" in str(info.value)
    with pytest.raises(InvalidSpec, match="duplicate key 'kind'"):
        load_manifest('{"kind": "SeldonDeployment", "kind": "x"}', "m.json")


def test_yaml_alias_bombs_and_deep_nesting_are_refused():
    bomb = "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{k}: &{k} [{', '.join(['*' + p] * 10)}]\n" for p, k in zip("abcdef", "bcdefg", strict=True))
    with pytest.raises(InvalidSpec, match="aliases are expanded"):
        load_manifest(bomb)
    with pytest.raises(InvalidSpec, match="nested"):
        load_manifest("[" * 3000 + "]" * 3000)


def test_files_that_cannot_be_read(tmp_path):
    with pytest.raises(InvalidSpec, match="no such file"):
        load_file(tmp_path / "missing.yaml")
    with pytest.raises(InvalidSpec, match="is a directory"):
        load_file(tmp_path)
    binary = tmp_path / "model.pkl"
    binary.write_bytes(b"\x80\x04\x95\x00\xff\xfe")
    with pytest.raises(InvalidSpec, match="not UTF-8 text"):
        load_file(binary)


def test_unquoted_dates_stay_strings_as_in_kubernetes():
    dep = load_manifest(SD + "metadata: {name: x, labels: {since: 2024-01-31}}\nspec: {predictors: []}\n")
    assert dep.labels == {"since": "2024-01-31"}
    assert load_manifest(dump_yaml(dep)).labels == {"since": "2024-01-31"}


def test_windows_line_endings_and_a_byte_order_mark(tmp_path):
    source = SELDON / "examples" / "graph_examples_combiner.yaml"
    path = tmp_path / "crlf.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + source.read_bytes().replace(b"\n", b"\r\n"))
    dep = load_file(path)
    assert deployment_to_dict(dep) == seldon_document(source)
    assert dep.predictors[0].graph.line == load_file(source).predictors[0].graph.line
