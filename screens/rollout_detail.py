"""One rollout, watched: steps with the current one marked, a weight bar per predictor, every
gate's verdicts and its values against the threshold over time, and the transitions.

Like `kubectl argo rollouts get rollout --watch`, refreshed every second from the cluster's
record of the rollout (the local runtime's supervisor persists it on every tick).
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from console.errors import ConsoleError
from console.rollout.state import RolloutState
from console.types import Series
from screens import formatting
from screens.rollout_actions import ROLLOUT_BINDINGS, RolloutActions
from screens.rollouts import rollout_phase
from screens.view import ViewScreen
from screens.widgets.live_chart import LiveChart
from screens.widgets.resource_table import ResourceTable, Row

BAR = 30


def weight_bars(state: RolloutState, room: int = BAR + 20) -> Text:
    """One bar per predictor (fitting `room` cells): stable green, candidate orange, shadows dim."""
    text = Text()
    names = list(state.weights) or [state.spec.stable, state.spec.candidate]
    width = max(len(n) for n in names)
    bar = max(5, min(BAR, room - width - 8))
    for name in names:
        weight = int(state.weights.get(name, 0))
        filled = round(bar * weight / 100)
        style = "green" if name == state.spec.stable else "dark_orange"
        text.append(f"{name:<{width}} ")
        text.append("█" * filled, style=style)
        text.append("░" * (bar - filled), style="dim")
        text.append(" shadow\n" if state.shadow.get(name) and not weight else f" {weight}%\n")
    return text


def steps_text(state: RolloutState, lines: int = 99) -> Text:
    """The plan with ✔ done, ▶ current, · to come: one per line, or flowing when `lines` is short."""
    spec = state.spec
    text = Text()
    if spec.strategy != "canary":
        from console.rollout.controller import plan_text

        text.append(f"{spec.strategy}: {plan_text(spec)}\n")
        text.append(f"now: {state.step_text()}", style="bold")
        return text
    end = "\n" if len(spec.steps) <= lines else "  "
    for i, step in enumerate(spec.steps):
        if i < state.step_index or state.phase == "Completed":
            text.append(f"✔ {step.describe()}{end}", style="green")
        elif i == state.step_index and state.is_active:
            text.append(f"▶ {step.describe()}{end}", style="bold yellow")
        else:
            text.append(f"· {step.describe()}{end}", style="dim")
    return text


class RolloutDetailScreen(RolloutActions, ViewScreen):
    VIEW = "rollouts"
    REFRESH_SECONDS = 1.0

    BINDINGS = [
        Binding("r", "reload", "Reload", id="rollout_detail.reload", show=False),
        Binding("escape", "close", "Back", id="rollout_detail.close", show=False),
        *ROLLOUT_BINDINGS,
    ]

    def __init__(self, deployment: str) -> None:
        super().__init__()
        self.deployment = deployment
        self.state: RolloutState | None = None
        self.gate_keys: list[str] = []

    def compose_body(self) -> ComposeResult:
        yield Static("", id="rollout-header")
        with Horizontal(id="rollout-top"):
            with Vertical(id="rollout-left"):
                yield Static("", id="rollout-steps", classes="panel-box")
                yield Static("", id="rollout-weights", classes="panel-box")
            with Vertical(id="rollout-right"):
                yield ResourceTable(["gate", "scope", "last", "verdict", "fails", "measured"],
                                    empty="no gates", id="rollout-gates")
                yield LiveChart("gate values", id="rollout-gate-chart")
        yield ResourceTable(["time", "from → to", "step", "by", "why"], empty="no transitions yet",
                            id="rollout-transitions", classes="panel")

    def on_mount(self) -> None:
        self.query_one("#rollout-steps").border_title = "Steps"
        self.query_one("#rollout-weights").border_title = "Traffic"
        self.query_one("#rollout-gates", ResourceTable).border_title = "Gates"
        self.query_one("#rollout-transitions", ResourceTable).border_title = "Transitions (audited)"
        self.query_one("#rollout-gates", ResourceTable).table.focus()

    def refresh_data(self) -> None:
        cluster = self.backends.cluster

        def work() -> None:
            try:
                state = RolloutState.from_dict(cluster.rollout_status(self.deployment))
            except ConsoleError as exc:
                self._deliver(self._message, str(exc))
                return
            except Exception as exc:  # a record this console cannot read: say so, keep running
                self._deliver(self._message, f"unreadable rollout record: {type(exc).__name__}: {exc}")
                return
            self._deliver(self._show, state)

        self.run_worker(work, thread=True, group="rollout-detail", exclusive=True, exit_on_error=False)

    def _message(self, text: str) -> None:
        self.query_one("#rollout-header", Static).update(Text(f" {self.deployment}: {text}", style="yellow"))

    def _show(self, state: RolloutState) -> None:
        self.state = state
        spec = state.spec
        header = Text.assemble(Text(f" {state.deployment}", style="bold"), "  ", Text(spec.strategy),
                               "  ", rollout_phase(state.phase), "  ", Text(state.step_text(), style="italic"),
                               f"  {spec.stable} → {spec.candidate}")
        if state.message:
            header.append(f"\n {state.message}", style="yellow" if state.is_active else "dim")
        self.query_one("#rollout-header", Static).update(header)
        steps = self.query_one("#rollout-steps", Static)
        steps.update(steps_text(state, lines=max(1, steps.size.height - 2) if steps.size.height else 99))
        weights = self.query_one("#rollout-weights", Static)
        weights.update(weight_bars(state, room=weights.size.width - 4 if weights.size.width else BAR + 20))
        latest: dict[str, object] = {}
        counts: dict[str, int] = {}
        for m in state.measurements:
            key = f"{m.scope}:{m.metric}"
            latest[key] = m
            counts[key] = counts.get(key, 0) + 1
        rows = []
        self.gate_keys = []
        for gate in spec.gates:
            key = f"{gate.scope}:{gate.metric}"
            self.gate_keys.append(key)
            m = latest.get(key)
            value = "–" if m is None or m.value is None else f"{m.value:.4g}"
            verdict = (Text("waiting", style="dim") if m is None else
                       Text("pass", style="green") if m.passed else
                       Text("inconclusive", style="bold magenta") if m.passed is None else
                       Text("FAIL", style="bold reverse red"))
            fails = state.consecutive_failures.get(gate.key, 0)
            rows.append(Row(key, (gate.describe(), gate.scope, value, verdict,
                                  f"{fails}/{gate.failure_limit}", str(counts.get(key, 0)))))
        self.query_one("#rollout-gates", ResourceTable).set_rows(rows)
        self._chart()
        transitions = [Row(str(i), (formatting.time_of_day(t.at), f"{t.from_phase} → {t.to_phase}", str(t.step + 1),
                                    t.actor, t.reason))
                       for i, t in enumerate(reversed(state.transitions))]
        self.query_one("#rollout-transitions", ResourceTable).set_rows(transitions)

    def _selected_gate(self) -> str | None:
        table = self.query_one("#rollout-gates", ResourceTable).table
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _chart(self) -> None:
        """The highlighted gate's measured values over time, with its threshold as a line."""
        state, key = self.state, self._selected_gate()
        chart = self.query_one("#rollout-gate-chart", LiveChart)
        if state is None or key is None:
            chart.clear("no gate selected")
            return
        points = [(m.at, m.value) for m in state.measurements if f"{m.scope}:{m.metric}" == key and m.value is not None]
        if not points:
            chart.clear(f"{key}: no measurement yet")
            return
        gate = next((g for g in state.spec.gates if f"{g.scope}:{g.metric}" == key), None)
        threshold = [(points[0][0], gate.threshold), (points[-1][0], gate.threshold)] if gate else []
        now = max(points[-1][0], state.updated_at or points[-1][0])
        chart.title = key
        chart.show([Series(key, "measured", points), Series(key, "threshold", threshold)], now=now)

    @on(DataTable.RowHighlighted, "#rollout-gates DataTable")
    def _gate(self, event: DataTable.RowHighlighted) -> None:
        self._chart()

    def selected_rollout(self) -> tuple[str, str] | None:
        return (self.deployment, self.state.phase) if self.state else (self.deployment, "")

    def action_reload(self) -> None:
        self.refresh_data()

    def action_close(self) -> None:
        self.dismiss()
