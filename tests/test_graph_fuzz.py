"""Property tests: over random text, random data and mutated Seldon manifests, the loader raises
nothing but InvalidSpec, the validator, layout and exports never raise, and whatever the loader
accepts dumps back (YAML and JSON) to the same deployment."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.errors import InvalidSpec
from console.graph.export import seldon_notes, to_kserve, to_seldon
from console.graph.layout import cells, render_graph
from console.graph.manifest_io import dump_json, dump_yaml, load_manifest
from console.graph.spec import (
    MLCONSOLE_COMPONENTS,
    NODE_TYPES,
    PARAMETER_TYPES,
    SELDON_MODEL_SERVERS,
    SELDON_ROUTERS,
    Deployment,
    Node,
    Parameter,
    Predictor,
    deployment_to_dict,
)
from console.graph.validate import Problem, validate

REPO = Path(__file__).resolve().parents[1]
from tests.seldon_fixtures import SELDON  # noqa: E402

EXAMPLES = sorted((SELDON / "examples").glob("*.yaml"))
TEXTS = [p.read_text() for p in EXAMPLES]
DOCS = [next(d for d in yaml.safe_load_all(t) if isinstance(d, dict) and d.get("kind") == "SeldonDeployment")
        for t in TEXTS]
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def crd_validator() -> jsonschema.Draft7Validator:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load((SELDON / "crd" / "machinelearning.seldon.io_seldondeployments.yaml").read_text(), Loader=loader)
    return jsonschema.Draft7Validator(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def accepted(text: str) -> Deployment | None:
    """Load; None when refused (with a located InvalidSpec); else check the round trips."""
    try:
        dep = load_manifest(text, "fuzz.yaml")
    except InvalidSpec as exc:
        assert exc.message.startswith("fuzz.yaml") and exc.location.startswith("fuzz.yaml")
        return None
    data = deployment_to_dict(dep)
    for dumped in (dump_yaml(dep), dump_json(dep)):
        again = load_manifest(dumped, "dumped")
        assert again == dep
        assert deployment_to_dict(again) == data
    return dep


def consumers_hold(dep: Deployment) -> None:
    """Validation, drawing and both exports accept anything the loader accepted."""
    problems = validate(dep, check_imports=False)
    assert all(isinstance(p, Problem) and p.severity in ("error", "warning") and p.message for p in problems)
    for width in (80, 60):
        assert all(cells(line) <= width for line in render_graph(dep, width))
    to_seldon(dep)
    seldon_notes(dep)
    docs, notes = to_kserve(dep)
    assert docs[-1]["kind"] == "InferenceGraph" and all(isinstance(n, str) for n in notes)


# -- random text --------------------------------------------------------------------------------

YAML_ALPHABET = " \n\t:-[]{},#&*!|>'\"%@`?.0123456789abcnulltrue~"


@FUZZ
@given(st.text(max_size=300) | st.text(alphabet=YAML_ALPHABET, max_size=300))
def test_random_text_only_ever_raises_invalid_spec(text):
    accepted(text)


# -- random data, as YAML and as JSON --------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=25)


@FUZZ
@given(values, st.booleans())
def test_random_documents_only_ever_raise_invalid_spec(value, as_json):
    text = json.dumps(value) if as_json else yaml.safe_dump(value, allow_unicode=True)
    dep = accepted(text)
    if dep is not None:
        consumers_hold(dep)


# -- Seldon's examples, mutated -------------------------------------------------------------------


def paths_of(value, prefix=()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths_of(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths_of(v, (*prefix, i))
    return out


def parent_and_key(doc, path):
    target = doc
    for step in path[:-1]:
        target = target[step]
    return target, path[-1]


MUTATIONS = ("delete", "rename", "retype", "duplicate", "insert")
FIELD_NAMES = st.sampled_from(["name", "type", "implementation", "modelUri", "children", "parameters", "graph",
                               "traffic", "shadow", "replicas", "predictors", "value", "modelURI", "extra"])


@FUZZ
@given(st.data())
def test_mutated_examples_load_or_refuse_and_never_crash(data):
    doc = copy.deepcopy(data.draw(st.sampled_from(DOCS), label="example"))
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(paths_of(doc)[1:]), label="path")
        try:
            parent, key = parent_and_key(doc, path)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed it
        kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
        if kind == "delete":
            del parent[key]
        elif kind == "rename" and isinstance(parent, dict):
            parent[data.draw(FIELD_NAMES | st.text(max_size=8), label="new name")] = parent.pop(key)
        elif kind == "retype":
            parent[key] = data.draw(values, label="new value")
        elif kind == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif kind == "insert" and isinstance(parent[key], dict):
            parent[key][data.draw(FIELD_NAMES, label="field")] = data.draw(values, label="value")
    text = yaml.safe_dump(doc, sort_keys=False) if data.draw(st.booleans(), label="yaml") else json.dumps(doc)
    dep = accepted(text)
    if dep is not None:
        consumers_hold(dep)


@FUZZ
@given(st.data())
def test_mutated_example_text_only_ever_raises_invalid_spec(data):
    text = data.draw(st.sampled_from(TEXTS), label="example")
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        at = data.draw(st.integers(0, len(text)), label="at")
        edit = data.draw(st.sampled_from(("delete", "insert", "indent", "swap")), label="edit")
        if edit == "delete":
            text = text[:at] + text[at + data.draw(st.integers(1, 12), label="length"):]
        elif edit == "insert":
            text = text[:at] + data.draw(st.text(alphabet=YAML_ALPHABET, min_size=1, max_size=6), label="chars") \
                + text[at:]
        elif edit == "indent":
            start = text.rfind("\n", 0, at) + 1
            text = text[:start] + data.draw(st.sampled_from([" ", "  ", "\t"]), label="indent") + text[start:]
        else:
            lines = text.splitlines(keepends=True)
            if len(lines) > 1:
                i = at % (len(lines) - 1)
                lines[i], lines[i + 1] = lines[i + 1], lines[i]
                text = "".join(lines)
    dep = accepted(text)
    if dep is not None:
        consumers_hold(dep)


# -- graphs built in code --------------------------------------------------------------------------

names = st.sampled_from(["clf", "prep", "ab", "merge", "m1", "m2", "Bad_Name", ""])
implementations = st.none() | st.sampled_from(
    SELDON_MODEL_SERVERS + SELDON_ROUTERS + MLCONSOLE_COMPONENTS + ("NOT_A_SERVER", "pkg.mod:Cls"))
uris = st.none() | st.sampled_from(["models:/credit-risk@champion", "models:/credit-risk/2", "models:/bad",
                                    "gs://bucket/model", "s3://b/m", "file:///tmp/model"])
parameters = st.lists(st.builds(
    Parameter, name=st.sampled_from(["ratioA", "epsilon", "method", "columns", "table", "key", "component", ""]),
    value=st.sampled_from(["0.5", "2", "average", "median", '["a", "b"]', "{", "", "pkg.mod:Cls"]),
    type=st.sampled_from(PARAMETER_TYPES + ("string", "TEXT"))), max_size=3)


def nodes(depth: int):
    children = st.just([]) if depth == 0 else st.lists(nodes(depth - 1), max_size=3)
    return st.builds(Node, name=names, type=st.none() | st.sampled_from(NODE_TYPES + ("MODLE",)),
                     implementation=implementations, model_uri=uris, parameters=parameters,
                     endpoint=st.none() | st.sampled_from([{"type": "REST"}, {"type": "GRPC"}]), children=children)


predictors = st.builds(Predictor, name=names, graph=nodes(3), traffic=st.integers(-10, 110),
                       shadow=st.booleans(), replicas=st.none() | st.integers(0, 5))
deployments = st.builds(Deployment, name=st.sampled_from(["credit", "demo", "Bad Name"]),
                        predictors=st.lists(predictors, min_size=1, max_size=3),
                        namespace=st.none() | st.just("ml"))


@FUZZ
@given(deployments)
def test_built_graphs_validate_draw_and_export_valid_for_seldon(crd_validator, dep):
    consumers_hold(dep)
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in crd_validator.iter_errors(to_seldon(dep))]
    assert errors == []
    again = load_manifest(dump_yaml(dep), "built.yaml")
    assert deployment_to_dict(again) == deployment_to_dict(dep)
    # the same findings whether the graph was built in code or read back from its YAML
    assert sorted((p.code, p.path) for p in validate(again, check_imports=False)) == \
        sorted((p.code, p.path) for p in validate(dep, check_imports=False))
