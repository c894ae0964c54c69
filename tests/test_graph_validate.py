"""The validator: Seldon's documented graph shapes pass; every kind of mistake is reported with its
manifest path and YAML line; models:/ URIs and signatures are checked against a real registry."""

import textwrap
from pathlib import Path

import pytest

from console.errors import BackendUnavailable
from console.graph.manifest_io import load_file, load_manifest
from console.graph.spec import Deployment, Node, Parameter, Predictor
from console.graph.validate import COMPONENT_RULES, Problem, has_errors, validate

REPO = Path(__file__).resolve().parents[1]
from tests.seldon_fixtures import EXAMPLES  # noqa: E402

HEAD = """\
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: demo
spec:
  predictors:
"""


def manifest(predictors: str) -> str:
    return HEAD + textwrap.indent(textwrap.dedent(predictors).strip("\n") + "\n", "  ")


def line_of(text: str, snippet: str, nth: int = 1) -> int:
    """1-based line of the nth line containing snippet."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if snippet in line]
    return hits[nth - 1]


def problems(text: str, **kwargs) -> list[Problem]:
    return validate(load_manifest(text, "g.yaml"), **kwargs)


def only(found: list[Problem], code: str) -> Problem:
    matching = [p for p in found if p.code == code]
    assert len(matching) == 1, found
    return matching[0]


# -- Seldon's documented shapes ---------------------------------------------------------------

SINGLE_MODEL = manifest("""
- name: default
  replicas: 1
  graph:
    name: classifier
    implementation: SKLEARN_SERVER
    modelUri: gs://seldon-models/v1.18.2/sklearn/iris
""")

TRANSFORMER_MODEL = manifest("""
- name: main
  graph:
    name: prep
    type: TRANSFORMER
    implementation: MLCONSOLE_FEATURE_TRANSFORMER
    parameters:
    - name: columns
      type: JSON
      value: '{columns}'
    children:
    - name: clf
      type: MODEL
      modelUri: models:/credit-risk@champion
""")

AB_TEST = manifest("""
- name: main
  graph:
    name: ab-test
    implementation: RANDOM_ABTEST
    parameters:
    - name: ratioA
      value: '0.7'
      type: FLOAT
    children:
    - name: champion
      modelUri: models:/credit-risk@champion
    - name: challenger
      modelUri: models:/credit-risk@challenger
""")

ENSEMBLE = manifest("""
- name: main
  graph:
    name: ensemble
    type: COMBINER
    implementation: MLCONSOLE_COMBINER
    parameters:
    - name: method
      value: average
      type: STRING
    children:
    - name: v1
      modelUri: models:/credit-risk/1
    - name: v2
      modelUri: models:/credit-risk/2
""")

EPSILON_GREEDY = manifest("""
- name: main
  graph:
    name: bandit
    type: ROUTER
    implementation: MLCONSOLE_EPSILON_GREEDY
    parameters:
    - name: epsilon
      value: '0.1'
      type: FLOAT
    children:
    - name: credit
      modelUri: models:/credit-risk@champion
    - name: fraud
      modelUri: models:/fraud-detector@champion
""")

CANARY_WITH_SHADOW = manifest("""
- name: main
  traffic: 90
  graph: {name: clf, modelUri: 'models:/credit-risk@champion'}
- name: canary
  traffic: 10
  graph: {name: clf, modelUri: 'models:/credit-risk@challenger'}
- name: mirror
  shadow: true
  graph: {name: clf, modelUri: 'models:/credit-risk/3'}
""")

DOCUMENTED = {"transformer-model": TRANSFORMER_MODEL.replace("{columns}", '["income"]'), "ab-test": AB_TEST,
              "ensemble": ENSEMBLE, "epsilon-greedy": EPSILON_GREEDY, "canary-with-shadow": CANARY_WITH_SHADOW}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_graphs_have_no_problems(name):
    assert problems(DOCUMENTED[name]) == []


def test_single_prepackaged_model_is_valid_but_does_not_run_locally():
    found = problems(SINGLE_MODEL)
    assert not has_errors(found)
    warning = only(found, "local-runtime")
    assert warning.message.startswith("valid for Seldon; cannot run on the local runtime: gs://")
    assert warning.path == "spec.predictors[0].graph.modelUri"
    assert warning.line == line_of(SINGLE_MODEL, "modelUri:")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_seldon_examples_have_no_errors(path):
    found = validate(load_file(path))
    assert not has_errors(found), [p.format() for p in found]
    # custom images and gs:// models are stated as not runnable here, each once per node
    assert all(p.code == "local-runtime" for p in found)


# -- bad input, each with its place ------------------------------------------------------------


def test_unknown_type_and_implementation():
    text = manifest("""
    - name: main
      graph:
        name: clf
        type: MODLE
        implementation: SKLEARN_SEVER
        modelUri: gs://bucket/model
    """)
    found = problems(text)
    kind = only(found, "unknown-type")
    assert (kind.path, kind.line) == ("spec.predictors[0].graph.type", line_of(text, "type: MODLE"))
    assert "node 'clf' has unknown type 'MODLE'" in kind.message
    impl = only(found, "unknown-implementation")
    assert (impl.path, impl.line) == ("spec.predictors[0].graph.implementation", line_of(text, "SKLEARN_SEVER"))
    assert impl.hint == "did you mean SKLEARN_SERVER?"
    lower = problems(manifest("- name: p\n  graph: {name: m, type: model, modelUri: 'models:/a/1'}"))
    assert only(lower, "unknown-type").hint == "write it in capitals: MODEL"


def test_router_and_combiner_need_two_children():
    text = manifest("""
    - name: main
      graph:
        name: ab
        implementation: RANDOM_ABTEST
        children:
        - name: only
          modelUri: models:/credit-risk/1
          children:
          - name: merge
            type: COMBINER
            implementation: MLCONSOLE_COMBINER
    """)
    found = [p for p in problems(text) if p.code == "children"]
    assert [(p.path, p.line) for p in found] == [
        ("spec.predictors[0].graph", line_of(text, "name: ab")),
        ("spec.predictors[0].graph.children[0].children[0]", line_of(text, "name: merge"))]
    assert found[0].message == "ROUTER node 'ab' has 1 child; it needs at least two"
    assert found[1].message == "COMBINER node 'merge' has 0 children; it needs at least two"


def test_model_without_a_model_but_a_custom_image_counts():
    text = manifest("""
    - name: main
      componentSpecs:
      - spec:
          containers:
          - name: custom
            image: registry.example.com/fraud:1.2
      graph:
        name: custom
        type: MODEL
        children:
        - name: orphan
          type: MODEL
    """)
    found = problems(text)
    missing = only(found, "no-model")
    assert (missing.path, missing.line) == ("spec.predictors[0].graph.children[0]", line_of(text, "name: orphan"))
    assert missing.message == "MODEL node 'orphan' has no model"
    assert "modelUri" in missing.hint and "container named 'orphan'" in missing.hint
    image = only(found, "local-runtime")  # the custom image is valid Seldon, stated as such
    assert image.path == "spec.predictors[0].graph" and "registry.example.com/fraud:1.2" in image.message


def test_transformer_with_nothing_to_run_it():
    text = manifest("""
    - name: main
      graph:
        name: prep
        type: TRANSFORMER
        children:
        - {name: clf, modelUri: 'models:/credit-risk/1'}
    """)
    found = only(problems(text), "no-implementation")
    assert (found.path, found.line) == ("spec.predictors[0].graph", line_of(text, "name: prep"))


def test_duplicate_names_and_cycles_via_repeated_names():
    text = manifest("""
    - name: main
      graph:
        name: combine
        type: COMBINER
        implementation: MLCONSOLE_COMBINER
        children:
        - name: twin
          modelUri: models:/credit-risk/1
        - name: twin
          modelUri: models:/credit-risk/2
          children:
          - name: combine
            implementation: MLCONSOLE_COMBINER
            children:
            - {name: a, modelUri: 'models:/credit-risk/1'}
            - {name: b, modelUri: 'models:/credit-risk/2'}
    """)
    found = problems(text)
    twin = only(found, "duplicate-node")
    assert (twin.path, twin.line) == ("spec.predictors[0].graph.children[1]", line_of(text, "name: twin", 2))
    assert f"also at spec.predictors[0].graph.children[0], line {line_of(text, 'name: twin')}" in twin.message
    cycle = only(found, "cycle")
    assert cycle.path == "spec.predictors[0].graph.children[1].children[0]"
    assert cycle.line == line_of(text, "name: combine", 2)
    assert "repeats its ancestor at spec.predictors[0].graph" in cycle.message and "cycle" in cycle.message


def test_duplicate_predictors_and_traffic():
    text = manifest("""
    - name: main
      traffic: 80
      graph: {name: clf, modelUri: 'models:/credit-risk/1'}
    - name: main
      traffic: 25
      graph: {name: clf, modelUri: 'models:/credit-risk/2'}
    - name: negative
      traffic: -10
      graph: {name: clf, modelUri: 'models:/credit-risk/3'}
    """)
    found = problems(text)
    dup = only(found, "duplicate-predictor")
    assert (dup.path, dup.line) == ("spec.predictors[1]", line_of(text, "- name: main", 2))
    traffic = [p for p in found if p.code == "traffic"]
    assert ("spec.predictors[2].traffic", line_of(text, "traffic: -10")) in [(p.path, p.line) for p in traffic]
    total = next(p for p in traffic if p.path == "spec.predictors")
    assert total.message == "traffic of the predictors that serve sums to 95 (main 80, main 25, negative -10), not 100"
    assert total.line == line_of(text, "predictors:")


def test_traffic_rules_follow_seldons_webhook():
    single = manifest("- name: only\n  traffic: 50\n  graph: {name: m, modelUri: 'models:/a/1'}")
    assert only(problems(single), "traffic").path == "spec.predictors[0].traffic"
    sole = manifest("- name: only\n  graph: {name: m, modelUri: 'models:/a/1'}")
    assert problems(sole) == []
    shadow_counted = manifest("""
    - {name: a, traffic: 50, graph: {name: m, modelUri: 'models:/a/1'}}
    - {name: b, traffic: 50, graph: {name: m, modelUri: 'models:/a/2'}}
    - {name: s, traffic: 10, shadow: true, graph: {name: m, modelUri: 'models:/a/3'}}
    """)
    warning = only(problems(shadow_counted), "traffic")
    assert warning.severity == "warning" and "sums to 110" in warning.message
    all_shadows = manifest("- {name: s, shadow: true, graph: {name: m, modelUri: 'models:/a/1'}}")
    assert "every predictor is a shadow" in only(problems(all_shadows), "traffic").message


def test_parameters_with_bad_types_and_values():
    text = manifest("""
    - name: main
      graph:
        name: clf
        modelUri: models:/credit-risk/1
        parameters:
        - {name: n, type: INT, value: 'three'}
        - {name: f, type: FLOAT, value: 'x'}
        - {name: b, type: BOOL, value: 'maybe'}
        - {name: j, type: JSON, value: '{"a": '}
        - {name: t, type: TEXT, value: 'x'}
        - {name: untyped, value: 'x'}
        - {name: number, type: FLOAT, value: 0.5}
        - {name: ok, type: DOUBLE, value: '1e-3'}
    """)
    found = problems(text)
    by_path = {p.path: p for p in found}
    graph = "spec.predictors[0].graph.parameters"
    for k, snippet in enumerate(("'three'", "value: 'x'", "'maybe'", '{"a": ')):
        p = by_path[f"{graph}[{k}].value"]
        assert p.code == "parameter-value" and p.line == line_of(text, snippet)
    assert by_path[f"{graph}[0].value"].message == "parameter 'n' of node 'clf' is INT but its value 'three' is not"
    assert by_path[f"{graph}[4].type"].message == "parameter 't' of node 'clf' has unknown type 'TEXT'"
    assert by_path[f"{graph}[5]"].message == "parameter 'untyped' of node 'clf' has no type"
    assert by_path[f"{graph}[6].value"].hint == "quote it: '0.5'"
    assert f"{graph}[7]" not in by_path and f"{graph}[7].value" not in by_path


@pytest.mark.parametrize(("implementation", "params", "words"), [
    ("MLCONSOLE_ENRICHMENT", [("table", "data/customers.parquet")], "needs the parameter 'key'"),
    ("MLCONSOLE_FEATURE_TRANSFORMER", [], "needs at least one of the parameters columns, scale, one_hot"),
    ("MLCONSOLE_OUTLIER_DETECTOR", [("features", '["amount"]')], "needs the parameter 'reference'"),
    ("MLCONSOLE_FEATURE_TRANSFORMER", [("scale", '["income"]')], "scale must be a JSON object"),
])
def test_builtin_components_need_their_parameters(implementation, params, words):
    node = Node(name="step", implementation=implementation,
                parameters=[Parameter(n, v, "JSON" if v.startswith(("[", "{")) else "STRING") for n, v in params],
                children=[Node(name="clf", model_uri="models:/credit-risk/1")])
    dep = Deployment(name="d", predictors=[Predictor(name="p", graph=node)])
    errors = [p for p in validate(dep) if p.is_error]
    assert len(errors) == 1 and words in errors[0].message, errors
    assert errors[0].path.startswith("spec.predictors[0].graph.parameters")


def test_builtin_parameter_values_and_names():
    text = manifest("""
    - name: main
      graph:
        name: vote
        implementation: MLCONSOLE_COMBINER
        parameters:
        - {name: method, type: STRING, value: median}
        children:
        - name: bandit
          implementation: MLCONSOLE_EPSILON_GREEDY
          parameters:
          - {name: epsilon, type: FLOAT, value: '1.5'}
          - {name: epsilom, type: FLOAT, value: '0.1'}
          children:
          - {name: a, modelUri: 'models:/credit-risk/1'}
          - {name: b, modelUri: 'models:/credit-risk/2'}
        - name: thompson
          implementation: MLCONSOLE_THOMPSON_SAMPLING
          children:
          - {name: c, modelUri: 'models:/credit-risk/1'}
          - {name: d, modelUri: 'models:/credit-risk/2'}
    """)
    found = problems(text)
    values = [p for p in found if p.code == "parameter-value"]
    assert [(p.path, p.line) for p in values] == [
        ("spec.predictors[0].graph.parameters[0]", line_of(text, "median")),
        ("spec.predictors[0].graph.children[0].parameters[0]", line_of(text, "'1.5'"))]
    assert values[0].hint == "one of average, majority"
    typo = only(found, "unknown-parameter")
    assert typo.severity == "warning" and typo.hint == "did you mean epsilon?"
    assert not [p for p in found if "thompson" in p.message]  # bandits need nothing mandatory
    assert set(COMPONENT_RULES) >= {"MLCONSOLE_ENRICHMENT", "MLCONSOLE_COMBINER", "MLCONSOLE_EPSILON_GREEDY"}


def test_unknown_fields_in_the_wrong_place():
    text = manifest("""
    - name: main
      children: []
      graph:
        name: clf
        modelURI: models:/credit-risk/1
        traffic: 10
    """)
    found = [p for p in problems(text) if p.code == "unknown-field"]
    by_path = {p.path: p for p in found}
    assert by_path["spec.predictors[0].children"].hint == "children belongs in a graph node, not here"
    assert by_path["spec.predictors[0].children"].line == line_of(text, "children: []")
    assert by_path["spec.predictors[0].graph.modelURI"].hint == "did you mean modelUri?"
    assert by_path["spec.predictors[0].graph.traffic"].hint == "traffic belongs in the predictor, not here"
    assert by_path["spec.predictors[0].graph.traffic"].line == line_of(text, "traffic: 10")


def test_graph_deeper_than_seldons_crd_and_mixed_endpoints():
    node = Node(name="n12", model_uri="models:/a/1")
    for i in range(11, 0, -1):
        node = Node(name=f"n{i}", model_uri="models:/a/1", children=[node],
                    endpoint={"type": "GRPC" if i == 1 else "REST"})
    found = validate(Deployment(name="deep", predictors=[Predictor(name="p", graph=node)]))
    depth = only(found, "depth")
    assert depth.path == "spec.predictors[0].graph" + ".children[0]" * 11
    assert "endpoint types" in only(found, "endpoint-type").message


def test_remote_uris_say_why_they_cannot_run_here():
    text = manifest("""
    - name: main
      graph:
        name: clf
        implementation: XGBOOST_SERVER
        modelUri: s3://models/xgb
    """)
    warning = only(problems(text), "local-runtime")
    assert warning.message == ("valid for Seldon; cannot run on the local runtime: s3://models/xgb is a remote "
                               "store (s3://) the local runtime does not fetch from")
    local = manifest("- name: main\n  graph: {name: clf, implementation: SKLEARN_SERVER, modelUri: 'file:///m'}")
    assert only(problems(local), "local-runtime").message.endswith(
        "SKLEARN_SERVER is a Seldon server image; the local runtime runs MLflow models")
    registry_model = manifest("- name: main\n  graph: {name: clf, implementation: SKLEARN_SERVER, "
                              "modelUri: 'models:/credit-risk/1'}")
    assert problems(registry_model) == []
    no_uri = manifest("- name: main\n  graph: {name: clf, implementation: SKLEARN_SERVER}")
    assert "without a modelUri" in only(problems(no_uri), "no-model-uri").message


def test_malformed_model_uri():
    text = manifest("- name: main\n  graph: {name: clf, modelUri: 'models:/credit-risk'}")
    bad = only(problems(text), "model-uri")
    assert bad.path == "spec.predictors[0].graph.modelUri" and "models:/NAME/VERSION" in bad.hint


def test_load_notes_become_warnings():
    one = HEAD.replace("demo", "%s") + "  - {name: p, graph: {name: m, modelUri: 'models:/a/1'}}\n"
    dep = load_manifest(one % "a" + "---\n" + one % "b", "two.yaml")
    (note,) = validate(dep)
    assert note.severity == "warning" and "2 SeldonDeployments" in note.message and note.line == 1


def test_problem_format_reads_like_a_compiler():
    p = Problem("error", "node 'x' has no model", "spec.predictors[0].graph", 12, "give it a modelUri")
    assert p.format("g.yaml") == "g.yaml:12: error: spec.predictors[0].graph: node 'x' has no model (give it a modelUri)"
    assert Problem("warning", "m").format("g.yaml") == "g.yaml: warning: m"


def test_odd_objects_built_in_code_never_crash_the_validator():
    odd = Node(name=None, type=5, implementation=["x"], model_uri=3, parameters=["p", Parameter("", "")],
               endpoint="REST", children=["c", Node(name="ok", model_uri="models:/a/1")])
    dep = Deployment(name="", predictors=[Predictor(name=7, graph=odd, traffic="x", shadow=False),
                                          Predictor(name="p", graph=None)])
    found = validate(dep, registry=object())
    assert has_errors(found)
    # a graph that contains itself (only code can build one) ends the walk with an error
    a = Node(name="a", model_uri="models:/a/1")
    a.children.append(Node(name="b", model_uri="models:/a/1", children=[a]))
    (cycle,) = validate(Deployment(name="d", predictors=[Predictor(name="p", graph=a)]))
    assert cycle.code == "cycle" and cycle.path == "spec.predictors[0].graph.children[0].children[0]"


# -- Python components by import path ----------------------------------------------------------


@pytest.fixture
def component_dir(tmp_path):
    pkg = tmp_path / "gv_components"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(textwrap.dedent("""
        class Scorer:
            def __init__(self, threshold=0.5):
                self.threshold = threshold
            def predict(self, X, names, meta=None):
                return X
        class Nothing:
            pass
        helper = 3
    """))
    (pkg / "broken.py").write_text("import not_installed_anywhere_xyz\n")
    return tmp_path


@pytest.mark.parametrize(("path", "code", "words"), [
    ("gv_components.models:Scorer", None, None),
    ("gv_components.models.Scorer", None, None),
    ("gv_components.missing:Scorer", "component-import", "ModuleNotFoundError"),
    ("gv_components.broken:Scorer", "component-import", "not_installed_anywhere_xyz"),
    ("gv_components.models:Absent", "component-import", "has no 'Absent'"),
    ("gv_components.models:helper", "component-import", "is not a class"),
    ("gv_components.models:Nothing", "component-methods", "none of Seldon's component methods"),
])
def test_python_components_by_import_path(component_dir, path, code, words):
    in_impl = manifest(f"- name: main\n  graph:\n    name: scorer\n    implementation: {path}\n")
    in_param = manifest(f"""
    - name: main
      graph:
        name: scorer
        parameters:
        - {{name: component, type: STRING, value: '{path}'}}
    """)
    for text, where in ((in_impl, "implementation"), (in_param, "parameters[0]")):
        found = problems(text, import_paths=[str(component_dir)])
        if code is None:
            assert found == [], found
            continue
        p = only(found, code)
        assert words in p.message and p.path == f"spec.predictors[0].graph.{where}"
        assert p.line == line_of(text, path)
        assert problems(text, check_imports=False) == []


def test_a_transformer_component_without_transform_input_is_a_warning(component_dir):
    text = manifest("""
    - name: main
      graph:
        name: prep
        type: TRANSFORMER
        implementation: gv_components.models:Scorer
        children:
        - {name: clf, modelUri: 'models:/credit-risk/1'}
    """)
    warning = only(problems(text, import_paths=[str(component_dir)]), "component-methods")
    assert warning.severity == "warning" and "has no transform_input()" in warning.message


# -- against the registry ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry(seeded_home):
    from backends.mlflow.registry import MlflowRegistry
    from console.config import default_registry_uri

    return MlflowRegistry(default_registry_uri(seeded_home))


@pytest.fixture(scope="module")
def required_inputs(registry):
    version = registry.get_version("credit-risk", "@champion")
    signature = registry.get_signature("credit-risk", version.version)
    return [f.name for f in signature.inputs if f.required]


def test_documented_graphs_resolve_in_the_registry(registry, required_inputs):
    columns = "[" + ", ".join(f'"{c}"' for c in required_inputs) + "]"
    for name, text in {**DOCUMENTED, "transformer-model": TRANSFORMER_MODEL.replace("{columns}", columns)}.items():
        assert problems(text, registry=registry) == [], name


def test_unresolvable_model_uris_are_errors_naming_the_uri(registry):
    text = manifest("""
    - name: main
      graph:
        name: ab
        implementation: RANDOM_ABTEST
        children:
        - name: a
          modelUri: models:/credit-risk@nope
        - name: b
          modelUri: models:/no-such-model/1
        - name: c
          modelUri: models:/credit-risk/99
    """)
    found = [p for p in problems(text, registry=registry) if p.code == "model-missing"]
    assert [(p.path, p.line) for p in found] == [
        (f"spec.predictors[0].graph.children[{i}].modelUri", line_of(text, uri))
        for i, uri in enumerate(("@nope", "no-such-model", "credit-risk/99"))]
    assert "models:/credit-risk@nope does not resolve" in found[0].message
    assert "@champion" in found[0].hint  # the aliases it does have
    assert "models:/no-such-model/1 does not resolve" in found[1].message


def test_registry_down_is_a_warning_not_an_error():
    class DownRegistry:
        calls = 0

        def get_version(self, name, ref):
            DownRegistry.calls += 1
            raise BackendUnavailable("registry http://127.0.0.1:9 is unreachable")

        get_model = get_version

    found = problems(AB_TEST, registry=DownRegistry())
    assert [p.code for p in found] == ["registry-down", "registry-down"]
    assert all(p.severity == "warning" and "could not check models:/credit-risk@" in p.message
               and "registry down" in p.message for p in found)
    assert DownRegistry.calls == 1  # once down, not asked again


def test_signature_mismatch_is_a_warning_at_the_model(registry, required_inputs):
    partial = "[" + ", ".join(f'"{c}"' for c in required_inputs[1:]) + "]"
    text = TRANSFORMER_MODEL.replace("{columns}", partial)
    warning = only(problems(text, registry=registry), "signature")
    assert warning.severity == "warning"
    assert (warning.path, warning.line) == ("spec.predictors[0].graph.children[0]", line_of(text, "name: clf"))
    assert f"needs {required_inputs[0]}, which transformer 'prep' does not pass on" in warning.message
    # through an A/B router, both models are checked
    ab = manifest(f"""
    - name: main
      graph:
        name: prep
        implementation: MLCONSOLE_FEATURE_TRANSFORMER
        parameters:
        - {{name: columns, type: JSON, value: '{partial}'}}
        children:
        - name: ab
          implementation: RANDOM_ABTEST
          children:
          - {{name: champion, modelUri: 'models:/credit-risk@champion'}}
          - {{name: challenger, modelUri: 'models:/credit-risk@challenger'}}
    """)
    assert [p.path for p in problems(ab, registry=registry) if p.code == "signature"] == [
        "spec.predictors[0].graph.children[0].children[0]", "spec.predictors[0].graph.children[0].children[1]"]


def test_the_demo_graph_is_clean_against_the_registry(registry, seeded_home):
    from console.graph.demo_graph import demo_manifest
    from console.graph.manifest_io import dump_yaml
    from console.graph.spec import deployment_from_dict

    dep = load_manifest(dump_yaml(deployment_from_dict(demo_manifest(seeded_home))), "credit-risk.yaml")
    assert validate(dep, registry=registry) == []
