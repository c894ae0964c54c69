"""The box drawing of graphs: exact output for a known graph, and every graph within the width."""

from pathlib import Path

import pytest

from console.graph.layout import cells, render_graph
from console.graph.manifest_io import load_file, load_manifest
from console.graph.spec import Deployment, Node, Parameter, Predictor

REPO = Path(__file__).resolve().parents[1]
from tests.seldon_fixtures import EXAMPLES  # noqa: E402

CREDIT = load_manifest("""
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: credit}
spec:
  predictors:
  - name: main
    traffic: 90
    replicas: 2
    graph:
      name: prep
      implementation: MLCONSOLE_FEATURE_TRANSFORMER
      children:
      - name: ab-test
        implementation: RANDOM_ABTEST
        children:
        - {name: champion, modelUri: 'models:/credit-risk@champion'}
        - {name: challenger, modelUri: 'models:/credit-risk@challenger'}
  - name: canary
    traffic: 10
    graph: {name: candidate, modelUri: 'models:/credit-risk/3'}
""")

CREDIT_AT_80 = """\
predictor main  traffic 90%  replicas 2
                 ┌───────────────────────────────┐
                 │ prep            [TRANSFORMER] │
                 │ MLCONSOLE_FEATURE_TRANSFORMER │
                 └───────────────┬───────────────┘
                       ┌─────────┴────────┐
                       │ ab-test [ROUTER] │
                       │ RANDOM_ABTEST    │
                       └─────────┬────────┘
                ┌────────────────┴─────────────────┐
┌───────────────┴──────────────┐  ┌────────────────┴───────────────┐
│ champion             [MODEL] │  │ challenger             [MODEL] │
│ models:/credit-risk@champion │  │ models:/credit-risk@challenger │
└──────────────────────────────┘  └────────────────────────────────┘

predictor canary  traffic 10%
┌───────────────────────┐
│ candidate     [MODEL] │
│ models:/credit-risk/3 │
└───────────────────────┘"""

CREDIT_MAIN_AT_36 = """\
predictor main  traffic 90%  replic…
┌───────────────────────────────┐
│ prep            [TRANSFORMER] │
│ MLCONSOLE_FEATURE_TRANSFORMER │
└───────────────┬───────────────┘
          ┌─────┘
┌─────────┴────────┐
│ ab-test [ROUTER] │
│ RANDOM_ABTEST    │
└┬─────────────────┘
 │ ┌──────────────────────────────┐
 ├─┤ champion             [MODEL] │
 │ │ models:/credit-risk@champion │
 │ └──────────────────────────────┘
 │ ┌───────────────────────────────┐
 └─┤ challenger            [MODEL] │
   │ models:/credi…isk@challenger  │
   └───────────────────────────────┘"""


def test_a_known_graph_draws_exactly():
    assert "\n".join(render_graph(CREDIT, 80)) == CREDIT_AT_80


def test_children_that_do_not_fit_side_by_side_are_stacked():
    assert "\n".join(render_graph(CREDIT.predictors[0], 36)) == CREDIT_MAIN_AT_36


def test_narrower_boxes_are_tried_before_stacking():
    lines = render_graph(CREDIT, 60)
    assert "│ champion     [MODEL] │  │ challenger   [MODEL] │" in lines  # still side by side


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("width", [80, 60])
def test_every_fixture_fits_the_width(path, width):
    dep = load_file(path)
    lines = render_graph(dep, width)
    assert lines and all(cells(line) <= width and len(line) <= width for line in lines)
    for predictor in dep.predictors:
        for node in predictor.graph.walk():
            assert any(node.name[:8] in line for line in lines), node.name
    assert render_graph(dep, width) == lines  # deterministic


def test_fixture_badges_and_headers():
    text = "\n".join(render_graph(load_file(REPO.parent / "shared/fixtures/seldon/examples/"
                                             "graph_examples_tin-model-tout.yaml"), 80))
    assert "[OUTPUT_TRANSFORMER]" in text and "[TRANSFORMER]" in text and "[MODEL]" in text
    assert text.splitlines()[0] == "predictor test  traffic 100% (sole predictor)  replicas 1"
    shadow = Deployment(name="d", predictors=[
        Predictor(name="main", graph=Node(name="m", model_uri="models:/a/1")),
        Predictor(name="mirror", shadow=True, graph=Node(name="m", model_uri="models:/a/2"))])
    headers = [line for line in render_graph(shadow) if line.startswith("predictor")]
    assert headers == ["predictor main  traffic 100% (sole predictor)",
                       "predictor mirror  shadow (gets a copy of every request)"]


def test_three_children_side_by_side_and_a_combiner_joint():
    node = Node(name="vote", implementation="MLCONSOLE_COMBINER", parameters=[Parameter("method", "majority")],
                children=[Node(name=f"m{i}", model_uri=f"models:/credit-risk/{i}") for i in (1, 2, 3)])
    lines = render_graph(node, 80)
    assert "┼" in lines[4] and lines[4].count("┐") == 1 and lines[4].count("┌") == 1
    assert sum(line.count("[MODEL]") for line in lines) == 3 and len(lines) == 9


@pytest.mark.parametrize("width", [80, 60, 30, 12, 1])
def test_odd_names_deep_and_wide_graphs_stay_within_width(width):
    wide = Node(name="路由器-ルーター", type="ROUTER",
                children=[Node(name=f"模型{i}\tx\u0301", model_uri="s3://bucket/" + "m" * 90) for i in range(7)])
    deep = Node(name="leaf", model_uri="models:/a/1")
    for i in range(60):
        deep = Node(name=f"level-{i}", type="TRANSFORMER", implementation="MLCONSOLE_FEATURE_TRANSFORMER",
                    children=[deep, Node(name=f"side-{i}", model_uri="models:/a/1")])
    odd = Node(name="", type="WEIRD", children=[Node(name="x" * 200)])
    for graph in (wide, deep, odd):
        lines = render_graph(Predictor(name="p" * 100, graph=graph, traffic=7), width)
        assert all(cells(line) <= width and len(line) <= width for line in lines)
        assert not any(ch in line for line in lines for ch in "\t\n\r")
    assert any("more nodes below" in line for line in render_graph(deep, 300))


def test_the_layout_is_plain_text():
    import console.graph.layout as layout

    assert "textual" not in layout.__dict__ and "rich" not in layout.__dict__
