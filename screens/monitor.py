"""Monitor view: one deployment's live traffic — rate, latency and errors per predictor, each
graph node's latency and rate on the graph itself, and what the model is seeing.

Polls never overlap (the next is scheduled when the last one has been shown) and stop while
the view is hidden. A metrics backend that goes down leaves the last figures on screen,
greyed, with the reason; they come back when it does.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from console.errors import ConsoleError
from console.monitoring import Alerts, parse_thresholds
from console.types import DeploymentMetrics, Series, TrafficFigures
from screens import formatting
from screens.fuzzy_picker import Choice, FuzzyPicker
from screens.text_prompt import TextPrompt
from screens.view import ViewScreen
from screens.widgets.histogram_chart import HistogramChart
from screens.widgets.live_chart import LiveChart
from screens.widgets.resource_table import ResourceTable, Row

WINDOWS = ((60.0, "1m"), (300.0, "5m"), (3600.0, "1h"))
POLL_SECONDS = {60.0: 1.0, 300.0: 2.0, 3600.0: 10.0}
DATA_TABS = ("tab-drift", "tab-predictions", "tab-requests")
DRIFT_EVERY = 15.0  # seconds between drift computations (hundreds of ms each, on 10k+ rows)
CHARTS = (("request_rate", "requests/s", "", 1.0), ("latency_p99", "p99 latency", "ms", 1000.0),
          ("error_rate", "errors", "%", 100.0))


def ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.1f}"


def rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def annotated(node, figures: dict[str, TrafficFigures]):
    """A copy of the graph whose boxes say each node's live rate and latency."""
    live = figures.get(node.name)
    note = (f"{rate(live.request_rate)}/s p50 {ms(live.latency_p50)} p99 {ms(live.latency_p99)} ms"
            if live else "no traffic")
    return replace(node, type=node.resolved_type, implementation=note,
                   model_uri=node.model_uri or node.implementation,
                   children=[annotated(c, figures) for c in node.children])


class MonitorScreen(ViewScreen):
    VIEW = "monitor"

    BINDINGS = [
        Binding("d", "pick_deployment", "Deployment", id="monitor.pick"),
        Binding("w", "next_window", "Window", id="monitor.window"),
        Binding("space", "toggle_pause", "Pause", id="monitor.pause"),
        Binding("A", "thresholds", "Alerts", id="monitor.alerts"),
        Binding("x", "explain", "Explain request", id="monitor.explain", show=False),  # listed by ?
        Binding("L", "lineage", "Lineage", id="monitor.lineage", show=False),  # listed by ?
        Binding("r", "reload", "Reload", id="monitor.reload", show=False),
    ]

    def __init__(self, deployment: str | None = None) -> None:
        super().__init__()
        self.deployment = deployment
        self.window = 300.0
        self.paused = False
        self.polling = False
        self.timer: Timer | None = None
        self.metrics: DeploymentMetrics | None = None
        self.alerts = Alerts(parse_thresholds("error_rate>0.05 latency_p99>0.5"))
        self.stale = False
        self.data_busy = False
        self.drift_at = 0.0
        self.reference: tuple[str, object, str] | None = None  # (deployment, reference sample, its name)
        self.current = None  # the last request sample, for the selected feature's histogram
        self.tail_entries: list = []  # the Requests tab's rows, for `x` (explain the selected one)

    def compose_body(self) -> ComposeResult:
        yield Static("", id="monitor-header")
        with Horizontal(id="monitor-charts"):
            for metric, title, unit, scale in CHARTS:
                yield LiveChart(title, unit, scale, id=f"chart-{metric}")
        with TabbedContent(id="monitor-tabs"):
            with TabPane("Predictors", id="tab-predictors"):
                yield ResourceTable(["predictor", "req/s", "errors", "p50 ms", "p95 ms", "p99 ms", "share"],
                                    empty="no traffic in this window", id="monitor-predictors")
            with TabPane("Graph", id="tab-graph"):
                with Horizontal():
                    yield VerticalScroll(Static("", id="monitor-graph"), id="monitor-graph-box")
                    yield ResourceTable(["node", "predictor", "req/s", "p50 ms", "p99 ms"],
                                        empty="no node timings yet", id="monitor-nodes")
            with TabPane("Drift", id="tab-drift"):
                with Horizontal():
                    yield ResourceTable(["feature", "kind", "PSI", "KS", "p", "W / χ²", ""],
                                        empty="drift: computing…", id="monitor-drift")
                    yield HistogramChart("select a feature", id="drift-histogram")
            with TabPane("Predictions", id="tab-predictions"):
                yield HistogramChart("predictions: waiting for logged requests", id="prediction-histogram")
            with TabPane("Requests", id="tab-requests"):
                yield ResourceTable(["time", "predictor", "code", "ms", "request", "response"],
                                    empty="no logged requests yet", id="monitor-tail")
        yield Static("", id="monitor-footer-line")

    def on_mount(self) -> None:
        self._header()

    # -- scheduling -----------------------------------------------------------------------

    def refresh_data(self) -> None:
        """Poll now (on show, on r); the poll schedules the next one when it is done."""
        if self.deployment is None:
            self._choose_default()
            return
        if not self.polling:
            self._poll()

    def on_screen_suspend(self) -> None:
        if self.timer is not None:
            self.timer.stop()
            self.timer = None

    def _schedule(self) -> None:
        if self.timer is not None:
            self.timer.stop()
        if not self.paused and self.is_current:
            self.timer = self.set_timer(POLL_SECONDS[self.window], self._poll)

    def _poll(self) -> None:
        self.timer = None
        if self.deployment is None or self.paused or self.polling:
            return
        self.polling = True
        name, window = self.deployment, self.window
        metrics_backend = self.backends.metrics
        step = max(1.0, window / 60)

        def work() -> None:
            try:
                figures = metrics_backend.deployment_metrics(name, window)
                series = {metric: metrics_backend.series(name, metric, window, step, by="predictor")
                          for metric, *_ in CHARTS}
            except ConsoleError as exc:
                self._deliver(self._down, str(exc))
            except Exception as exc:  # never a traceback
                self._deliver(self._down, f"unexpected error: {type(exc).__name__}: {exc}")
            else:
                self._deliver(self._show, figures, series)
            finally:
                self._deliver(self._polled)

        self.run_worker(work, thread=True, group="monitor-poll", exit_on_error=False)

    def _polled(self) -> None:
        self.polling = False
        self._schedule()

    # -- choosing what to watch -----------------------------------------------------------

    def _choose_default(self) -> None:
        cluster = self.backends.cluster

        def work() -> None:
            try:
                names = [d.name for d in cluster.list_deployments()]
            except ConsoleError as exc:
                self._deliver(self._header, f"cannot list deployments: {exc}")
                return
            if names:
                self._deliver(self.watch, names[0])
            else:
                self._deliver(self._header, "nothing deployed yet: deploy a graph (Cluster view, a) to watch it")

        self.run_worker(work, thread=True, group="monitor-default", exit_on_error=False)

    def watch(self, name: str) -> None:
        """Follow another deployment (figures of the previous one are cleared)."""
        self.deployment = name
        self.metrics = None
        self.alerts.reset()
        for metric, *_ in CHARTS:
            self.query_one(f"#chart-{metric}", LiveChart).clear("loading…")
        self._header()
        self.refresh_data()

    def action_pick_deployment(self) -> None:
        cluster = self.backends.cluster
        self.app.push_screen(
            FuzzyPicker("Watch which deployment?",
                        load=lambda: [Choice(d.name, d.name, f"{d.phase} · {d.traffic_label}")
                                      for d in cluster.list_deployments()]),
            lambda name: name and self.watch(name))

    def action_next_window(self) -> None:
        values = [w for w, _ in WINDOWS]
        self.window = values[(values.index(self.window) + 1) % len(values)]
        self._header()
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
        self.refresh_data()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self._header()
        if not self.paused:
            self.refresh_data()
        elif self.timer is not None:
            self.timer.stop()
            self.timer = None

    def action_reload(self) -> None:
        self.refresh_data()

    def action_explain(self) -> None:
        """x on the Requests tab: why the model answered the selected request as it did."""
        from screens.explanation import explain_logged_request

        table = self.query_one("#monitor-tail", ResourceTable).table
        if self._active_tab() != "tab-requests" or not self.tail_entries or self.deployment is None:
            self.notify("select a request on the Requests tab to explain it", severity="warning", timeout=4)
            return
        try:  # rows are keyed by their index in tail_entries, whatever the filter or sort shows
            key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
            entry = self.tail_entries[int(key)]
        except (LookupError, TypeError, ValueError):
            self.notify("select a request on the Requests tab to explain it", severity="warning", timeout=4)
            return
        explain_logged_request(self, self.deployment, entry.predictor, entry.request, entry.response)

    def action_lineage(self) -> None:
        from screens.lineage import open_lineage

        open_lineage(self, self.deployment, self.VIEW)

    def action_thresholds(self) -> None:
        def apply(text: str | None) -> None:
            if text is None:
                return
            try:
                self.alerts = Alerts(parse_thresholds(text))
            except ConsoleError as exc:
                self.notify(str(exc), severity="error", timeout=8)
                return
            if self.metrics is not None:
                self._show_tables(self.metrics)

        self.app.push_screen(TextPrompt("Alert when (per predictor and overall)", value=self.alerts.text,
                                        hint="e.g. error_rate>0.05 latency_p99>0.5 request_rate<1 "
                                             "(rates per second, latencies in seconds)"), apply)

    # -- showing ----------------------------------------------------------------------------

    def _header(self, note: str = "") -> None:
        label = dict(WINDOWS)[self.window]
        state = Text("⏸ paused (space resumes)", style="bold yellow") if self.paused else Text("● live", style="green")
        text = Text.assemble(Text(" watching ", style="dim"), Text(self.deployment or "—", style="bold"),
                             "  window ", Text(label, style="bold"), "  ", state)
        if self.metrics is not None:
            text.append(f"  updated {formatting.time_of_day(self.metrics.at)}", style="dim")
        if self.stale:
            text.append("  STALE", style="bold red")
        if note:
            text.append(f"  {note}", style="yellow")
        self.query_one("#monitor-header", Static).update(text)

    def _down(self, reason: str) -> None:
        """Keep the last figures, greyed, and say why they stopped (or why there are none yet)."""
        if self.metrics is None:  # nothing shown yet: nothing is stale, there is just no data
            for metric, *_ in CHARTS:
                self.query_one(f"#chart-{metric}", LiveChart).clear("no data")
            self.query_one("#monitor-predictors", ResourceTable).show_message(reason)
            self._header()
            return
        self.stale = True
        self.add_class("-stale")
        self._header(reason)

    def _show(self, figures: DeploymentMetrics, series: dict[str, list[Series]]) -> None:
        if figures.deployment != self.deployment:
            return
        self.stale = False
        self.remove_class("-stale")
        self.metrics = figures
        # Lines in the order of their traffic: the stable predictor first (it gets the first colour).
        order = {p.name: -(p.request_rate or 0.0) for p in figures.predictors}
        for metric, *_ in CHARTS:
            lines = sorted(series.get(metric, []), key=lambda s: (order.get(s.label, 0.0), s.label))
            self.query_one(f"#chart-{metric}", LiveChart).show(lines, now=figures.at,
                                                               window=figures.window_seconds)
        self._show_tables(figures)
        self._show_graph(figures)
        self._refresh_data_tab()
        crossed = self.alerts.check(figures)
        for message in crossed:
            self.notify(message, severity="warning", timeout=8, title="alert")
        self._header()

    def _show_tables(self, figures: DeploymentMetrics) -> None:
        total = figures.overall.request_rate or 0.0

        def row(f: TrafficFigures) -> tuple:
            share = "" if not total or f.request_rate is None or f.scope == "deployment" \
                else f"{f.request_rate / total * 100:.0f}%"
            cells = [Text(f.name or "all", style="bold" if f.scope == "deployment" else ""),
                     rate(f.request_rate), percent(f.error_rate), ms(f.latency_p50), ms(f.latency_p95),
                     ms(f.latency_p99), share]
            for metric, column in (("request_rate", 1), ("error_rate", 2), ("latency_p99", 5)):
                if self.alerts.crossed(f, metric):
                    cells[column] = Text(str(cells[column]), style="bold reverse red")
            return tuple(cells)

        rows = [Row("all", row(figures.overall))] + [Row(f"p:{f.name}", row(f)) for f in figures.predictors]
        self.query_one("#monitor-predictors", ResourceTable).set_rows(rows)
        nodes = [Row(f"{f.predictor}/{f.name}", (f.name, f.predictor, rate(f.request_rate), ms(f.latency_p50),
                                                ms(f.latency_p99)))
                 for f in figures.nodes]
        self.query_one("#monitor-nodes", ResourceTable).set_rows(nodes)
        extra = []
        if figures.routing:
            extra.append("routing " + "; ".join(
                f"{router}: " + " ".join(f"{child}→{share * 100:.0f}%" for child, share in sorted(shares.items()))
                for router, shares in figures.routing.items()))
        if figures.outlier_rate is not None:
            extra.append(f"outliers {figures.outlier_rate * 100:.1f}% of rows")
        self.query_one("#monitor-footer-line", Static).update(" " + "   ".join(extra) if extra else "")

    def _show_graph(self, figures: DeploymentMetrics) -> None:
        """The deployed graph, each box annotated with its node's live rate and latency."""
        cluster = self.backends.cluster
        name = figures.deployment

        def work() -> None:
            from console.graph.layout import render_predictor
            from console.graph.manifest_io import load_manifest

            try:
                dep = load_manifest(cluster.get_deployment(name).manifest, f"deployment {name}")
            except ConsoleError as exc:
                self._deliver(self._graph_text, f"the graph is not available: {exc}")
                return
            by_node = {f.name: f for f in figures.nodes}
            box = self.query_one("#monitor-graph-box")
            width = max(30, box.size.width - 2 if box.size.width else 60)
            lines: list[str] = []
            for predictor in dep.predictors:
                if lines:
                    lines.append("")
                live = replace(predictor, graph=annotated(predictor.graph, {
                    k: v for k, v in by_node.items() if not v.predictor or v.predictor == predictor.name}))
                lines += render_predictor(live, width)
            self._deliver(self._graph_text, "\n".join(lines))

        self.run_worker(work, thread=True, group="monitor-graph", exit_on_error=False)

    def _graph_text(self, text: str) -> None:
        self.query_one("#monitor-graph", Static).update(Text(text))

    @on(TabbedContent.TabActivated)
    def _tab(self, event: TabbedContent.TabActivated) -> None:
        if self.metrics is not None:
            self._show_graph(self.metrics)
        self.drift_at = 0.0
        self._refresh_data_tab()

    # -- what the model sees: drift, predictions, the request tail --------------------------

    def _active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    def _refresh_data_tab(self) -> None:
        """Refresh the visible data tab from the request log, one computation at a time."""
        tab = self._active_tab()
        if tab not in DATA_TABS or self.deployment is None or self.data_busy:
            return
        now = formatting.clock()
        if tab == "tab-drift" and now - self.drift_at < DRIFT_EVERY:
            return
        self.data_busy = True
        name, window = self.deployment, self.window
        home = self.app.settings.home
        cluster, registry = self.backends.cluster, self.backends.registry

        def work() -> None:
            try:
                if tab == "tab-requests":
                    from console.data.request_log import tail

                    self._deliver(self._show_tail, tail(home, name, 50))
                elif tab == "tab-predictions":
                    self._deliver(self._show_predictions, *self._predictions(home, name, window))
                else:
                    self._deliver(self._show_drift, *self._drift(home, name, window, cluster, registry))
            except ConsoleError as exc:
                self._deliver(self._data_message, tab, str(exc))
            except Exception as exc:  # never a traceback
                self._deliver(self._data_message, tab, f"unexpected error: {type(exc).__name__}: {exc}")
            finally:
                self._deliver(self._data_done, tab, now)

        self.run_worker(work, thread=True, group="monitor-data", exit_on_error=False)

    def _data_done(self, tab: str, started: float) -> None:
        self.data_busy = False
        if tab == "tab-drift":
            self.drift_at = started

    def _data_message(self, tab: str, message: str) -> None:
        if tab == "tab-requests":
            self.query_one("#monitor-tail", ResourceTable).show_message(message)
        elif tab == "tab-predictions":
            self.query_one("#prediction-histogram", HistogramChart).clear(f"predictions: {message}")
        else:
            self.query_one("#monitor-drift", ResourceTable).show_message(message)

    def _show_tail(self, entries) -> None:
        self.tail_entries = list(entries)
        rows = [Row(f"{i}", (formatting.time_of_day(e.time), e.predictor + (" (shadow)" if e.shadow else ""),
                             Text(str(e.code), style="" if e.code < 400 else "bold red"), f"{e.latency_ms:.1f}",
                             e.request[:120], e.response[:80]))
                for i, e in enumerate(entries)]
        self.query_one("#monitor-tail", ResourceTable).set_rows(rows)

    def _predictions(self, home, name: str, window: float):
        """(caption, labels, counts) of the first prediction column over the window."""
        from console.data.drift import histogram
        from console.data.request_log import read_requests

        sample = read_requests(home, name, since=window, limit=20_000)
        if not sample.predictions or sample.table.num_rows == 0:
            raise ConsoleError("no logged predictions in this window")
        column = sample.predictions[-1]  # a classifier's last column: the positive class's score
        hist = histogram(sample.table, sample.table, column, bins=12)
        labels = [f"{e:.2g}" for e in hist.edges[:-1]] if hist.edges else hist.categories
        caption = f"{column} over the last {dict(WINDOWS)[window]}: {sample.table.num_rows} rows"
        return caption, labels, hist.current

    def _show_predictions(self, caption: str, labels: list[str], counts: list[int]) -> None:
        self.query_one("#prediction-histogram", HistogramChart).show(caption, labels, [("current", counts)])

    def _drift(self, home, name: str, window: float, cluster, registry):
        """Per-feature drift of the window's requests against the model's training data."""
        from console.data.drift import compute_drift, read_sample
        from console.data.reference import find_reference_for
        from console.data.request_log import read_requests

        if self.reference is None or self.reference[0] != name:
            ref = find_reference_for(name, cluster, registry)
            self.reference = (name, read_sample(ref.path, limit=20_000), ref.description)
        sample = read_requests(home, name, since=window, limit=10_000)
        if sample.table.num_rows == 0:
            raise ConsoleError(f"no logged requests in the last {dict(WINDOWS)[window]} to compare")
        self.current = sample.table
        results = compute_drift(self.reference[1], sample.table, features=sample.features)
        return results, self.reference[2], sample.table.num_rows

    def _show_drift(self, results, reference: str, rows: int) -> None:
        def num(value, digits=3):
            return "–" if value is None else f"{value:.{digits}g}"

        table = self.query_one("#monitor-drift", ResourceTable)
        table.set_rows([Row(r.feature, (
            Text(r.feature, style="bold red" if r.drifted else ""), r.kind,
            Text(num(r.psi), style="bold red" if r.drifted else ""), num(r.ks), num(r.p_value, 2),
            num(r.wasserstein if r.kind == "numeric" else r.chi2),
            Text("DRIFT", style="bold reverse red") if r.drifted else Text(r.reason[:30], style="dim")))
            for r in results])
        table.border_title = f"drift: {rows} requests vs {reference}"

    @on(DataTable.RowHighlighted, "#monitor-drift DataTable")
    def _feature(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or self.reference is None or self.current is None:
            return
        feature = str(event.row_key.value)
        reference, current = self.reference[1], self.current

        def work() -> None:
            from console.data.drift import histogram

            try:
                hist = histogram(reference, current, feature, bins=10)
            except Exception as exc:  # a feature on one side only has nothing to draw
                self._deliver(self.query_one("#drift-histogram", HistogramChart).clear, f"{feature}: {exc}")
                return
            labels = [f"{e:.3g}" for e in hist.edges[:-1]] if hist.edges else hist.categories
            self._deliver(self.query_one("#drift-histogram", HistogramChart).show,
                          f"{feature}: training vs requests (% of rows)", labels,
                          [("training", hist.reference), ("requests", hist.current)])

        self.run_worker(work, thread=True, group="monitor-histogram", exclusive=True, exit_on_error=False)
