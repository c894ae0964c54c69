"""Every rollout action goes through here: refused under --readonly, audited.

Screens and the headless CLI call these, never a backend's rollout methods directly, so both
honour --readonly and leave the same trail. Each request is one entry `rollout.<verb>.request`
(who asked, why: the --reason); the controller itself (in the local runtime's supervisor) then
audits each transition it makes as `rollout.<verb>` (from, to, why, with the gates' values).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from console.cluster_changes import AuditedClusterChanges
from console.errors import ConsoleError
from console.types import RolloutSummary

COMMANDS = ("promote", "promote_full", "pause", "resume", "abort", "retry")


def command_verb(text: str) -> str:
    """'promote-full' -> 'promote_full'; ConsoleError naming the known ones otherwise."""
    verb = str(text).strip().lower().replace("-", "_")
    if verb not in COMMANDS:
        raise ConsoleError(f"unknown rollout command {text!r}",
                           hint="one of: " + ", ".join(v.replace("_", "-") for v in COMMANDS))
    return verb


def describe(rollout: RolloutSummary | dict[str, Any] | None) -> str:
    """'canary Progressing, step 2, canary 50%' for the audit log ('' for none)."""
    if rollout is None:
        return ""
    if isinstance(rollout, dict):
        strategy, phase = rollout.get("strategy", "?"), rollout.get("phase", "?")
        step, weight = rollout.get("step", ""), rollout.get("canary_weight", 0)
    else:
        strategy, phase, step, weight = rollout.strategy, rollout.phase, rollout.step, rollout.canary_weight
    return f"{strategy} {phase}, step {step}, candidate {weight}%"


class RolloutChanges(AuditedClusterChanges):
    """Start and command rollouts with the readonly guard and an audit entry each."""

    capability = "run rollouts"

    def start(self, name: str, candidate_manifest: str, spec_text: str | None = None,
              search_paths: Sequence[str] = (), reason: str = "") -> RolloutSummary:
        """Start a rollout of a new version of `name` (spec_text None: the default canary)."""
        self._guard(f"start a rollout of {name}")
        self._supports("start_rollout")
        summary = self.cluster.start_rollout(name, candidate_manifest, spec_text, search_paths)
        digest = hashlib.sha256(candidate_manifest.encode()).hexdigest()[:12]
        strategy = "default canary" if spec_text is None else \
            f"strategy sha256:{hashlib.sha256(spec_text.encode()).hexdigest()[:12]}"
        self._record("rollout.start.request", self._target(name, summary), "",
                     f"{describe(summary)}; candidate manifest sha256:{digest}; {strategy}", reason)
        return summary

    def command(self, name: str, verb: str, reason: str = "") -> RolloutSummary:
        """promote, promote_full, pause, resume, abort or retry the rollout of `name`."""
        verb = command_verb(verb)
        self._guard(f"{verb.replace('_', '-')} the rollout of {name}")
        self._supports("rollout_command")
        try:
            before = self.cluster.rollout_status(name)
        except ConsoleError:
            before = None
        summary = self.cluster.rollout_command(name, verb)
        self._record(f"rollout.{verb}.request", self._target(name, summary), describe(before), describe(summary), reason)
        return summary

    def status(self, name: str) -> dict[str, Any]:
        """The rollout's state as a dict (reading is never refused)."""
        self._supports("rollout_status")
        return self.cluster.rollout_status(name)
