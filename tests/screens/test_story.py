"""The newcomer's story, end to end by keys, on the embedded defaults (README "A short tour").

`mlconsole demo` seeds a fresh home (the sqlite registry inside it, no MLflow server); then one
console session explores the training data, browses the registry, changes the demo graph in the
builder and saves it, deploys it (real supervisor, gateway and graph-server processes loading the
models from the sqlite store), watches `mlconsole traffic` in the Monitor (the runtime's own
metrics, no Prometheus), ships the challenger with a canary that moves @champion, rehearses a
rollback drill that aborts on its own, checks the audit chain, traces the deployment's lineage and
reads the champion's model card. Every step asserts what the screen, the files, the registry and
the audit log say. The demo's strategies run with shorter pauses and windows, as in
test_rollout_walkthrough.py.
"""

from __future__ import annotations

import importlib.util
import io
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from rich.text import Text
from textual.widgets import Tree

from backends.mlflow.registry import MlflowRegistry
from console.config import default_registry_uri
from console.governance.audit import AuditLog
from screens.audit import AuditScreen
from screens.cluster import ClusterScreen
from screens.data import DataScreen
from screens.fuzzy_picker import FuzzyPicker
from screens.graph_builder import GraphBuilderScreen
from screens.graphs import GraphsScreen
from screens.lineage import LineageScreen
from screens.model_versions import ModelVersionsScreen
from screens.monitor import MonitorScreen
from screens.node_editor import NodeEditor
from screens.registry import RegistryScreen
from screens.version_detail import VersionDetailScreen
from screens.widgets.column_panel import ColumnPanel
from screens.widgets.data_grid import DataGrid
from screens.widgets.resource_table import ResourceTable
from tests.conftest import subprocess_env
from tests.local_runtime import ROOT, stop_runtime
from tests.screens.helpers import make_app, settle
from tests.screens.test_cluster_view import cells, notices, until
from tests.screens.test_data_view import pick, wait_idle
from tests.screens.test_lineage_view import labels
from tests.screens.test_rollout_walkthrough import (
    follow_canary_to_completion,
    quicken_strategy,
    start_rollout_by_keys,
)

pytestmark = pytest.mark.timeout(420)

HEADINGS = ["Intended use", "Training data", "Metrics", "Fairness", "Lineage", "Deployment and rollout history"]


class Story:
    """What the story starts outside the console, for the fixture to stop whatever happens."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.load: subprocess.Popen | None = None
        self.started = self.last = time.monotonic()

    def step(self, what: str) -> None:
        """Print how long the step took (-s shows it); nothing asserts timings."""
        now = time.monotonic()
        print(f"story: {what}: {now - self.last:.1f}s (total {now - self.started:.1f}s)")
        self.last = now

    def stop_traffic(self) -> None:
        """SIGINT the traffic generator (ctrl+c, as a person stops it), SIGKILL if it hangs."""
        if self.load is None:
            return
        if self.load.poll() is None:
            self.load.send_signal(signal.SIGINT)
        try:
            self.load.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.load.kill()
            self.load.wait(timeout=10)


@pytest.fixture
def story(home):
    state = Story(home)
    yield state
    state.stop_traffic()
    stop_runtime(home)


def cli(home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), *args],
                          capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=timeout)


def seed_demo(home: Path) -> str:
    """`mlconsole demo` into the fresh home; the demo strategies made faster. The challenger's version."""
    out = cli(home, "demo")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "demo workspace ready" in out.stdout, out.stdout
    assert (home / "registry" / "mlflow.db").is_file()  # the embedded registry, inside the home
    for name in ("credit-risk.yaml", "credit-risk-challenger.yaml"):
        assert (home / "graphs" / name).is_file(), name
    challenger = MlflowRegistry(default_registry_uri(home)).get_model("credit-risk").aliases["challenger"]
    for name in ("challenger-canary.yaml", "challenger-drill.yaml"):
        quicken_strategy(home / "rollouts" / name)
    return str(challenger)


def aliases(home: Path) -> dict[str, str]:
    return {k: str(v) for k, v in MlflowRegistry(default_registry_uri(home)).get_model("credit-risk")
            .aliases.items()}


def rendered(widget) -> str:
    """A Static's text as the screen shows it (rich tables rendered at the widget's width)."""
    content = widget.content
    if isinstance(content, str | Text):
        return str(content)
    console = Console(width=max(widget.size.width, 40), file=io.StringIO(), color_system=None)
    console.print(content)
    return console.file.getvalue()


async def press_until_row(pilot, table, key: str) -> None:
    """Move the table's cursor with the arrow keys onto the row whose key is `key`."""
    keys = [str(k.value) for k in table.rows]
    assert key in keys, keys
    for _ in range(len(keys)):
        current = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        if current == key:
            return
        await pilot.press("down" if keys.index(key) > keys.index(current) else "up")
    assert str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value) == key


async def choose(pilot, text: str, expected: str) -> None:
    """Type into the open picker and take the highlighted choice, checking it is the one meant."""
    await until(pilot, lambda: isinstance(pilot.app.screen, FuzzyPicker) and pilot.app.screen.choices,
                what="the picker's choices")
    await pilot.press(*text)
    await pilot.pause(0.2)
    picker = pilot.app.screen
    assert picker.shown and picker.shown[0].label == expected, [c.label for c in picker.shown]
    await pilot.press("enter")


async def test_the_newcomer_story_by_keys_on_the_embedded_defaults(story):
    home = story.home
    # 1. Seed the demo into a fresh home, as `mlconsole demo` does.
    challenger = seed_demo(home)
    before = aliases(home)
    assert before == {"champion": "1", "challenger": challenger} and challenger == "2", before
    eval_data = home / "data" / "credit-risk" / "eval.parquet"
    graph_file = home / "graphs" / "credit-risk.yaml"
    graph_before = graph_file.read_text()
    story.step("demo seeded")

    # 2. The console on the embedded defaults: sqlite registry, local runtime, its own metrics.
    app = make_app(home)
    settings = app.settings
    assert settings.registry_is_embedded and (settings.cluster_kind, settings.metrics_kind) == ("local", "local")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)

        story.step("console started")
        # 3. Data: open the demo training data with the picker, profile a column with enter.
        await pilot.press("2")
        await settle(pilot)
        data = app.screen
        assert isinstance(data, DataScreen)
        grid = data.query_one(DataGrid)
        await pilot.press("o")
        await pick(pilot, "credit-risk/train")
        await until(pilot, lambda: data.dataset is not None and grid.total is not None, timeout=60,
                    what="the training data")
        await wait_idle(pilot, data)
        assert data.dataset.name == "train" and grid.total == 19_200, (data.dataset.spec, grid.total)
        assert "train" in rendered(data.query_one("#data-header")) and "19,200 rows" in rendered(
            data.query_one("#data-header"))
        await pilot.press("home", "right", "right")
        assert grid.current_column == "income", grid.current_column
        await pilot.press("enter")
        await wait_idle(pilot, data, "the income profile")
        panel = data.query_one(ColumnPanel)
        assert panel.display
        profile = data.profiles[(data.selection, "income")]
        assert profile.rows == 19_200 and 0 < profile.missing < 19_200 and profile.mean > 0
        title, stats = rendered(panel.query_one("#column-title")), rendered(panel.query_one("#column-stats"))
        assert title.startswith("income") and "numeric" in title, title
        for label in ("rows", "missing", "distinct", "min", "max", "mean", "std", "p50"):
            assert label in stats, stats

        story.step("data")
        # 4. Registry: credit-risk's versions with their badges, then one version's detail.
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, RegistryScreen)
        models = app.screen.query_one("#registry-models", ResourceTable).table
        assert {str(k.value) for k in models.rows} == {"credit-risk", "fraud-detector"}
        await press_until_row(pilot, models, "credit-risk")
        await pilot.press("enter")
        await settle(pilot)
        versions_screen = app.screen
        assert isinstance(versions_screen, ModelVersionsScreen)
        versions = versions_screen.query_one("#model-versions", ResourceTable).table
        await until(pilot, lambda: versions.row_count == 3, what="the versions")
        badges = {str(k.value): str(versions.get_row(k)[2]).strip() for k in versions.rows}
        assert badges == {"1": "@champion", "2": "@challenger", "3": ""}, badges
        await press_until_row(pilot, versions, "2")
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, VersionDetailScreen)
        await until(pilot, lambda: detail.version is not None and detail.run is not None, what="the version detail")
        overview = rendered(detail.query_one("#detail-overview"))
        assert "credit-risk  version 2" in overview and "@challenger" in overview, overview
        assert "models:/credit-risk/2" in overview and detail.version.run_id in overview
        await pilot.press("right_square_bracket", "right_square_bracket")  # overview -> run -> data
        await settle(pilot)
        inputs = detail.query_one("#data-inputs", ResourceTable).table
        assert {str(inputs.get_row(k)[0]) for k in inputs.rows} == {"credit-risk-train", "credit-risk-eval"}
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert isinstance(app.screen, RegistryScreen)

        story.step("registry")
        # 5. Graphs: open credit-risk.yaml in the builder, send 80% of the A/B to the champion, save.
        await pilot.press("4")
        await settle(pilot)
        assert isinstance(app.screen, GraphsScreen)
        listing = app.screen.query_one("#graphs-list", ResourceTable).table
        await until(pilot, lambda: "credit-risk.yaml" in [str(k.value) for k in listing.rows], what="the graphs")
        await press_until_row(pilot, listing, "credit-risk.yaml")
        await pilot.press("enter")
        await settle(pilot)
        builder = app.screen
        assert isinstance(builder, GraphBuilderScreen) and builder.draft.name == "credit-risk"
        await until(pilot, lambda: builder.deployment is not None and "valid" in rendered(
            builder.query_one("#builder-header")), what="the demo graph validated")
        for _ in range(4):  # from the root (decision): application, bureau, outliers, ab-test
            await pilot.press("down")
        await settle(pilot)
        assert builder.draft.node(builder.selected)["name"] == "ab-test"
        await pilot.press("e")
        await settle(pilot)
        editor = app.screen
        assert isinstance(editor, NodeEditor)
        area = editor.query_one("#node-editor-text")
        lines = area.text.splitlines()
        assert lines[4:6] == ["- name: ratioA", "  value: '0.5'"], lines
        await pilot.press(*["down"] * 5, "end", "left", "backspace", "8")  # '0.5' -> '0.8'
        assert area.text.splitlines()[5] == "  value: '0.8'", area.text
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is builder and builder.draft.dirty
        assert builder.draft.node(builder.selected)["parameters"][0]["value"] == "0.8"
        assert "ratioA = 0.8" in rendered(builder.query_one("#builder-node"))
        await until(pilot, lambda: builder.problems is not None and builder.deployment is not None
                    and "valid" in rendered(builder.query_one("#builder-header")), what="validation")
        assert not [p for p in builder.problems if p.is_error], [p.message for p in builder.problems]
        assert builder.query_one("#builder-problems", ResourceTable).table.row_count == len(builder.problems)
        assert graph_file.read_text() == graph_before  # nothing written before ctrl+s
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not builder.draft.dirty and f"saved {graph_file}" in notices(app)
        saved = graph_file.read_text()
        assert saved != graph_before
        router = yaml.safe_load(saved)["spec"]["predictors"][0]["graph"]
        for _ in range(4):  # decision -> application -> bureau -> outliers -> ab-test
            router = router["children"][0]
        assert router["name"] == "ab-test" and router["parameters"][0] == {"name": "ratioA", "value": "0.8",
                                                                          "type": "FLOAT"}
        await pilot.press("escape")  # saved: leaves without asking
        await settle(pilot)
        assert isinstance(app.screen, GraphsScreen)

        story.step("graph builder")
        # 6. Deploy it from the Cluster view: a, pick the manifest, confirm; real processes come up.
        await pilot.press("5")
        await settle(pilot)
        cluster = app.screen
        assert isinstance(cluster, ClusterScreen)
        await pilot.press("a")
        await choose(pilot, "credit-risk.yaml", "credit-risk.yaml")
        await until(pilot, lambda: type(app.screen).__name__ == "DiffConfirm", timeout=60,
                    what="the deploy confirmation")
        assert "Create deployment credit-risk?" in rendered(app.screen.query_one("#diff-confirm-question"))
        await pilot.press("y")
        deployments = cluster.query_one("#cluster-deployments", ResourceTable)
        await until(pilot, lambda: cells(deployments, 2) == ["Available"], timeout=150,
                    what="credit-risk Available")
        assert cells(deployments, 0) == ["credit-risk"] and cells(deployments, 3) == ["1/1"]
        assert cells(deployments, 4) == ["main 100"]
        assert cells(deployments, 5)[0].startswith("http://127.0.0.1:")
        deploy = AuditLog(home).entries()[-1]
        assert (deploy.action, deploy.target, deploy.reason) == ("cluster.deploy", "local/credit-risk", "created")

        story.step("deploy")
        # 7. Live traffic from the demo's evaluation data; the Monitor shows it per predictor.
        story.load = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "--home", str(home), "traffic", "credit-risk", "--rate", "30",
             "--duration", "240", "--from-dataset", str(eval_data), "--json"],
            cwd=ROOT, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await pilot.press("7")
        await settle(pilot)
        monitor = app.screen
        assert isinstance(monitor, MonitorScreen)
        predictors = monitor.query_one("#monitor-predictors", ResourceTable)

        def main_rate() -> float:
            rows = {str(predictors.table.get_row(k)[0]): predictors.table.get_row(k) for k in predictors.table.rows}
            try:
                return float(str(rows["main"][1])) if "main" in rows else 0.0
            except ValueError:  # "–": no figure yet
                return 0.0

        await until(pilot, lambda: monitor.deployment == "credit-risk" and main_rate() > 0, timeout=90,
                    what="a non-zero request rate on main")
        assert story.load.poll() is None, "the traffic generator is still running"
        figures = {p.name: p for p in monitor.metrics.predictors}
        assert figures["main"].request_rate > 0 and figures["main"].latency_p50 is not None
        assert "credit-risk" in rendered(monitor.query_one("#monitor-header"))

        story.step("monitor")
        # 8. A canary of the challenger that promotes; @champion moves to its version.
        await start_rollout_by_keys(app, pilot, "challenger-canary")
        rollouts = await follow_canary_to_completion(app, pilot, timeout=180)
        table = rollouts.query_one("#rollouts-table", ResourceTable)
        await until(pilot, lambda: cells(table, 3) == ["Completed"], what="Completed in the table")
        assert aliases(home)["champion"] == challenger, "the champion alias moved with the promotion"
        await pilot.press("5")
        await settle(pilot)
        story.step("canary")
        await until(pilot, lambda: cells(deployments, 4) == ["main 100"] and cells(deployments, 2) == ["Available"],
                    timeout=90, what="the old predictor removed")
        story.step("canary finished (old predictor gone)")
        # 9. A drill that rolls back on its own: traffic back on stable, @champion untouched.
        await start_rollout_by_keys(app, pilot, "challenger-drill")
        await pilot.press("6")
        await settle(pilot)
        rollouts = app.screen
        await until(pilot, lambda: rollouts.rollouts.get("credit-risk") is not None
                    and rollouts.rollouts["credit-risk"].phase == "Aborted", timeout=120, what="the drill aborted")
        assert "error_rate" in rollouts.rollouts["credit-risk"].message
        await pilot.press("5")
        await settle(pilot)
        await until(pilot, lambda: cells(deployments, 4) == ["main 100"], timeout=60,
                    what="all traffic back on the stable predictor")
        assert aliases(home)["champion"] == challenger, "a rolled-back drill leaves the alias where it was"
        story.stop_traffic()  # what follows needs no traffic; the CPU goes to the lineage and the card

        story.step("drill")
        # 10. The audit: the chain verifies and shows the deploy, both starts, the alias move, the abort.
        await pilot.press("8")
        await settle(pilot)
        audit = app.screen
        assert isinstance(audit, AuditScreen)
        await until(pilot, lambda: audit.check is not None, what="the audit verified")
        verdict = rendered(audit.query_one("#audit-verify"))
        assert verdict.startswith("✔ VERIFIED") and audit.check.ok, verdict
        audit_table = audit.query_one("#audit-table", ResourceTable)
        actions = cells(audit_table, 3)
        targets = cells(audit_table, 4)
        for action, target in (("cluster.deploy", "local/credit-risk"), ("rollout.start.request", "local/credit-risk"),
                               ("registry.alias.set", "credit-risk@champion"), ("rollout.abort", "local/credit-risk")):
            assert any(a == action and t == target for a, t in zip(actions, targets, strict=True)), (action, actions)
        assert actions.count("rollout.start.request") == 2, actions
        assert actions[0] != "registry.seed" and actions[-1] == "registry.seed", actions  # newest first
        await until(pilot, lambda: cells(audit_table, 3) == [e.action for e in reversed(AuditLog(home).entries())],
                    timeout=30, what="every entry of the log on screen")

        story.step("audit")
        # 11. Lineage: L on credit-risk in the Cluster view, from the deployment down to the data.
        await pilot.press("5")
        await settle(pilot)
        await until(pilot, lambda: cluster.selected_deployment() == "credit-risk", what="credit-risk selected")
        await pilot.press("L")
        lineage = app.screen
        assert isinstance(lineage, LineageScreen)
        await until(pilot, lambda: lineage.lineage is not None or "✖" in rendered(lineage.query_one(
            "#lineage-header")), timeout=90, what="the lineage traced")
        await settle(pilot)
        header = rendered(lineage.query_one("#lineage-header"))
        assert header.startswith("✔ credit-risk: 1 model node, 2 datasets: 2 match"), header
        tree = labels(lineage.query_one(Tree))
        run_id = MlflowRegistry(default_registry_uri(home)).get_version("credit-risk", challenger).run_id
        model_line = f"challenger: models:/credit-risk@challenger → credit-risk v{challenger}"
        assert any(t.startswith(model_line) and "@champion" in t for t in tree), tree
        assert any(t.startswith(f"run {run_id[:12]}") for t in tree), tree
        assert any(t.startswith("✔ credit-risk-train digest ") and t.endswith("data matches (training)")
                   for t in tree), tree
        # deployed by the console (audited), and changed since by the canary's promotion
        assert any(t.startswith("! deployed ") and "a different manifest" in t for t in tree), tree
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ClusterScreen)

        story.step("lineage")
        # 12. The champion's model card: K on its version in the Registry (or `mlconsole card`).
        if importlib.util.find_spec("screens.model_card") is not None:
            await pilot.press("3")
            await settle(pilot)
            models = app.screen.query_one("#registry-models", ResourceTable).table
            await press_until_row(pilot, models, "credit-risk")
            await pilot.press("enter")
            await settle(pilot)
            versions = app.screen.query_one("#model-versions", ResourceTable).table
            await until(pilot, lambda: versions.row_count == 3, what="the versions")
            assert "@champion" in str(versions.get_row(challenger)[2])
            await press_until_row(pilot, versions, challenger)
            await pilot.press("enter")
            await settle(pilot)
            await until(pilot, lambda: isinstance(app.screen, VersionDetailScreen) and app.screen.version
                        is not None, what="the champion's detail")
            await pilot.press("K")
            card_screen = app.screen
            assert type(card_screen).__name__ == "ModelCardScreen"
            await until(pilot, lambda: card_screen.markdown is not None or "✖" in rendered(
                card_screen.query_one("#card-header")), timeout=120, what="the model card gathered")
            assert card_screen.markdown is not None, rendered(card_screen.query_one("#card-header"))
            card = card_screen.markdown
            card_header = rendered(card_screen.query_one("#card-header"))
            assert card_header.startswith(f"✔ credit-risk v{challenger}"), card_header
        else:
            out = cli(home, "card", "credit-risk@champion", timeout=180)
            assert out.returncode == 0, out.stdout + out.stderr
            card = out.stdout
    assert_card(card, challenger)
    story.step("model card")


def assert_card(card: str, version: str) -> None:
    """The champion's card: every section, the data it was trained on, the rollout that made it champion."""
    headings = re.findall(r"^##? (.+)$", card, flags=re.M)
    assert headings[0].startswith(f"Model card: credit-risk v{version} (") and "@champion" in headings[0], headings
    assert headings[1:] == HEADINGS, headings
    assert "| credit-risk-train | training |" in card and "| matches |" in card
    assert re.search(r"^\| roc_auc \| 0\.\d{2,4} \|$", card, flags=re.M)
    history = card.split("## Deployment and rollout history", 1)[1]
    assert "registry.alias.set | credit-risk@champion | v1 | v2" in history, history
    assert "cluster.deploy" in history and "rollout.abort" in history, history
