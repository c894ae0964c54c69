"""A model version's fairness: per-group rates and disparities, computed on demand in a worker.

By default on the evaluation dataset the version's run logged (label and sensitive columns
guessed from it); `load(path=..., label=..., sensitive=...)` computes on another file.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.errors import ConsoleError
from console.governance.fairness import FairnessReport


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def report_table(report: FairnessReport) -> Table:
    """One sensitive attribute: a row per group, then all."""
    table = Table(title=Text(f"{report.sensitive}", style="bold"), title_justify="left", expand=False,
                  show_edge=False, pad_edge=False)
    for header in ("group", "rows", "positives", "selection", "TPR", "FPR", "accuracy"):
        table.add_column(header, justify="left" if header == "group" else "right")
    for g in [*report.groups, report.overall]:
        table.add_row(g.group, f"{g.count:,}", f"{g.positives:,}", _rate(g.selection_rate), _rate(g.tpr),
                      _rate(g.fpr), _rate(g.accuracy), style="bold" if g is report.overall else "")
    return table


def disparity_line(report: FairnessReport) -> Text:
    odds = report.equalized_odds_difference
    return Text(f"demographic parity difference {report.demographic_parity_difference:.3f}   "
                f"equalized odds difference {'n/a' if odds is None else f'{odds:.3f}'}", style="italic")


def reports_renderable(reports: Sequence[FairnessReport]) -> Group:
    first = reports[0]
    head = Text()
    head.append(f"{first.data}", style="bold")
    head.append(f"  {first.rows:,} rows, label {first.label}, positive when score ≥ {first.threshold:g}\n")
    head.append("f: compute on another file   x: explain a row", style="dim")
    parts: list = [head]
    for report in reports:
        parts += [Text(""), report_table(report), disparity_line(report)]
    return Group(*parts)


class FairnessPanel(VerticalScroll):
    """Shows the fairness of one model version; computes when first asked."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(Static("open this tab to compute fairness on the logged evaluation data",
                                id="fairness-report"), id=id)
        self.loaded_for: tuple | None = None
        self.busy = False
        self.shown = None  # what the panel shows now (a rich renderable), for tests and copies

    def load(self, registry, uri: str, *, path: str | None = None, label: str | None = None,
             sensitive: Sequence[str] = (), threshold: float = 0.5, force: bool = False) -> None:
        """Compute (in a worker) unless the same thing is shown or being computed."""
        key = (uri, path, label, tuple(sensitive), threshold)
        if self.busy or (key == self.loaded_for and not force):
            return
        self.busy = True
        self.loaded_for = key
        where = path or "the evaluation data its run logged"
        self._text(Text(f"computing fairness of {uri} on {where}… (loads the model)", style="dim"))

        def work() -> None:
            from console.governance.fairness_run import fairness_of

            try:
                reports = fairness_of(registry, uri, data=path, label=label, sensitive=sensitive,
                                      threshold=threshold)
            except ConsoleError as exc:
                self._deliver(Text(f"✖ {exc}", style="bold"))
            except Exception as exc:  # never a traceback on screen
                self._deliver(Text(f"✖ unexpected error: {type(exc).__name__}: {exc}", style="bold"))
            else:
                self._deliver(reports_renderable(reports))

        self.run_worker(work, thread=True, group="fairness", exit_on_error=False)

    def _deliver(self, renderable) -> None:
        try:
            self.app.call_from_thread(self._text, renderable, True)
        except Exception:  # the screen went away while we computed
            pass

    def _text(self, renderable, done: bool = False) -> None:
        if done:
            self.busy = False
        self.shown = renderable
        self.query_one("#fairness-report", Static).update(renderable)


def parse_fairness_prompt(text: str) -> tuple[str, str | None, list[str]]:
    """'PATH [label=COL] [sensitive=A,B]' -> (path, label, sensitive)."""
    path, label, sensitive = "", None, []
    for token in text.split():
        if token.startswith("label="):
            label = token[len("label="):] or None
        elif token.startswith("sensitive="):
            sensitive = [s for s in token[len("sensitive="):].split(",") if s]
        elif not path:
            path = token
    return path, label, sensitive
