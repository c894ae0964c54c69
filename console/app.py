"""MLConsoleApp: the views as Textual modes, global keys, the command line and palette."""

from __future__ import annotations

import importlib
import os
import time
from functools import partial

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.reactive import reactive

from console import command_line
from console.config import Settings
from console.errors import ConsoleError
from console.types import Health, HealthState
from console.wiring import Backends, make_backends
from screens.view import ViewScreen
from screens.widgets.view_tabs import VIEWS
from themes.themes import THEMES

HEALTH_SECONDS = 10.0


def _lazy_screen(module: str, name: str):
    def make():
        return getattr(importlib.import_module(module), name)()

    make.__name__ = name
    return make


class ViewCommands(Provider):
    """Palette entries: every view, every `:` command, and the current view's own keys."""

    def _entries(self):
        app: MLConsoleApp = self.app  # type: ignore[assignment]
        for number, (mode, label) in enumerate(VIEWS, 1):
            yield f"Go to {label} ({number})", partial(app.switch_view, mode), f"open the {label} view"
        for theme in THEMES:
            yield f"Theme: {theme.name}", partial(app.set_theme, theme.name), "switch colours"
        screen = self.screen  # the view the palette was opened on (app.screen is the palette itself)
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if active.node is screen and binding.description and active.enabled:
                yield (f"{binding.description} ({key})",
                       partial(app.run_action, binding.action, screen), f"key {key} in this view")

    async def discover(self) -> Hits:
        for name, command, help_text in self._entries():
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, command, help_text in self._entries():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, help=help_text)


class MLConsoleApp(App):
    """The console. Backends come from settings; views are modes switched by 1-8 and `:`."""

    TITLE = "mlconsole"
    CSS_PATH = ["../themes/app.tcss"]
    # Each view's module is imported when the view is first opened: startup pays for one.
    MODES = {
        "overview": _lazy_screen("screens.overview", "OverviewScreen"),
        "data": _lazy_screen("screens.data", "DataScreen"),
        "registry": _lazy_screen("screens.registry", "RegistryScreen"),
        "graphs": _lazy_screen("screens.graphs", "GraphsScreen"),
        "cluster": _lazy_screen("screens.cluster", "ClusterScreen"),
        "rollouts": _lazy_screen("screens.rollouts", "RolloutsScreen"),
        "monitor": _lazy_screen("screens.monitor", "MonitorScreen"),
        "audit": _lazy_screen("screens.audit", "AuditScreen"),
    }
    DEFAULT_MODE = "overview"
    COMMANDS = App.COMMANDS | {ViewCommands}
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        *[
            Binding(str(n), f"switch_view('{mode}')", label, id=f"view.{mode}", show=False)
            for n, (mode, label) in enumerate(VIEWS, 1)
        ],
        Binding("colon", "command_line", "Command", id="app.command", key_display=":"),
        Binding("slash", "filter", "Filter", id="app.filter", key_display="/"),
        Binding("question_mark", "keys", "Keys", id="app.keys", key_display="?"),
        Binding("escape", "back", "Back", id="app.back", show=False),
        Binding("q", "quit_console", "Quit", id="app.quit"),
    ]

    health: reactive[dict[str, Health]] = reactive(dict, always_update=True)
    readonly_label: reactive[str] = reactive("")
    running_rollouts: reactive[int] = reactive(0)

    def __init__(self, settings: Settings, backends: Backends | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.backends = backends or make_backends(settings)
        self._checking: set[str] = set()
        self._history: list[str] = []
        self.readonly_label = "READONLY" if settings.readonly else ""
        # Before the first frame: switching theme later re-applies all CSS (a visible cost).
        for theme in THEMES:
            self.register_theme(theme)
        self.set_reactive(App.theme, settings.theme)

    # -- lifecycle ------------------------------------------------------------------

    def on_mount(self) -> None:
        self.set_interval(HEALTH_SECONDS, self.refresh_health)
        self.call_after_refresh(self.refresh_health)
        self._drive_rollouts()

    def _drive_rollouts(self) -> None:
        """On Kubernetes rollouts live on the cluster: a console that may change it ticks them too."""
        start = getattr(self.backends.cluster, "start_rollout_controller", None)
        if callable(start) and not self.settings.readonly:
            try:
                start(self.backends.metrics)
            except ConsoleError:  # a backend that failed to load: its health says why
                pass

    def on_ready(self) -> None:
        # For bench/startup.py: record the first painted frame, then leave.
        ready_file = os.environ.get("MLCONSOLE_READY_FILE")
        if ready_file:
            with open(ready_file, "w") as fh:
                fh.write(repr(time.time()))
            self.exit()

    # -- health ---------------------------------------------------------------------

    def refresh_health(self) -> None:
        """Check every backend in its own worker thread; a slow one never blocks the others."""
        for role in ("cluster", "registry", "metrics"):
            if role in self._checking:
                continue
            self._checking.add(role)
            self.run_worker(partial(self._check, role), thread=True, group=f"health-{role}",
                            exit_on_error=False)

    def _check(self, role: str) -> None:
        backend = getattr(self.backends, role)
        try:
            health = backend.health()
        except Exception as exc:  # a port promises not to raise; be safe anyway
            health = Health(HealthState.DOWN, f"health check failed: {exc}", backend.endpoint, time.time())
        running = None
        if role == "cluster" and health.is_up:
            try:
                running = sum(1 for r in backend.list_rollouts() if r.is_running)
            except ConsoleError:
                running = None
        try:
            self.call_from_thread(self._set_health, role, health, running)
        except Exception:  # the app is shutting down
            pass

    def _set_health(self, role: str, health: Health, running: int | None) -> None:
        self._checking.discard(role)
        previous = self.health.get(role)
        self.health = {**self.health, role: health}
        if running is not None:
            self.running_rollouts = running
        if previous and previous.state != health.state and health.state == HealthState.DOWN:
            self.notify(f"{role} is down: {health.reason}", severity="error", timeout=8)
        elif previous and previous.state == HealthState.DOWN and health.is_up:
            self.notify(f"{role} is back: {health.reason}", timeout=4)

    # -- navigation -----------------------------------------------------------------

    def switch_view(self, mode: str) -> None:
        """Go to a top-level view, remembering where we came from for esc."""
        if mode == self.current_mode:
            return
        self._history.append(self.current_mode)
        self._history = self._history[-20:]
        self.switch_mode(mode)

    def action_switch_view(self, mode: str) -> None:
        self.switch_view(mode)

    def action_back(self) -> None:
        """esc: close the top screen of this view, else go back to the previous view."""
        if len(self.screen_stack) > 1:
            self.pop_screen()
        elif self._history:
            self.switch_mode(self._history.pop())

    def action_filter(self) -> None:
        screen = self.screen
        target = screen.filter_target() if isinstance(screen, ViewScreen) else None
        if target is None:
            self.notify("nothing to filter in this view", severity="warning", timeout=3)
        else:
            target.open_filter()

    def action_keys(self) -> None:
        screen = self.screen
        rows: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            shown = binding.key_display or self.get_key_display(binding)
            # Copy is Textual's own text-selection key; it says nothing about this view.
            if not binding.description or shown in seen or key.startswith("super+") \
                    or binding.action.endswith("copy_text"):
                continue
            seen.add(shown)
            if active.node is screen:
                scope = "view"
            elif active.node is self:
                scope = "global"
            else:
                scope = type(active.node).__name__.lower().replace("datatable", "table")
            rows.append((shown, binding.description, scope))
        order = {"view": 0, "global": 1}
        rows.sort(key=lambda r: (order.get(r[2], 2), r[2], r[0]))
        label = dict(VIEWS).get(self.current_mode, self.current_mode)
        from screens.keys import KeysScreen

        self.push_screen(KeysScreen(label, rows))

    def action_command_line(self) -> None:
        from screens.command_prompt import CommandPrompt

        self.push_screen(CommandPrompt(), self.run_command)

    def run_command(self, text: str | None) -> None:
        """Execute a `:` command; a bad one becomes a toast, never an exception."""
        if not text:
            return
        try:
            command, arg = command_line.parse(text)
        except ConsoleError as exc:
            self.notify(str(exc), severity="error", timeout=5)
            return
        if command.view:
            self.switch_view(command.view)
            if arg and command.view == "graphs":
                from pathlib import Path

                from screens.graph_builder import open_builder

                open_builder(self, path=Path(arg).expanduser())
            elif arg and command.view == "data":
                from screens.data import open_in_data_view

                open_in_data_view(self, arg)
            elif arg:
                self.notify(f":{command.name} {arg}: opening a path arrives with the {command.view} view",
                            severity="warning", timeout=5)
        elif command.name == "lineage":
            from screens.lineage import LineageScreen

            self.push_screen(LineageScreen(arg, self.current_mode))
        elif command.name == "card":
            from screens.model_card import ModelCardScreen

            self.switch_view("registry")  # a card is about a registry version, whatever view asked
            self.push_screen(ModelCardScreen(arg))
        elif command.name == "help":
            self.action_keys()
        elif command.name == "quit":
            self.action_quit_console()
        elif command.name == "theme":
            self.set_theme(arg)
        elif command.name == "ctx":
            if arg:
                self.switch_context(None if arg == "local" else arg)
            else:
                self.pick_context()
        elif command.name == "ns":
            self.rebuild_backends(self.settings.with_overrides(namespace=arg))

    def set_theme(self, name: str) -> None:
        if name not in {t.name for t in THEMES}:
            self.notify(f"unknown theme {name!r}: choose {', '.join(t.name for t in THEMES)}",
                        severity="error")
            return
        self.theme = name

    def pick_context(self) -> None:
        """`:ctx` alone: pick from the kubeconfig's contexts (as kubectl merges them) or the local runtime."""
        from screens.fuzzy_picker import Choice, FuzzyPicker

        current = self.settings.context

        def contexts() -> list[Choice]:
            from backends.kubernetes.kubeconfig import list_contexts

            found = [Choice("local", "local", "the embedded runtime" + (" (current)" if not current else ""))]
            for c in list_contexts():
                note = " ".join(x for x in (c.cluster, f"ns {c.namespace}" if c.namespace else "",
                                            "(current)" if c.name == current else "") if x)
                found.append(Choice(c.name, c.name, note))
            return found

        self.push_screen(FuzzyPicker("Switch the cluster to which context?", load=contexts),
                         lambda name: name and self.switch_context(None if name == "local" else name))

    def switch_context(self, context: str | None) -> None:
        """`:ctx NAME` moves the cluster backend to that kubeconfig context; `:ctx local` back home."""
        self.rebuild_backends(self.settings.with_overrides(context=context))
        self.notify(f"cluster: {self.backends.cluster.endpoint}", timeout=3)

    def rebuild_backends(self, settings: Settings) -> None:
        close = getattr(self.backends.cluster, "close", None)  # its watches and rollout loop
        if callable(close):
            try:
                close()
            except ConsoleError:
                pass
        self.settings = settings
        self.backends = make_backends(settings)
        self._drive_rollouts()
        self.health = {k: v for k, v in self.health.items() if k != "cluster"}
        self.refresh_health()
        if isinstance(self.screen, ViewScreen):
            self.screen.refresh_data()

    def action_quit_console(self) -> None:
        if self.running_rollouts:
            from screens.confirm import ConfirmScreen

            question = f"{self.running_rollouts} rollout(s) running. Quit anyway?"
            detail = "Rollouts keep running in the runtime's controller; you can come back to them."
            self.push_screen(ConfirmScreen(question, detail, yes="Quit"),
                             lambda yes: self.exit() if yes else None)
        else:
            self.exit()
