"""Describe a deployment: the manifest the cluster runs, as YAML, secrets masked."""

from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.errors import ConsoleError
from console.secrets import mask_manifest
from screens.view import ViewScreen


def masked_yaml(manifest: str) -> str:
    """The manifest with secret env values masked (the text itself if it is not YAML)."""
    import yaml

    try:
        data = yaml.safe_load(manifest)
    except yaml.YAMLError:
        return manifest
    return yaml.safe_dump(mask_manifest(data), sort_keys=False, allow_unicode=True, width=100)


class DescribeScreen(ViewScreen):
    VIEW = "cluster"

    BINDINGS = [
        Binding("e", "edit", "Edit in builder", id="describe.edit"),
        Binding("r", "reload", "Reload", id="describe.reload"),
        Binding("escape", "close", "Back", id="describe.close", show=False),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.deployment_name = name
        self.text = ""

    def compose_body(self) -> ComposeResult:
        yield VerticalScroll(Static("loading…", id="describe-text"), id="describe-box", classes="panel")

    def on_mount(self) -> None:
        box = self.query_one("#describe-box")
        box.border_title = f"{self.deployment_name} — manifest as deployed"
        box.focus()

    def refresh_data(self) -> None:
        def work() -> None:
            try:
                detail = self.backends.cluster.get_deployment(self.deployment_name)
            except ConsoleError as exc:
                self._deliver(self._show, f"✖ {exc}", False)
                return
            header = (f"# {detail.summary.name}: {detail.summary.phase}; {detail.summary.traffic_label}; "
                      f"{detail.summary.url or 'no URL yet'}\n")
            self._deliver(self._show, header + masked_yaml(detail.manifest), True)

        self.run_worker(work, thread=True, group="describe", exit_on_error=False)

    def _show(self, text: str, is_yaml: bool) -> None:
        self.text = text
        target = self.query_one("#describe-text", Static)
        target.update(Syntax(text, "yaml", theme="ansi_dark", word_wrap=False) if is_yaml else text)

    def action_reload(self) -> None:
        self.refresh_data()

    def action_edit(self) -> None:
        open_deployed_in_builder(self, self.deployment_name)

    def action_close(self) -> None:
        self.dismiss()


def open_deployed_in_builder(screen, name: str) -> None:
    """Open what runs as a draft of home/graphs/NAME.yaml; nothing is written until ctrl+s."""
    from console.graph.draft import GraphDraft
    from console.graph.manifest_io import load_manifest
    from screens.graph_builder import GraphBuilderScreen

    def work() -> None:
        try:
            detail = screen.app.backends.cluster.get_deployment(name)
            dep = load_manifest(detail.manifest, f"deployment {name}")
        except ConsoleError as exc:
            screen.app.call_from_thread(screen.notify, str(exc), severity="error", timeout=8)
            return
        target = Path(screen.app.settings.home) / "graphs" / f"{name}.yaml"
        draft = GraphDraft(dep.raw, target)
        screen.app.call_from_thread(screen.app.push_screen, GraphBuilderScreen(draft))
        note = " (it exists: ctrl+s overwrites it)" if target.exists() else ""
        screen.app.call_from_thread(screen.notify, f"editing {name} as deployed; ctrl+s writes {target.name}{note}",
                                    timeout=6)

    screen.run_worker(work, thread=True, group="open-deployed", exit_on_error=False)
