"""Try a graph: send a request through it in-process and see what every node made of it.

The request starts as rows of the first model's logged dataset (or its input example) and
is plain, editable Seldon v1 JSON. Components and models load once per screen, in a
worker; each send shows the nodes in the order the request entered them, with their own
latency, and the selected node's input and output.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Static, TextArea

from console.errors import ConsoleError
from console.graph.executor import GraphRun, NodeTrace
from console.graph.spec import Deployment
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row

PREVIEW = 60


def compact(message: Any) -> str:
    """JSON with one row of data per line: readable for tabular requests, still valid JSON."""
    if not isinstance(message, dict):
        return json.dumps(message, default=str)
    lines = ["{"]
    items = list(message.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(value, dict) and isinstance(value.get("ndarray"), list):
            lines.append(f'  {json.dumps(key)}: {{')
            inner = list(value.items())
            for j, (k, v) in enumerate(inner):
                sep = "," if j < len(inner) - 1 else ""
                if k == "ndarray":
                    rows = [json.dumps(r, default=str) for r in v]
                    lines.append('    "ndarray": [')
                    lines += [f"      {r}{',' if n < len(rows) - 1 else ''}" for n, r in enumerate(rows)]
                    lines.append(f"    ]{sep}")
                else:
                    lines.append(f"    {json.dumps(k)}: {json.dumps(v, default=str)}{sep}")
            lines.append(f"  }}{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, default=str)}{comma}")
    lines.append("}")
    return "\n".join(lines)


def preview(message: dict[str, Any] | None) -> str:
    """A message's data on one line, cut to fit a table cell."""
    if message is None:
        return ""
    data = message.get("data", message.get("jsonData", message.get("strData", "")))
    if isinstance(data, dict):
        data = data.get("ndarray", data.get("tensor", data))
    text = json.dumps(data, default=str, separators=(",", ":"))
    return text if len(text) <= PREVIEW else text[:PREVIEW - 1] + "…"


class TryGraphScreen(ViewScreen):
    """Send one request (ctrl+r) through a predictor's graph and inspect each node."""

    VIEW = "graphs"

    BINDINGS = [
        Binding("ctrl+r,f5", "send", "Send", id="try.send"),
        Binding("ctrl+l", "sample", "Sample request", id="try.sample"),
        Binding("escape", "close", "Back", id="try.close", show=False, priority=True),
    ]

    def __init__(self, deployment: Deployment, predictor: str) -> None:
        super().__init__()
        self.deployment = deployment
        self.predictor = predictor
        self.executor = None
        self.run_result: GraphRun | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(Text.assemble(Text(f" Try {self.deployment.name}", style="bold"),
                                   Text(f"  predictor {self.predictor}  in-process, nothing deployed", style="dim")),
                     id="try-header")
        with Horizontal(id="try-body"):
            with Vertical(id="try-request-box"):
                yield TextArea("", id="try-request", soft_wrap=True, tab_behavior="indent")
                yield Label("loading a sample request…", id="try-status")
            with Vertical(id="try-results"):
                yield ResourceTable(["node", "type", "own ms", "total ms", "ran", "output"],
                                    empty="ctrl+r sends the request", id="try-nodes", classes="panel")
                yield VerticalScroll(Static("", id="try-node-detail"), id="try-detail-box")

    def on_mount(self) -> None:
        self.query_one("#try-request-box").border_title = "Request (Seldon v1 JSON)"
        nodes = self.query_one("#try-nodes", ResourceTable)
        nodes.border_title = "Nodes, in the order the request entered them"
        nodes.show_message("ctrl+r sends the request through every node")
        self.query_one("#try-detail-box").border_title = "Node input → output"
        self.query_one(TextArea).focus()
        self.action_sample()

    def _status(self, text: str | Text) -> None:
        self.query_one("#try-status", Label).update(text)

    # -- the request --------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="try-sample", exit_on_error=False)
    def action_sample(self) -> None:
        from console.graph.sample_request import sample_request

        request, source = sample_request(self.deployment, self.backends.registry)
        self.app.call_from_thread(self._sampled, compact(request), source)

    def _sampled(self, text: str, source: str) -> None:
        self.query_one(TextArea).load_text(text)
        self._status(f"request: {source} · ctrl+r sends")

    # -- sending ------------------------------------------------------------------------

    def action_send(self) -> None:
        self._status("running… (the first request loads the models)")
        self._send(self.query_one(TextArea).text)

    @work(thread=True, exclusive=True, group="try-send", exit_on_error=False)
    def _send(self, text: str) -> None:
        try:
            if self.executor is None:
                from console.graph.executor import GraphExecutor

                registry = self.backends.registry
                source = registry.model_source() if hasattr(registry, "model_source") else None
                self.executor = GraphExecutor(self.deployment, source, predictor=self.predictor)
            result = self.executor.run(text, record=True)
        except ConsoleError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        except Exception as exc:  # a component's bug is the user's to see, not a crash
            self.app.call_from_thread(self._failed, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._show, result)

    def _failed(self, message: str) -> None:
        self._status(Text(f"✖ {message}", style="bold red"))

    def _show(self, result: GraphRun) -> None:
        self.run_result = result
        total = sum(n.seconds for n in result.nodes) * 1000
        routing = result.response.get("meta", {}).get("routing") or {}
        routed = "  routing " + ", ".join(f"{k}→{v}" for k, v in routing.items()) if routing else ""
        self._status(Text(f"✔ answered: {len(result.nodes)} nodes, {total:.2f} ms in nodes{routed}",
                          style="green"))
        rows = [Row(str(i), (n.name, n.type, f"{n.seconds * 1000:.2f}", f"{n.total_seconds * 1000:.2f}",
                             n.runs if n.route is None else f"{n.runs} → child {n.route}", preview(n.output_json())))
                for i, n in enumerate(result.nodes)]
        self.query_one("#try-nodes", ResourceTable).set_rows(rows)
        if result.nodes:
            self._detail(result.nodes[0])

    @on(DataTable.RowHighlighted, "#try-nodes DataTable")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.run_result and event.row_key is not None and event.row_key.value is not None:
            index = int(event.row_key.value)
            if 0 <= index < len(self.run_result.nodes):
                self._detail(self.run_result.nodes[index])

    def _detail(self, node: NodeTrace) -> None:
        text = Text(f"{node.name}", style="bold")
        text.append(f"  {node.type}  {node.runs}\n", style="dim")
        text.append("input\n", style="cyan")
        text.append(compact(node.input_json()) + "\n")
        text.append("output\n", style="cyan")
        text.append(compact(node.output_json()))
        self.query_one("#try-node-detail", Static).update(text)

    def action_close(self) -> None:
        self.dismiss()
