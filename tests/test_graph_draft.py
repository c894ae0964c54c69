"""The builder's draft: edits by manifest path, undo/redo, lossless saves."""

import pytest
import yaml

from console.errors import Conflict, InvalidSpec, NotFound
from console.graph.draft import Address, GraphDraft, node_text, parse_node_text, parse_traffic
from console.graph.manifest_io import dump_yaml, load_file
from console.graph.node_kinds import BY_KEY, KINDS
from console.graph.validate import validate
from tests.seldon_fixtures import EXAMPLES

ROOT = Address(0, ())
PRED = Address(0, None)


def node(name, kind="MODEL", **extra):
    return {"name": name, "type": kind, **extra, "children": []}


@pytest.fixture
def draft(tmp_path):
    return GraphDraft.new("scoring", tmp_path)


def names(draft, predictor=0):
    out, stack = [], [draft.predictors()[predictor]["graph"]]
    while stack:
        item = stack.pop(0)
        out.append(item["name"])
        stack[0:0] = item.get("children") or []
    return out


def test_address_round_trips_validator_paths():
    for path in ("spec.predictors[0]", "spec.predictors[1].graph", "spec.predictors[0].graph.children[2].children[0]"):
        assert Address.parse(path).path == path
    assert Address.parse("spec.predictors[0]").node is None
    assert Address.parse("spec.predictors[0].graph.children[1]").parent == ROOT
    with pytest.raises(NotFound):
        Address.parse("metadata.name")


def test_a_new_graph_starts_empty_and_the_first_node_becomes_its_root(draft):
    assert draft.is_empty(0) and draft.dirty
    with pytest.raises(NotFound, match="no graph yet"):
        draft.node(ROOT)
    assert draft.add_child(PRED, node("features", "TRANSFORMER")) == ROOT
    assert draft.add_child(ROOT, node("model")) == Address(0, (0,))
    assert names(draft) == ["features", "model"]


def test_adding_on_the_predictor_puts_the_node_in_front_of_the_root(draft):
    draft.add_child(PRED, node("model"))
    draft.add_child(PRED, node("features", "TRANSFORMER"))
    assert names(draft) == ["features", "model"]


def test_insert_above_wraps_a_node_and_delete_lifts_children(draft):
    draft.add_child(PRED, node("router", "ROUTER"))
    draft.add_child(ROOT, node("a"))
    draft.add_child(ROOT, node("b"))
    assert draft.insert_above(Address(0, (1,)), node("scaler", "TRANSFORMER")) == Address(0, (1,))
    assert names(draft) == ["router", "a", "scaler", "b"]
    draft.delete(Address(0, (1,)))  # the chain closes up
    assert names(draft) == ["router", "a", "b"]
    with pytest.raises(Conflict, match="root"):
        draft.delete(ROOT)  # two children cannot both become the root
    draft.delete(Address(0, (0,)))
    assert draft.delete(ROOT) == ROOT
    assert names(draft) == ["b"]


def test_move_reorders_a_routers_branches(draft):
    draft.add_child(PRED, node("router", "ROUTER"))
    for child in ("a", "b", "c"):
        draft.add_child(ROOT, node(child))
    assert draft.move(Address(0, (2,)), -1) == Address(0, (1,))
    assert names(draft) == ["router", "a", "c", "b"]
    assert draft.move(Address(0, (0,)), -1) == Address(0, (0,))  # already first: no step recorded
    draft.undo()
    assert names(draft) == ["router", "a", "b", "c"]


def test_cut_and_paste_move_a_subtree_and_rename_clashes(draft):
    draft.add_child(PRED, node("features", "TRANSFORMER"))
    draft.add_child(ROOT, node("router", "ROUTER"))
    draft.add_child(Address(0, (0,)), node("a"))
    draft.cut(Address(0, (0,)))
    assert names(draft) == ["features"] and draft.clipboard["name"] == "router"
    draft.paste(ROOT)
    draft.paste(ROOT)  # a second copy: names must stay unique
    assert names(draft) == ["features", "router", "a", "router-2", "a-2"]
    with pytest.raises(NotFound):
        GraphDraft.new("other", draft.path.parent).paste(PRED)


def test_rename_checks_names(draft):
    draft.add_child(PRED, node("model"))
    draft.add_child(ROOT, node("other"))
    with pytest.raises(InvalidSpec, match="not valid"):
        draft.rename(ROOT, "Bad Name")
    with pytest.raises(Conflict, match="already named"):
        draft.rename(ROOT, "other")
    draft.rename(ROOT, "scorer")
    assert names(draft) == ["scorer", "other"]


def test_set_fields_refuses_a_wrong_shape_and_changes_nothing(draft):
    draft.add_child(PRED, node("model", modelUri="models:/m@champion"))
    draft.add_child(ROOT, node("child"))
    before = dump_yaml(draft.deployment())
    with pytest.raises(InvalidSpec):
        draft.set_fields(ROOT, {"name": "model", "parameters": "not a list"})
    with pytest.raises(InvalidSpec, match="needs a name"):
        draft.set_fields(ROOT, {"type": "MODEL"})
    assert dump_yaml(draft.deployment()) == before
    draft.set_fields(ROOT, parse_node_text("name: model\ntype: MODEL\nmodelUri: models:/m/3\n"))
    assert draft.node(ROOT)["modelUri"] == "models:/m/3"
    assert names(draft) == ["model", "child"]  # children are kept: the text never holds them


def test_node_text_leaves_children_out_and_parse_names_the_line():
    text = node_text({"name": "x", "type": "MODEL", "children": [{"name": "y"}]})
    assert "children" not in text and yaml.safe_load(text) == {"name": "x", "type": "MODEL"}
    with pytest.raises(InvalidSpec, match="line 2"):
        parse_node_text("name: x\n  type: [\n")
    with pytest.raises(InvalidSpec, match="mapping"):
        parse_node_text("- a list")


def test_traffic_and_shadows(draft):
    draft.add_child(PRED, node("model", modelUri="models:/m@champion"))
    draft.add_predictor("canary", copy_of=0)
    draft.add_predictor("mirror", copy_of=0)
    draft.set_traffic(*parse_traffic("main=90 canary=10 mirror=shadow"))
    preds = {p["name"]: p for p in draft.predictors()}
    assert preds["main"]["traffic"] == 90 and preds["canary"]["traffic"] == 10 and preds["mirror"]["shadow"]
    assert names(draft, 1) == ["model"]  # the copy has its own graph
    draft.set_traffic({"mirror": 5})  # a weight makes a shadow serve again
    assert preds["mirror"]["shadow"] is False
    with pytest.raises(NotFound, match="nope"):
        draft.set_traffic({"nope": 1})
    with pytest.raises(InvalidSpec):
        draft.set_traffic({"main": 150})
    for bad in ("main", "main=ninety", ""):
        with pytest.raises(InvalidSpec):
            parse_traffic(bad)
    with pytest.raises(Conflict):
        draft.add_predictor("canary")
    draft.delete_predictor(2)
    draft.delete_predictor(1)
    with pytest.raises(Conflict, match="at least one"):
        draft.delete_predictor(0)


def test_undo_and_redo_walk_the_history(draft):
    draft.add_child(PRED, node("a"))
    draft.rename(ROOT, "b")
    assert draft.undo() and names(draft) == ["a"]
    assert draft.undo() and draft.is_empty(0)
    assert not draft.undo()
    assert draft.redo() and draft.redo() and names(draft) == ["b"]
    assert not draft.redo()
    draft.undo()
    draft.rename(ROOT, "c")  # a new edit drops the redo branch
    assert not draft.can_redo


def test_save_writes_a_manifest_that_loads_and_validates(draft):
    draft.add_child(PRED, BY_KEY["ab-router"].node("ab"))
    draft.add_child(ROOT, BY_KEY["python-model"].node("a", import_path="tests.components.models.Doubler"))
    draft.add_child(ROOT, BY_KEY["python-model"].node("b", import_path="tests.components.models.Doubler"))
    path = draft.save()
    assert not draft.dirty and path.name == "scoring.yaml"
    dep = load_file(path)
    assert [n.name for _, n in dep.nodes()] == ["ab", "a", "b"]
    assert not [p for p in validate(dep, check_imports=False) if p.is_error]
    with pytest.raises(Conflict, match="exists"):
        GraphDraft.new("scoring", path.parent)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_opening_and_saving_a_seldon_example_changes_nothing_but_the_edit(example, tmp_path):
    """Fields the console does not interpret (componentSpecs, annotations...) survive edits."""
    original = load_file(example)
    draft = GraphDraft.open(example)
    assert not draft.dirty
    assert draft.text() == dump_yaml(original)
    draft.rename(ROOT, "renamed-root")
    draft.undo()
    assert draft.text() == dump_yaml(original)
    draft.rename(ROOT, "renamed-root")
    saved = load_file(draft.save(tmp_path / example.name))
    assert saved.predictors[0].graph.name == "renamed-root"
    assert saved.predictors[0].component_specs == original.predictors[0].component_specs
    assert saved.raw.get("metadata") == original.raw.get("metadata")


def test_every_kind_writes_a_node_that_loads():
    for kind in KINDS:
        item = kind.node("n", model_uri="models:/m@champion", import_path="pkg.mod.Class")
        assert item["type"] == kind.type and item["children"] == []
        if kind.needs == "model":
            assert item["modelUri"] == "models:/m@champion"
        if kind.needs == "import":
            assert item["implementation"] == "pkg.mod.Class"
