"""Deploy, scale, restart, delete and traffic keys shared by the cluster screens.

Each action: refuse at once under --readonly; ask what is needed; show what will change
(the manifest diff, the replicas, the weights) and ask to confirm; run the change in a
worker through console.cluster_changes (which audits it); toast the result; reload.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from textual.binding import Binding

from console.cluster_changes import ClusterChanges
from console.errors import ConsoleError
from console.graph.draft import parse_traffic
from console.secrets import mask_manifest_text
from screens.change_worker import run_change
from screens.confirm import ConfirmScreen
from screens.diff_confirm import DiffConfirm
from screens.fuzzy_picker import Choice, FuzzyPicker
from screens.text_prompt import TextPrompt

CLUSTER_BINDINGS = [
    Binding("a", "deploy", "Deploy", id="cluster.deploy"),
    # priority: tables sort on s elsewhere; here s scales, as in k9s (S still sorts).
    Binding("s", "scale", "Scale", id="cluster.scale", priority=True),
    Binding("R", "restart", "Restart", id="cluster.restart"),
    Binding("t", "traffic", "Traffic", id="cluster.traffic"),
    Binding("ctrl+d", "delete", "Delete", id="cluster.delete"),
]


def graph_files(home: Path) -> list[Choice]:
    """Manifests under home/graphs, for the deploy picker."""
    folder = home / "graphs"
    files = sorted(p for pattern in ("*.yaml", "*.yml", "*.json") for p in folder.glob(pattern)) \
        if folder.is_dir() else []
    return [Choice(str(p), p.name, "home/graphs") for p in files]


class ClusterActions:
    """Mixin for a Screen that knows its selected deployment (and maybe predictor)."""

    def selected_deployment(self) -> str | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def selected_predictor(self) -> str | None:
        return None

    def predictor_names(self) -> list[str]:
        """The selected deployment's predictors, for prompts."""
        return []

    # -- plumbing -----------------------------------------------------------------------

    def _allowed(self, action: str) -> bool:
        if self.app.settings.readonly:
            self.notify(f"{action} refused: mlconsole runs with --readonly", severity="error", timeout=6)
            return False
        return True

    def _target(self, action: str) -> str | None:
        if not self._allowed(action):
            return None
        name = self.selected_deployment()
        if name is None:
            self.notify("select a deployment first", severity="warning", timeout=4)
        return name

    def run_change(self, change: Callable[[ClusterChanges], str], then: Callable[[], None] | None = None) -> None:
        """Run one change in a worker; its summary (or its error) becomes a toast."""
        changes = ClusterChanges(self.app.settings, self.app.backends.cluster)
        run_change(self, lambda: change(changes), "cluster-change", then)

    def _confirm(self, question: str, detail: str, yes: str, change: Callable[[ClusterChanges], str],
                 then: Callable[[], None] | None = None) -> None:
        self.app.push_screen(ConfirmScreen(question, detail, yes=yes),
                             lambda ok: ok and self.run_change(change, then))

    # -- deploy -------------------------------------------------------------------------

    def action_deploy(self) -> None:
        if not self._allowed("deploy"):
            return
        home = Path(self.app.settings.home)
        self.app.push_screen(FuzzyPicker("Deploy a manifest — pick one from home/graphs or type a path",
                                         choices=graph_files(home), accept_typed="/"),
                             lambda path: path and self.deploy_file(Path(path).expanduser()))

    def deploy_file(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            self.notify(f"cannot read {path}: {exc.strerror or exc}", severity="error", timeout=8)
            return
        self.deploy_text(text, str(path), search_paths=(str(path.parent), os.getcwd()))

    def deploy_text(self, text: str, source: str, search_paths: tuple[str, ...] = ()) -> None:
        """Validate, diff against what runs, confirm, apply."""
        if not self._allowed("deploy"):
            return
        cluster = self.app.backends.cluster
        registry = self.app.backends.registry

        def prepare() -> None:
            from console.graph.manifest_io import load_manifest
            from console.graph.validate import validate

            try:
                dep = load_manifest(text, source)
                errors = [p for p in validate(dep, registry=registry, import_paths=search_paths) if p.is_error]
                if errors:
                    shown = "; ".join(p.format(source) for p in errors[:3])
                    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
                    raise ConsoleError(f"not deployed: {shown}{more}",
                                       hint="fix them in the graph builder (Graphs view, e)")
                diff = cluster.diff(text)
                if diff and diff != "created":  # secrets of either side masked, as describe shows them
                    try:
                        deployed = cluster.get_deployment(dep.name).manifest or ""
                    except ConsoleError:
                        deployed = ""
                    diff = mask_manifest_text(diff, text, deployed)
            except ConsoleError as exc:
                self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=12)
                return
            self.app.call_from_thread(self._confirm_deploy, dep.name, diff, text, search_paths)

        self.run_worker(prepare, thread=True, group="cluster-deploy-check", exit_on_error=False)

    def _confirm_deploy(self, name: str, diff: str, text: str, search_paths: tuple[str, ...]) -> None:
        if not diff:
            self.notify(f"{name} unchanged: the cluster already runs this manifest", timeout=5)
            return
        question = f"Create deployment {name}?" if diff == "created" else f"Update deployment {name}?"

        def change(changes: ClusterChanges) -> str:
            result = changes.deploy(text, search_paths)
            return f"{name} {result.verb}: {result.summary.url or result.summary.phase}"

        self.app.push_screen(DiffConfirm(question, "" if diff == "created" else diff, yes="Deploy"),
                             lambda ok: ok and self.run_change(change))

    # -- scale, restart, traffic, delete -------------------------------------------------

    def action_scale(self) -> None:
        name = self._target("scale")
        if name is None:
            return
        predictor = self.selected_predictor() or (self.predictor_names() or ["main"])[0]

        def answered(text: str | None) -> None:
            if not text:
                return
            pred, _, count = text.strip().rpartition("=")
            pred = pred.strip() or predictor
            if not count.strip().isdigit():
                self.notify(f"{text!r}: write PREDICTOR=N, e.g. {predictor}=2", severity="error", timeout=6)
                return
            replicas = int(count)
            self._confirm(f"Scale {name}/{pred} to {replicas} replica(s)?", "", "Scale",
                          lambda c: f"{name}/{pred} scaled to {replicas} "
                                    f"({c.scale(name, pred, replicas).phase})")

        self.app.push_screen(TextPrompt(f"Scale {name}: PREDICTOR=REPLICAS", value=f"{predictor}=",
                                        hint=f"predictors: {', '.join(self.predictor_names()) or predictor}"),
                             answered)

    def action_restart(self) -> None:
        name = self._target("restart")
        if name is None:
            return
        predictor = self.selected_predictor()
        what = f"{name}/{predictor}" if predictor else f"{name} (every predictor and the gateway)"
        self._confirm(f"Restart {what}?", "new processes start first; the old stop once the new are ready",
                      "Restart", lambda c: f"{what} restarting ({c.restart(name, predictor).phase})")

    def action_traffic(self) -> None:
        name = self._target("change traffic")
        if name is None:
            return

        def answered(text: str | None) -> None:
            if not text:
                return
            try:
                weights, shadows = parse_traffic(text)
            except ConsoleError as exc:
                self.notify(str(exc), severity="error", timeout=8)
                return
            shadow = {p: True for p in shadows} | {p: False for p in weights}
            detail = " / ".join(f"{p} {w}%" for p, w in weights.items()) + \
                "".join(f" / {p} shadow" for p in shadows)
            self._confirm(f"Change the traffic of {name}?", detail, "Apply",
                          lambda c: f"{name}: {c.set_traffic(name, weights, shadow).traffic_label}")

        self.app.push_screen(TextPrompt(f"Traffic of {name} (percent; NAME=shadow mirrors)",
                                        value=self.current_traffic(),
                                        hint="the weights of predictors that answer add up to 100"), answered)

    def current_traffic(self) -> str:
        return ""

    def action_delete(self) -> None:
        name = self._target("delete")
        if name is None:
            return

        def change(c: ClusterChanges) -> str:
            c.delete(name)
            return f"{name} deleted"

        self._confirm(f"Delete deployment {name}?", "its processes stop and its gateway URL goes away",
                      "Delete", change, then=getattr(self, "after_delete", None))


def strategy_files(home: Path) -> list[Choice]:
    """The default canary, then rollout specs under home/rollouts (YAML, Argo-like)."""
    folder = home / "rollouts"
    files = sorted(p for pattern in ("*.yaml", "*.yml") for p in folder.glob(pattern)) if folder.is_dir() else []
    return [Choice("", "default canary", "10% → 50% → 100%, gated on errors and p99"),
            *(Choice(str(p), p.name, "home/rollouts") for p in files)]


class RolloutStart:
    """Mixin: `o` starts a rollout of the selected deployment (new version, strategy, plan, confirm)."""

    def action_start_rollout(self) -> None:
        name = self._target("start a rollout")  # type: ignore[attr-defined]
        if name is None:
            return
        home = Path(self.app.settings.home)

        def strategy_for(manifest_path: str | None) -> None:
            if not manifest_path:
                return
            self.app.push_screen(FuzzyPicker(f"Rollout of {name} — which strategy?", choices=strategy_files(home)),
                                 lambda spec_path: spec_path is not None and self._preview_rollout(
                                     name, Path(manifest_path).expanduser(), spec_path))

        self.app.push_screen(FuzzyPicker(f"Rollout of {name} — the new version's manifest",
                                         choices=graph_files(home), accept_typed="/"), strategy_for)

    def _preview_rollout(self, name: str, manifest_path: Path, spec_path: str) -> None:
        from console.rollout.controller import plan_text
        from console.rollout.spec import default_canary, load_spec

        try:
            manifest = manifest_path.read_text(encoding="utf-8")
            spec_text = Path(spec_path).read_text(encoding="utf-8") if spec_path else None
            spec = load_spec(spec_text) if spec_text else default_canary()
        except (OSError, ConsoleError) as exc:
            self.notify(f"cannot start the rollout: {exc}", severity="error", timeout=10)
            return

        def start(changes: ClusterChanges) -> str:
            from console.rollout_changes import RolloutChanges

            summary = RolloutChanges(changes.settings, changes.cluster).start(
                name, manifest, spec_text, (str(manifest_path.parent), os.getcwd()))
            return f"rollout of {name} started: {summary.phase} {summary.step}"

        self._confirm(f"Start a {spec.strategy} rollout of {name}?",
                      f"new version: {manifest_path.name}; {spec.stable} → {spec.candidate}\n{plan_text(spec)}",
                      "Start", start)
