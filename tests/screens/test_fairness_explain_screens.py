"""Fairness in the version detail, explanations from a typed row and from the Monitor's request tail.

The snapshot explains the demo champion (a linear model: the exact method, no sampling) on the
first row of its logged input example, against the snapshot registry's fixed training data.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from textual.widgets import Input

from backends.local.serving.request_log import RequestLog
from console.app import MLConsoleApp
from console.config import default_registry_uri, load_settings
from console.data.demo_dataset import write_demo_datasets
from console.data.request_log import log_dir
from console.graph.demo_graph import APPLICATION, write_demo_graph
from console.graph.executor import GraphExecutor
from console.graph.manifest_io import load_manifest
from console.types import DeploymentDetail, DeploymentSummary, Health, HealthState
from console.wiring import Backends, make_backends
from screens.explanation import ExplanationScreen
from screens.monitor import MonitorScreen
from screens.version_detail import VersionDetailScreen
from tests.screens.helpers import make_app, settle
from tests.screens.test_snapshots_registry import goto_versions

SIZES = [(120, 40), (80, 24)]


async def goto_version(pilot, version: str) -> None:
    await goto_versions(pilot)
    table = pilot.app.screen.query("ResourceTable").first().table
    table.move_cursor(row=[str(k.value) for k in table.rows].index(version))
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, VersionDetailScreen)


async def explain_example_row(pilot) -> None:
    await goto_version(pilot, "1")
    await pilot.press("x")
    await settle(pilot)
    prompt = pilot.app.screen.query_one(Input)
    assert json.loads(prompt.value)["age"]  # prefilled with the version's input example
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ExplanationScreen)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_explanation_view_snapshot(snap_compare, snapshot_registry, snapshot_home, pinned_clock, size):
    app = make_app(snapshot_home, registry=default_registry_uri(snapshot_registry))
    assert snap_compare(app, terminal_size=size, run_before=explain_example_row)


async def test_explanation_of_a_typed_row_then_the_sampled_method(snapshot_registry, snapshot_home):
    app = make_app(snapshot_home, registry=default_registry_uri(snapshot_registry))
    async with app.run_test(size=(120, 40)) as pilot:
        await explain_example_row(pilot)
        screen = pilot.app.screen
        exact = screen.result
        assert exact.method == "linear-exact" and abs(exact.residual) < 1e-9
        assert "prediction" in str(screen.query_one("#explain-header").render())
        bars = str(screen.query_one("#explain-bars").render())
        assert exact.contributions[0].feature in bars and "│" in bars
        await pilot.press("m")
        await settle(pilot)
        sampled = screen.result
        assert sampled.method == "sampling-shap" and sampled.space == "probability"
        assert abs(sampled.residual) < 1e-9
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(pilot.app.screen, VersionDetailScreen)


async def test_fairness_tab_computes_on_the_logged_evaluation_data(snapshot_registry, snapshot_home):
    app = make_app(snapshot_home, registry=default_registry_uri(snapshot_registry))
    async with app.run_test(size=(120, 40)) as pilot:
        await goto_version(pilot, "2")
        for _ in range(6):
            await pilot.press("right_square_bracket")
        await settle(pilot)
        report = pilot.app.screen.query_one("#fairness-panel")
        for _ in range(100):
            if "demographic parity difference" in _plain(report):
                break
            await pilot.pause(0.1)
            await settle(pilot, rounds=1)
        text = _plain(report)
        assert "eval.parquet" in text and "label default" in text
        assert "sex" in text and "age_band" in text and text.count("demographic parity difference") == 2
        # Another file without a label or the attribute: a clear error naming the columns there are.
        bad = snapshot_home / "no-label.csv"
        bad.write_text("age,income\n30,1000\n")
        await pilot.press("f")
        await settle(pilot)
        await pilot.press(*f"{bad} label=default sensitive=sex", "enter")
        await settle(pilot)
        text = _plain(report)
        assert "label column 'default' is not in" in text and "its columns: age, income" in text


def _plain(panel) -> str:
    """What the fairness panel shows, as plain text (rendered at 120 columns)."""
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    if panel.shown is not None:
        Console(file=out, width=120, color_system=None).print(panel.shown)
    return out.getvalue()


class OneDeploymentCluster:
    """A cluster that serves the demo graph as deployment credit-risk (no processes: the Monitor's
    request tail reads the request log written below, the explanation replays the graph in-process)."""

    kind = "stub"
    endpoint = "stub"

    def __init__(self, manifest: str) -> None:
        self.manifest = manifest

    def health(self) -> Health:
        return Health(HealthState.UP, "stub", self.endpoint)

    def list_deployments(self):
        return [DeploymentSummary("credit-risk", phase="Available")]

    def list_rollouts(self):
        return []

    def get_deployment(self, name):
        return DeploymentDetail(DeploymentSummary(name, phase="Available"), self.manifest)


async def test_monitor_explains_the_selected_logged_request(seeded_home, home):
    settings = load_settings({"home": str(home), "registry": default_registry_uri(seeded_home)}, env={})
    write_demo_datasets(home)
    manifest = write_demo_graph(home).read_text()
    real = make_backends(settings)
    backends = Backends(OneDeploymentCluster(manifest), real.registry, real.metrics)
    # One request as the gateway logs it: the application only (the bureau supplies the rest).
    row = pd.read_parquet(home / "data" / "credit-risk" / "eval.parquet").iloc[3]
    request = {"data": {"names": APPLICATION, "ndarray": [[_plain_value(row[c]) for c in APPLICATION]]}}
    executor = GraphExecutor(load_manifest(manifest, "demo"), real.registry.model_source())
    response = executor.predict(request)
    log = RequestLog(log_dir(home, "credit-risk"), "credit-risk")
    log.record("req-1", "main", False, 200, 12.5, json.dumps(request), json.dumps(response), "/api/v1.0/predictions")
    assert log.flush() == 1
    routed = "challenger" if response["meta"]["routing"]["ab-test"] == 1 else "champion"

    app = MLConsoleApp(settings, backends=backends)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, MonitorScreen)
        screen.query_one("#monitor-tabs").active = "tab-requests"
        for _ in range(50):
            await settle(pilot, rounds=1)
            if screen.tail_entries:
                break
        assert [e.id for e in screen.tail_entries] == ["req-1"]
        await pilot.press("x")
        for _ in range(100):
            await settle(pilot, rounds=1)
            if isinstance(pilot.app.screen, ExplanationScreen) and pilot.app.screen.result is not None:
                break
        result = pilot.app.screen.result
        assert result.model_uri == f"models:/credit-risk@{routed}"
        values = {c.feature: c.value for c in result.contributions}
        # The bureau's columns came from the replayed enrichment, not from the request.
        assert values["num_late_payments"] == row["num_late_payments"]
        assert values["income"] == pytest.approx(row["income"]) or pd.isna(row["income"])
        assert abs(result.residual) < 1e-9


def _plain_value(value):
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and value != value else value
