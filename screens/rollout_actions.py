"""Promote, promote-full, pause/resume, abort and retry keys shared by the rollout screens.

Each: refused at once under --readonly; confirmed (the question says what happens to
traffic); run in a worker through console.rollout_changes, which audits it; toast; reload.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding

from console.rollout_changes import RolloutChanges
from screens.change_worker import run_change
from screens.confirm import ConfirmScreen

ROLLOUT_BINDINGS = [
    Binding("p", "rollout('promote')", "Promote", id="rollout.promote"),
    Binding("P", "rollout('promote_full')", "Promote full", id="rollout.promote_full"),
    Binding("space", "pause_resume", "Pause/resume", id="rollout.pause_resume"),
    Binding("ctrl+a", "rollout('abort')", "Abort", id="rollout.abort"),
    Binding("ctrl+r", "rollout('retry')", "Retry", id="rollout.retry", show=False),
]

QUESTIONS = {
    "promote": ("Promote {name} to its next step?", "skips the current pause; gates keep watching"),
    "promote_full": ("Promote {name} fully?", "the candidate takes 100% now and replaces the stable graph"),
    "pause": ("Pause {name}?", "traffic stays as it is; analysis keeps measuring"),
    "resume": ("Resume {name}?", "steps continue from where they stopped"),
    "abort": ("Abort {name}?", "traffic goes back to the stable predictor at 100%; the candidate is removed"),
    "retry": ("Retry {name}?", "starts the rollout again from its first step"),
}


class RolloutActions:
    """Mixin for a Screen that knows its selected rollout (deployment name) and its phase."""

    def selected_rollout(self) -> tuple[str, str] | None:  # pragma: no cover - overridden
        """(deployment, phase) of the rollout the keys act on."""
        raise NotImplementedError

    def action_pause_resume(self) -> None:
        target = self.selected_rollout()
        if target is not None:
            self.action_rollout("resume" if target[1] in ("Paused", "Inconclusive") else "pause")
        elif not self._refused("pause/resume"):  # nothing selected: say so (or, read-only, that first)
            self.notify("select a rollout first", severity="warning", timeout=4)

    def _refused(self, verb: str) -> bool:
        """True, with a notice, under --readonly: before any question about a change that cannot happen."""
        if self.app.settings.readonly:
            self.notify(f"rollout {verb.replace('_', '-')} refused: mlconsole runs with --readonly",
                        severity="error", timeout=6)
            return True
        return False

    def action_rollout(self, verb: str) -> None:
        if self._refused(verb):
            return
        target = self.selected_rollout()
        if target is None:
            self.notify("select a rollout first", severity="warning", timeout=4)
            return
        name = target[0]
        question, detail = QUESTIONS[verb]
        self.app.push_screen(ConfirmScreen(question.format(name=name), detail, yes=verb.replace("_", "-").title()),
                             lambda ok: ok and self._run(lambda c: c.command(name, verb)))

    def _run(self, change: Callable[[RolloutChanges], object]) -> None:
        changes = RolloutChanges(self.app.settings, self.app.backends.cluster)

        def summarize() -> str:
            summary = change(changes)
            return f"{getattr(summary, 'deployment', '')} {getattr(summary, 'phase', '')}"

        run_change(self, summarize, "rollout-change")
