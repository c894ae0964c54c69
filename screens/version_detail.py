"""One model version: overview, run (with metric history), data, signature, artifacts, lineage, fairness."""

from __future__ import annotations

import json

from rich.text import Text
from rich.tree import Tree
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from console.errors import ConsoleError
from console.types import ModelSignature, ModelVersion, RegisteredModel, RunInfo
from screens.formatting import age
from screens.model_versions import alias_badges
from screens.registry_actions import REGISTRY_BINDINGS, RegistryActions
from screens.view import ViewScreen
from screens.widgets.fairness_panel import FairnessPanel, parse_fairness_prompt
from screens.widgets.metric_chart import MetricChart
from screens.widgets.resource_table import ResourceTable, Row

TABS = ("overview", "run", "data", "signature", "artifacts", "lineage", "fairness")


def _size(num: int | None) -> str:
    if num is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if num < 1024 or unit == "GiB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return str(num)


class VersionDetailScreen(RegistryActions, ViewScreen):
    VIEW = "registry"

    BINDINGS = [
        Binding("right_square_bracket", "tab(1)", "Next tab", id="detail.next_tab", key_display="]"),
        Binding("left_square_bracket", "tab(-1)", "Previous tab", id="detail.previous_tab", key_display="[",
                show=False),
        Binding("r", "reload", "Reload", id="detail.reload"),
        Binding("x", "explain", "Explain a row", id="detail.explain", show=False),  # listed by ?
        Binding("f", "fairness_file", "Fairness on a file", id="detail.fairness_file", show=False),
        Binding("K", "card", "Model card", id="detail.card"),
        *REGISTRY_BINDINGS,
    ]

    def __init__(self, name: str, version: str) -> None:
        super().__init__()
        self.model_name = name
        self.version_ref = version
        self.model: RegisteredModel | None = None
        self.version: ModelVersion | None = None
        self.run: RunInfo | None = None
        self.signature: ModelSignature | None = None

    def compose_body(self) -> ComposeResult:
        with TabbedContent(id="detail-tabs"):
            with TabPane("Overview", id="overview"):
                yield VerticalScroll(Static("loading…", id="detail-overview"))
            with TabPane("Run", id="run"):
                with Horizontal(id="run-tables"):
                    yield ResourceTable(["param", "value"], empty="no params", id="run-params", classes="panel")
                    yield ResourceTable(["value", "metric"], empty="no metrics", id="run-metrics",
                                        classes="panel")
                yield MetricChart(id="run-chart")
            with TabPane("Data", id="data"):
                yield ResourceTable(["dataset", "context", "digest", "rows", "source"],
                                    empty="no dataset inputs were logged with this run",
                                    id="data-inputs", classes="panel")
                yield VerticalScroll(Static("", id="data-schema"), id="data-schema-box")
            with TabPane("Signature", id="signature"):
                with Horizontal(id="signature-tables"):
                    yield ResourceTable(["input", "type", "required"], empty="no input schema",
                                        id="sig-inputs", classes="panel")
                    yield ResourceTable(["output", "type"], empty="no output schema", id="sig-outputs",
                                        classes="panel")
                yield VerticalScroll(Static("", id="sig-example"), id="sig-example-box")
            with TabPane("Artifacts", id="artifacts"):
                yield ResourceTable(["path", "size"], empty="no artifacts", id="artifact-list",
                                    classes="panel main")
            with TabPane("Lineage", id="lineage"):
                yield VerticalScroll(Static("loading…", id="lineage-tree"))
            with TabPane("Fairness", id="fairness"):
                yield FairnessPanel(id="fairness-panel")

    def on_mount(self) -> None:
        self.query_one("#run-metrics", ResourceTable).border_title = "Metrics (enter or ↑↓: history)"
        self.query_one("#run-params", ResourceTable).border_title = "Params"
        self.query_one("#data-inputs", ResourceTable).border_title = "Dataset inputs"
        self.query_one("#sig-inputs", ResourceTable).border_title = "Inputs"
        self.query_one("#sig-outputs", ResourceTable).border_title = "Outputs"
        self.query_one("#artifact-list", ResourceTable).border_title = "Model and run artifacts"

    # -- loading ----------------------------------------------------------------------

    def refresh_data(self) -> None:
        self.run_worker(self._load_all, thread=True, group="detail", exit_on_error=False)

    def _ui(self, fn, *args) -> None:
        self._deliver(fn, *args)

    def _load_all(self) -> None:
        registry = self.backends.registry
        try:
            self.model = registry.get_model(self.model_name)
            self.version = registry.get_version(self.model_name, self.version_ref)
        except ConsoleError as exc:
            self._ui(self._fail_all, str(exc))
            return
        self._ui(self._show_overview)
        try:
            self.run = registry.get_run(self.version.run_id) if self.version.run_id else None
        except ConsoleError as exc:
            self._ui(self._fail_run, str(exc))
        else:
            self._ui(self._show_run)
        self._ui(self._show_lineage)
        for loader, failure in ((self._load_signature, "#sig-inputs"), (self._load_artifacts, "#artifact-list")):
            try:
                loader()
            except ConsoleError as exc:
                self._ui(self.query_one(failure, ResourceTable).show_message, str(exc))

    def _load_signature(self) -> None:
        signature = self.backends.registry.get_signature(self.model_name, self.version.version)
        self._ui(self._show_signature, signature)

    def _load_artifacts(self) -> None:
        entries = self.backends.registry.list_artifacts(self.model_name, self.version.version)
        rows = [Row(e.path, (e.path + ("/" if e.is_dir else ""), _size(e.size))) for e in entries]
        self._ui(self.query_one("#artifact-list", ResourceTable).set_rows, rows)

    def _fail_all(self, message: str) -> None:
        self.query_one("#detail-overview", Static).update(Text(message, style="bold"))
        self.notify(message, severity="error", timeout=8)

    def _fail_run(self, message: str) -> None:
        for table_id in ("#run-params", "#run-metrics", "#data-inputs"):
            self.query_one(table_id, ResourceTable).show_message(message)

    # -- rendering --------------------------------------------------------------------

    def _show_overview(self) -> None:
        v = self.version
        text = Text()
        text.append(f"{v.name}  version {v.version}  ", style="bold")
        text.append_text(alias_badges(v.aliases))
        text.append(f"\n\nstatus     {v.status}\ncreated    {age(v.created_at)} ago\n")
        text.append(f"source     {v.source}\nrun        {v.run_id or '(none)'}\n")
        text.append(f"model uri  models:/{v.name}/{v.version}")
        for alias in v.aliases:
            text.append(f"  models:/{v.name}@{alias}")
        if v.description:
            text.append(f"\n\n{v.description}")
        if v.tags:
            text.append("\n\ntags\n", style="bold")
            for key, value in sorted(v.tags.items()):
                text.append(f"  {key} = {value}\n")
        self.query_one("#detail-overview", Static).update(text)
        self.query_one(TabbedContent).border_title = f"{v.name} v{v.version}"

    def _show_run(self) -> None:
        run = self.run
        params = self.query_one("#run-params", ResourceTable)
        metrics = self.query_one("#run-metrics", ResourceTable)
        if run is None:
            params.show_message("this version has no source run")
            metrics.show_message("")
            return
        params.set_rows([Row(k, (k, v)) for k, v in sorted(run.params.items())])
        # value first: metric names run long, and a narrow panel must still show the number
        metrics.set_rows([Row(k, (f"{v:.4g}", k)) for k, v in sorted(run.metrics.items())])
        datasets = self.query_one("#data-inputs", ResourceTable)
        datasets.set_rows([
            Row(f"{d.name}:{d.digest}:{d.context}",
                (d.name, d.context, d.digest, _profile_rows(d.profile), d.source))
            for d in run.datasets
        ])
        if run.datasets:
            self._show_schema(run.datasets[0])
        if run.metrics:
            # Open on a curve rather than a single number: losses and AUCs are what runs log by step.
            names = sorted(run.metrics)
            first = next((k for k in names if "loss" in k), next((k for k in names if "auc" in k), names[0]))
            metrics.table.move_cursor(row=names.index(first))
            self._plot_metric(first)

    def _show_schema(self, dataset) -> None:
        text = Text()
        text.append(f"{dataset.name} @ {dataset.digest}  ({dataset.source_type})\n", style="bold")
        try:
            columns = json.loads(dataset.schema).get("mlflow_colspec", [])
        except (ValueError, AttributeError):
            columns = []
        for col in columns:
            text.append(f"  {col.get('name', ''):<28} {col.get('type', '')}\n")
        self.query_one("#data-schema", Static).update(text)

    def _show_signature(self, signature: ModelSignature | None) -> None:
        self.signature = signature
        inputs = self.query_one("#sig-inputs", ResourceTable)
        outputs = self.query_one("#sig-outputs", ResourceTable)
        if signature is None:
            inputs.show_message("this model was logged without a signature")
            outputs.show_message("")
            return
        inputs.set_rows([Row(f.name or str(i), (f.name or "-", f.type, "yes" if f.required else "no"))
                         for i, f in enumerate(signature.inputs)])
        outputs.set_rows([Row(f.name or str(i), (f.name or "-", f.type)) for i, f in enumerate(signature.outputs)])
        example = _example_text(signature.input_example)
        title = "input example" + (f"  · flavors: {', '.join(signature.flavors)}" if signature.flavors else "")
        self.query_one("#sig-example", Static).update(Text(f"{title}\n{example or '(none logged)'}"))

    def _show_lineage(self) -> None:
        v, run = self.version, self.run
        tree = Tree(Text(f"models:/{v.name}/{v.version}", style="bold"))
        if run is None:
            tree.add("no source run recorded")
        else:
            node = tree.add(Text(f"run {run.run_id}  ({run.name})", style="bold"))
            node.add(f"experiment {run.experiment_name or run.experiment_id}")
            node.add(f"git commit {run.git_commit or '(not recorded)'}")
            node.add(f"entry point {run.entry_point or '(not recorded)'}")
            node.add(f"user {run.user or '(unknown)'}")
            data = node.add(Text("data", style="bold"))
            for d in run.datasets or []:
                data.add(f"{d.context or 'input'}: {d.name} @ {d.digest}  ← {d.source}")
            if not run.datasets:
                data.add("no dataset inputs logged")
        self.query_one("#lineage-tree", Static).update(tree)

    # -- metric history ---------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#run-metrics DataTable")
    def _metric_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value:
            self._plot_metric(str(event.row_key.value))

    def _plot_metric(self, key: str) -> None:
        run = self.run
        if run is None:
            return
        chart = self.query_one(MetricChart)

        def work() -> None:
            try:
                points = self.backends.registry.metric_history(run.run_id, key)
            except ConsoleError as exc:
                self._ui(chart.show_error, str(exc))
            else:
                self._ui(chart.show, key, [p.step for p in points], [p.value for p in points])

        self.run_worker(work, thread=True, group="metric-history", exclusive=True, exit_on_error=False)

    @on(DataTable.RowHighlighted, "#data-inputs DataTable")
    def _dataset_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.run is None or event.row_key is None:
            return
        for d in self.run.datasets:
            if f"{d.name}:{d.digest}:{d.context}" == event.row_key.value:
                self._show_schema(d)

    # -- keys -------------------------------------------------------------------------

    def action_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        index = TABS.index(tabs.active) if tabs.active in TABS else 0
        tabs.active = TABS[(index + step) % len(TABS)]

    def action_reload(self) -> None:
        self.refresh_data()

    # -- fairness and explanations (console.governance), computed on demand -------------------

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "fairness" and self.version is not None:
            self._fairness()

    def _fairness(self, path: str | None = None, label: str | None = None, sensitive: list[str] | None = None,
                  force: bool = False) -> None:
        threshold = float((self.run.params if self.run else {}).get("decision_threshold", 0.5))
        uri = f"models:/{self.model_name}/{self.version.version}"
        self.query_one(FairnessPanel).load(self.backends.registry, uri, path=path, label=label,
                                           sensitive=sensitive or (), threshold=threshold, force=force)

    def action_fairness_file(self) -> None:
        from screens.text_prompt import TextPrompt

        def chosen(text: str | None) -> None:
            path, label, sensitive = parse_fairness_prompt(text or "")
            if path and self.version is not None:
                self.query_one(TabbedContent).active = "fairness"
                self._fairness(path, label, sensitive, force=True)

        self.app.push_screen(TextPrompt("Fairness on which labelled file?", placeholder="PATH [label=COL] "
                                        "[sensitive=COL,COL]", hint="Parquet or CSV; label and sensitive "
                                        "columns are guessed when not given"), chosen)

    def action_explain(self) -> None:
        from screens.explanation import explain_typed_row, first_example_row

        if self.version is not None:
            example = first_example_row(self.signature.input_example) if self.signature else ""
            explain_typed_row(self, self.model_name, self.version.version, example)

    def action_card(self) -> None:
        from screens.model_card import open_card

        open_card(self, f"{self.model_name}/{self.version.version}" if self.version else None)

    def selected_version(self) -> tuple[str, str] | None:
        return (self.model_name, self.version.version) if self.version else None

    def current_aliases(self) -> dict[str, str]:
        return dict(self.model.aliases) if self.model else {}

    def current_tags(self) -> dict[str, str]:
        return dict(self.version.tags) if self.version else {}

    def current_description(self) -> str:
        return self.version.description if self.version else ""


def _profile_rows(profile: str) -> str:
    try:
        return f"{json.loads(profile).get('num_rows', ''):,}"
    except (ValueError, AttributeError, TypeError):
        return ""


def _example_text(raw: str) -> str:
    """A split-oriented DataFrame example as one line per row; other JSON as compact JSON."""
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return raw
    if isinstance(data, dict) and "columns" in data and "data" in data:
        cols = data["columns"]
        return "\n".join(f"row {i}: " + ", ".join(f"{c}={v}" for c, v in zip(cols, row, strict=False))
                         for i, row in enumerate(data["data"]))
    return json.dumps(data)
