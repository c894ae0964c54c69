"""The Data view by keys: open the demo training data and a deployment's request log, profile columns,
filter, sort, query, compare and find the drifted feature; snapshots of the table, the column panel
with its histogram and the drift table, at 120x40 and 80x24.

The request log is written by the gateway's own writer (RequestLog): rows of the demo evaluation
split with incomes raised by 80%, so `income` is the feature that drifted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from backends.local.serving.request_log import RequestLog, requests_dir
from console.data.demo_dataset import FEATURES, write_demo_datasets
from screens.data import DataScreen
from screens.data_compare import DataCompareScreen
from screens.widgets.column_panel import ColumnPanel
from screens.widgets.data_grid import DataGrid
from screens.widgets.resource_table import ResourceTable
from tests.screens.helpers import make_app, settle
from tests.screens.test_cluster_view import until

REQUEST_TS = 1_795_990_000.0  # pinned: the log's file names and rows do not follow the clock


def drifted_traffic(home: Path, rows: int = 600, per_request: int = 10) -> None:
    """A credit-risk request log: evaluation rows, incomes raised by 80%, 10 rows a request."""
    evaluation = pd.read_parquet(home / "data" / "credit-risk" / "eval.parquet").head(rows)
    evaluation["income"] = evaluation["income"] * 1.8
    log = RequestLog(requests_dir(home, "credit-risk"), "credit-risk")
    records = evaluation[FEATURES].astype(object).where(evaluation[FEATURES].notna(), None).values.tolist()
    for i in range(0, rows, per_request):
        batch = records[i:i + per_request]
        request = json.dumps({"data": {"names": FEATURES, "ndarray": batch}})
        response = json.dumps({"data": {"names": ["t:0", "t:1"], "ndarray": [[0.8, 0.2]] * len(batch)}})
        log.record(f"req-{i}", "main", False, 200, 3.0, request, response, "/api/v1.0/predictions",
                   ts=REQUEST_TS + i)
    assert log.flush() == rows // per_request


@pytest.fixture
def data_home(home):
    write_demo_datasets(home)
    drifted_traffic(home)
    return home


async def wait_idle(pilot, screen: DataScreen, what: str = "the view to settle") -> None:
    await until(pilot, lambda: not screen.busy and not any(w.is_running for w in pilot.app.workers
                                                            if w.group.startswith("data")),
                timeout=30, what=what)
    await pilot.pause(0.1)


async def pick(pilot, text: str) -> None:
    """Type into the open fuzzy picker once its choices have loaded, then choose the first match."""
    from screens.fuzzy_picker import FuzzyPicker

    await until(pilot, lambda: isinstance(pilot.app.screen, FuzzyPicker) and pilot.app.screen.choices,
                what="the picker's choices")
    await pilot.press(*text)
    await pilot.pause(0.2)
    await pilot.press("enter")


async def test_training_data_and_request_log_by_keys_to_the_drifted_feature(data_home):
    train = pd.read_parquet(data_home / "data" / "credit-risk" / "train.parquet")
    app = make_app(data_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, DataScreen)
        grid = screen.query_one(DataGrid)

        # o: the picker lists the demo files and the request log; open the training split.
        await pilot.press("o")
        await pick(pilot, "credit-risk/train")
        await until(pilot, lambda: screen.dataset is not None and grid.total is not None, what="the table")
        await wait_idle(pilot, screen)
        assert screen.dataset.name == "train" and grid.total == len(train)
        assert grid.row(0)[0] == train.applicant_id[0]

        # A far page is fetched when scrolled to, and equals the pandas row.
        await pilot.press("end")
        await until(pilot, lambda: grid.row(len(train) - 1) is not None, what="the last page")
        assert grid.row(len(train) - 1)[0] == train.applicant_id.iloc[-1]
        await pilot.press("home", "right", "right")  # the income column

        # enter profiles the cursor's column into the panel.
        await pilot.press("enter")
        await wait_idle(pilot, screen, "the income profile")
        profile = screen.profiles[(screen.selection, "income")]
        assert profile.mean == pytest.approx(train.income.mean()) and profile.missing == train.income.isna().sum()
        assert screen.query_one(ColumnPanel).display

        # /: filter with SQL; s: sort by the cursor's column; esc clears both.
        await pilot.press("slash")
        await pilot.pause(0.2)
        await pilot.press(*"region = 'north'", "enter")
        await until(pilot, lambda: grid.total == int((train.region == "north").sum()), what="the filter")
        await pilot.press("S")
        await wait_idle(pilot, screen)
        await until(pilot, lambda: grid.row(0) is not None and grid.row(0)[2] == train[train.region == "north"]
                    .income.max(), what="the sort")
        await pilot.press("escape")
        await until(pilot, lambda: grid.total == len(train), what="the filter cleared")

        # F: the column's frequency table, as a table; esc goes back to the data.
        await pilot.press("left", "F")
        await until(pilot, lambda: screen.dataset.kind == "query" and grid.total, what="the frequency table")
        assert grid.row(0)[0] == train.age.value_counts().index[0]
        await pilot.press("escape")
        await until(pilot, lambda: screen.dataset.name == "train", what="back to train")

        # e: the SQL console; ctrl+r runs; the result shows in the same table.
        await pilot.press("e")
        await pilot.pause(0.2)
        editor = screen.query_one("#data-sql")
        editor.text = "SELECT region, count(*) AS n FROM train GROUP BY region ORDER BY n DESC"
        await pilot.press("ctrl+r")
        await until(pilot, lambda: screen.dataset.kind == "query" and grid.total == 5, what="the SQL result")
        assert grid.row(0) == (train.region.value_counts().index[0], int(train.region.value_counts().iloc[0]))
        await pilot.press("escape", "escape")  # close the editor, back to train
        await until(pilot, lambda: screen.dataset.name == "train", what="back to train")

        # C: compare with the request log; the drifted feature is income, first and flagged.
        await pilot.press("C")
        await pick(pilot, "requests of credit")
        await until(pilot, lambda: isinstance(app.screen, DataCompareScreen) and app.screen.comparison,
                    what="the comparison")
        compare = app.screen
        assert compare.comparison.drifted == ["income"]
        table = compare.query_one(ResourceTable).table
        assert str(table.get_row_at(0)[0]) == "income" and "DRIFT" in str(table.get_row_at(0)[-1])
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, what="back to the table")


async def test_bad_files_leave_the_view_usable(data_home, tmp_path):
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    app = make_app(data_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await pilot.pause(0.2)
        screen = app.screen
        app.run_command(f"data {tmp_path / 'ragged.csv'}")
        await until(pilot, lambda: "ragged rows: line 3" in screen.status_text.plain, what="the message")
        assert screen.dataset is None
        app.run_command(f"data {data_home / 'data' / 'fraud' / 'eval.parquet'}")
        await until(pilot, lambda: screen.dataset is not None and screen.query_one(DataGrid).total == 1600,
                    what="the good file")
        app.run_command("data requests:credit-risk")
        await until(pilot, lambda: screen.dataset.name == "requests_credit_risk", what="the request log")
        await wait_idle(pilot, screen)
        assert screen.query_one(DataGrid).total == 600
        assert "income" in [c.name for c in screen.dataset.columns]


# -- snapshots ---------------------------------------------------------------------------------------

SIZES = [(120, 40), (80, 24)]


async def _opened(pilot, home: Path) -> DataScreen:
    await pilot.press("2")
    await settle(pilot)
    pilot.app.run_command(f"data {home / 'data' / 'credit-risk' / 'train.parquet'}")
    screen = pilot.app.screen
    await until(pilot, lambda: screen.dataset is not None and screen.query_one(DataGrid).total, what="open")
    await wait_idle(pilot, screen)
    return screen


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", ["table", "column", "drift"])
def test_data_view_snapshot(snap_compare, snapshot_home, view, size):
    write_demo_datasets(snapshot_home)
    drifted_traffic(snapshot_home)

    async def run_before(pilot):
        screen = await _opened(pilot, snapshot_home)
        if view == "column":
            await pilot.press("right", "right", "enter")
            await wait_idle(pilot, screen)
        elif view == "drift":
            screen.open_spec("requests:credit-risk")
            await until(pilot, lambda: "requests_credit_risk" in screen.session.datasets, what="the log")
            await wait_idle(pilot, screen)
            await pilot.press("escape")  # back to the training data
            await until(pilot, lambda: screen.dataset.name == "train", what="train")
            await wait_idle(pilot, screen)
            screen._push_compare(screen.selection, screen.selection.__class__("requests_credit_risk"))
            await until(pilot, lambda: isinstance(pilot.app.screen, DataCompareScreen)
                        and pilot.app.screen.comparison, what="the comparison")
        await settle(pilot)
        pilot.app.clear_notifications()
        await settle(pilot)

    assert snap_compare(make_app(snapshot_home), terminal_size=size, run_before=run_before)
