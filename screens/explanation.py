"""Why the model scored this row so: feature contributions as diverging bars.

Opened from the Monitor's Requests tab (the selected request) and from a version's detail (a
typed row). The caller hands a `compute(method)` that returns an Explanation; it runs in a
worker (the first call loads the model) and its ConsoleError is shown, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.errors import ConsoleError
from console.governance.explain import Explanation
from screens.view import ViewScreen
from screens.widgets.contribution_bars import ContributionBars

METHODS = ("auto", "sampling")
SPACES = {"log-odds": "log-odds", "probability": "probability", "output": "model output"}


def header_text(result: Explanation) -> Text:
    """Three lines: what was explained and how, how prediction = baseline + contributions, the baseline.

    Each line has one style: Textual drops a space at the seam of two styled spans.
    """
    score = "" if result.score is None else f"   score {result.score:.4f}"
    space = SPACES.get(result.space, result.space)
    first = f"{result.model_uri or 'model'}   {result.method} in {space} space{score}"
    second = (f"prediction {result.prediction:+.4f} = baseline {result.baseline:+.4f} "
              f"+ contributions {result.prediction - result.baseline:+.4f}")
    if result.samples:
        used = min(result.samples // 2, result.background_rows)
        how = f"mean output over {used} of {result.background_rows} rows, {result.samples} sampled orders"
    else:
        how = f"mean over {result.background_rows} rows, exact"
    text = Text(first, style="bold")
    text.append("\n" + second)
    text.append(f"\nbaseline: {how}; background {result.background or '(given)'}", style="dim")
    return text


class ExplanationScreen(ViewScreen):
    """One prediction explained; `m` switches between the exact (when linear) and the sampled method."""

    CSS_PATH = "../themes/explain.tcss"
    BINDINGS = [
        Binding("m", "method", "Method", id="explain.method"),
        Binding("r", "reload", "Recompute", id="explain.reload"),
    ]

    def __init__(self, title: str, compute: Callable[[str], Explanation], view: str = "registry",
                 top: int = 15) -> None:
        super().__init__()
        self.VIEW = view
        self.title_text = title
        self.compute = compute
        self.method = "auto"
        self.top = top
        self.result: Explanation | None = None
        self.busy = False

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="explain-box"):
            yield Static("explaining… (the first explanation loads the model)", id="explain-header")
            yield ContributionBars(id="explain-bars")
            yield Static("", id="explain-note")

    def on_mount(self) -> None:
        self.query_one("#explain-box").border_title = self.title_text

    def refresh_data(self) -> None:
        if self.result is None:  # explanations do not change by themselves: compute once, on demand after
            self._explain()

    def _explain(self) -> None:
        if self.busy:
            return
        self.busy = True
        method = self.method

        def work() -> None:
            try:
                result = self.compute(method)
            except ConsoleError as exc:
                self._deliver(self._failed, str(exc))
            except Exception as exc:  # never a traceback on screen
                self._deliver(self._failed, f"unexpected error: {type(exc).__name__}: {exc}")
            else:
                self._deliver(self._show, result)

        self.run_worker(work, thread=True, group="explain", exit_on_error=False)

    def _show(self, result: Explanation) -> None:
        self.busy = False
        self.result = result
        self.query_one("#explain-header", Static).update(header_text(result))
        shown = result.top(self.top)
        self.query_one(ContributionBars).show([(c.feature, c.value, c.contribution) for c in shown])
        rest = result.contributions[len(shown):]
        note = f"{len(rest)} more features add {sum(c.contribution for c in rest):+.4f}. " if rest else ""
        note += ("Bars: right pushes the prediction up, left down, scaled to the largest. "
                 f"m: {'sampled method' if self.method == 'auto' else 'exact where linear'}, r: recompute.")
        self.query_one("#explain-note", Static).update(note)

    def _failed(self, message: str) -> None:
        self.busy = False
        self.query_one("#explain-header", Static).update(Text(f"✖ {message}", style="bold"))
        self.query_one(ContributionBars).show([])

    def action_method(self) -> None:
        self.method = METHODS[(METHODS.index(self.method) + 1) % len(METHODS)]
        how = "sampled" if self.method == "sampling" else "exact (if linear)"
        self.notify(f"explaining with the {how} method", timeout=3)
        self._explain()

    def action_reload(self) -> None:
        self._explain()


def explain_logged_request(screen, deployment: str, predictor: str, request: str, response: str) -> None:
    """Open the explanation of one logged request of a deployment (the Monitor's Requests tab)."""
    backends = screen.app.backends

    def compute(method: str) -> Explanation:
        from console.governance.explain_run import explanation_of
        from console.governance.request_row import model_input

        registry = backends.registry
        manifest = backends.cluster.get_deployment(deployment).manifest
        uri, row = model_input(manifest, predictor, request, response, registry.model_source())
        return explanation_of(registry, uri, row, method=method)

    screen.app.push_screen(ExplanationScreen(f"explain a {deployment} request ({predictor})", compute,
                                             view=getattr(screen, "VIEW", "monitor")))


def explain_typed_row(screen, name: str, version: str, example: str = "") -> None:
    """Ask for a row (JSON, prefilled with the version's input example) and open its explanation."""
    from screens.text_prompt import TextPrompt

    registry = screen.app.backends.registry

    def opened(text: str | None) -> None:
        if not text:
            return
        from console.governance.explain import parse_row

        try:
            row = parse_row(text)
        except ConsoleError as exc:
            screen.notify(str(exc), severity="error", timeout=8)
            return

        def compute(method: str) -> Explanation:
            from console.governance.explain_run import explanation_of

            return explanation_of(registry, f"models:/{name}/{version}", row, method=method)

        screen.app.push_screen(ExplanationScreen(f"explain a row: {name} v{version}", compute,
                                                 view=getattr(screen, "VIEW", "registry")))

    screen.app.push_screen(TextPrompt(f"Explain which row for {name} v{version}? (a JSON object)",
                                      value=example, hint="feature: value for each input; enter explains"),
                           opened)


def first_example_row(input_example: str) -> str:
    """The first row of a logged input example as a JSON object ('' when there is none)."""
    import json

    try:
        data = json.loads(input_example)
    except (TypeError, ValueError):
        return ""
    if isinstance(data, dict) and "columns" in data and data.get("data"):
        return json.dumps(dict(zip(data["columns"], data["data"][0], strict=False)))
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return json.dumps(data[0])
    if isinstance(data, dict) and data and not any(isinstance(v, list | dict) for v in data.values()):
        return json.dumps(data)
    return ""
