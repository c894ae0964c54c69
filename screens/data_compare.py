"""Compare two datasets of the Data view: a drift table per feature, the drifted ones first and
highlighted, with the selected feature's two histograms overlaid (% of rows on shared bins).

The statistics are console.data.drift's (PSI, KS and Wasserstein for numbers, PSI and chi-square
for categories) on repeatable samples of both sides, computed in a worker; esc cancels it,
w swaps which side is the reference, s/S sort the table.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from console.data.compare import Comparison
from console.data.report import number
from console.data.session import DataSession, Selection
from console.errors import ConsoleError
from screens.view import ViewScreen
from screens.widgets.binned_chart import BinnedChart
from screens.widgets.resource_table import ResourceTable, Row


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def drift_rows(comparison: Comparison) -> list[Row]:
    """One row per feature; drifted ones in bold red with a DRIFT flag, others with the reason if any."""
    rows = []
    for r in comparison.results:
        hot = "bold red" if r.drifted else ""
        distance = r.wasserstein if r.kind == "numeric" else r.chi2
        flag = Text("DRIFT", style="bold reverse red") if r.drifted else Text(r.reason[:40], style="dim")
        rows.append(Row(r.feature, (Text(r.feature, style=hot), r.kind, Text(_num(r.psi), style=hot), _num(r.ks),
                                    _num(r.p_value, 2), _num(distance), flag)))
    return rows


class DataCompareScreen(ViewScreen):
    VIEW = "data"
    CSS_PATH = "../themes/data.tcss"

    BINDINGS = [
        Binding("w", "swap", "Swap sides", id="compare.swap"),
        Binding("r", "recompute", "Recompute", id="compare.recompute", show=False),
        Binding("escape", "cancel", "Back / cancel", id="compare.escape", priority=True, show=False),
    ]

    def __init__(self, session: DataSession, reference: Selection, current: Selection) -> None:
        super().__init__()
        self.session = session
        self.reference = reference
        self.current = current
        self.comparison: Comparison | None = None
        self.computing = False

    def compose_body(self) -> ComposeResult:
        yield Static("", id="compare-header")
        with Horizontal(id="compare-body"):
            yield ResourceTable(["feature", "kind", "PSI", "KS", "p", "W / χ²", ""], empty="computing drift…",
                                id="compare-drift", classes="panel")
            yield BinnedChart("select a feature", id="compare-histogram")
        yield Static("", id="compare-status")

    def on_mount(self) -> None:
        self.query_one(ResourceTable).table.focus()
        self.compute()

    def _names(self) -> tuple[str, str]:
        return self.reference.table, self.current.table

    def compute(self) -> None:
        from console.data.compare import compare

        ref_name, cur_name = self._names()
        self.comparison = None
        self.computing = True
        table = self.query_one(ResourceTable)
        table.border_title = f"drift of {cur_name} against {ref_name}"
        self._header(Text.assemble(("reference ", "dim"), (ref_name, "bold green"), ("   current ", "dim"),
                                   (cur_name, "bold yellow"), ("   computing…", "yellow")))
        self._say("sampling both sides and computing drift — esc cancels")
        session, reference, current = self.session, self.reference, self.current

        def work() -> None:
            try:
                result = compare(session, reference, current,
                                 progress=lambda text: self._deliver(self._say, f"{text}… — esc cancels"))
            except ConsoleError as exc:
                self._deliver(self._failed, str(exc))
            except Exception as exc:  # never a traceback on screen
                self._deliver(self._failed, f"unexpected error: {type(exc).__name__}: {exc}")
            else:
                self._deliver(self._show, result)

        self.run_worker(work, thread=True, group="data-compare", exclusive=True, exit_on_error=False)

    def _header(self, text: Text) -> None:
        self.query_one("#compare-header", Static).update(text)

    def _say(self, text: str) -> None:
        self.query_one("#compare-status", Static).update(Text(" " + text))

    def _failed(self, message: str) -> None:
        self.computing = False
        self.query_one(ResourceTable).show_message(message)
        self._say(message)

    def _show(self, comparison: Comparison) -> None:
        self.computing = False
        self.comparison = comparison
        self.query_one(ResourceTable).set_rows(drift_rows(comparison))
        drifted = comparison.drifted
        verdict = (Text(f"{len(drifted)} of {len(comparison.results)} features drifted: {', '.join(drifted)}",
                        style="bold red") if drifted else
                   Text(f"no drift in {len(comparison.results)} features", style="green"))
        self._header(Text.assemble(("reference ", "dim"), (comparison.reference, "green"), ("  current ", "dim"),
                                   (comparison.current, "yellow"), "\n", verdict))
        self._say(f"drift: PSI >= {comparison.psi_threshold:g}, or a test's p < 0.01 with PSI >= 0.1 · "
                  "w swaps sides · s sorts")
        table = self.query_one(ResourceTable).table
        if table.row_count:
            table.move_cursor(row=0)
            self._histogram(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    @on(DataTable.RowHighlighted, "#compare-drift DataTable")
    def _feature(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value is not None:
            self._histogram(str(event.row_key.value))

    def _histogram(self, feature: str) -> None:
        comparison = self.comparison
        if comparison is None:
            return
        chart = self.query_one(BinnedChart)
        ref_name, cur_name = self._names()

        def work() -> None:
            try:
                hist = comparison.histogram(feature)
            except Exception as exc:  # a feature on one side only has nothing to draw
                self._deliver(chart.clear, f"{feature}: {exc}")
                return
            labels = [number(e) for e in hist.edges[:-1]] if hist.edges else [c[:10] for c in hist.categories]
            self._deliver(chart.show, f"{feature}: {ref_name} vs {cur_name} (% of rows)", labels,
                          [(ref_name, hist.reference), (cur_name, hist.current)])

        self.run_worker(work, thread=True, group="data-compare-histogram", exclusive=True, exit_on_error=False)

    def action_swap(self) -> None:
        self.reference, self.current = self.current, self.reference
        self.compute()

    def action_recompute(self) -> None:
        self.compute()

    def action_cancel(self) -> None:
        """esc: stop a computation in progress; otherwise leave (back to the table)."""
        if self.app.screen is not self:
            raise SkipAction()
        if self.computing:
            self.session.cancel()
            self.computing = False
            self._say("cancelled — r computes again, esc goes back")
            self.query_one(ResourceTable).show_message("cancelled")
            return
        table = self.query_one(ResourceTable)
        if table.filter_text:
            raise SkipAction()  # the table's own esc clears its filter
        self.app.pop_screen()
