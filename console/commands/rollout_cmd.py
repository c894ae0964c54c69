"""`mlconsole rollout start|status|promote|promote-full|pause|resume|abort|retry`: progressive delivery.

    mlconsole rollout start NAME --manifest FILE [--strategy FILE] [--fault RATE]
    mlconsole rollout status NAME [--watch] [--json]
    mlconsole rollout list [--json]
    mlconsole rollout promote|promote-full|pause|resume|abort|retry NAME

Every change is audited and refused under --readonly (console/rollout_changes.py); nothing
prompts. The controller runs in the cluster (the local runtime's supervisor), so a rollout
carries on after the command returns; `status --watch` follows it until it ends.
Exit codes: 0 done; 1 refused or failed (and, for `status --watch`, a rollout that ended
Aborted or Failed); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from console.commands.cluster_common import cluster, usage_error
from console.commands.output import print_json
from console.config import Settings
from console.errors import InvalidSpec

VERBS = ("promote", "promote-full", "pause", "resume", "abort", "retry")
VERB_HELP = {
    "promote": "go on to the next step now (ends a pause, indefinite or not)",
    "promote-full": "skip the remaining steps and analysis: the candidate takes 100% and replaces stable",
    "pause": "hold the rollout at its current step (analysis keeps measuring)",
    "resume": "carry on from a pause or an inconclusive analysis",
    "abort": "back to stable at 100% now; the candidate is removed (and the alias restored)",
    "retry": "start an aborted rollout again from its first step",
}
WATCH_EVERY = 0.5
ENDED_WELL = ("Completed",)


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    rollout = sub.add_parser("rollout", parents=parents,
                             help="progressive delivery: canary, blue-green, shadow and A/B rollouts (audited)",
                             description="Roll a new version of a deployment out in steps gated by live "
                                         "metrics, with automatic rollback.")
    rsub = rollout.add_subparsers(dest="rollout_command", metavar="COMMAND", required=True)

    start = rsub.add_parser("start", parents=parents, help="start a rollout of a new version of a deployment",
                            description="The candidate manifest's first predictor's graph runs beside the "
                                        "deployment's stable predictor and takes traffic as the strategy says.")
    start.add_argument("name", help="the deployment to roll the new version out to")
    start.add_argument("--manifest", required=True, metavar="FILE",
                       help="the new version: a SeldonDeployment (its first predictor's graph is the candidate)")
    start.add_argument("--select", default=None, metavar="NAME",
                       help="which SeldonDeployment of the manifest file, when it holds several")
    start.add_argument("--strategy", default=None, metavar="FILE",
                       help="the rollout spec (YAML; Argo-like canary steps accepted); default: a canary "
                            "10%% -> 50%% -> 100%% gated on error rate and p99 latency")
    start.add_argument("--fault", type=float, default=None, metavar="RATE",
                       help="rollback drill: the candidate fails this share (0..1) of its requests with a 500")
    start.add_argument("--offline", action="store_true", help="do not look models:/ URIs up in the registry")
    start.add_argument("--reason", default="", help="recorded in the audit log")
    start.set_defaults(run=run_start)

    listing = rsub.add_parser("list", aliases=["ls"], parents=parents, help="every rollout, running or finished")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(run=run_list)

    status = rsub.add_parser("status", parents=parents, help="a rollout's phase, step, traffic and gates")
    status.add_argument("name", help="the deployment")
    status.add_argument("--watch", "-w", action="store_true",
                        help="print a line per change until the rollout ends (or Ctrl-C)")
    status.add_argument("--json", action="store_true", help="machine-readable (with --watch: one object a line)")
    status.set_defaults(run=run_status)

    for verb in VERBS:
        command = rsub.add_parser(verb, parents=parents, help=VERB_HELP[verb].replace("%", "%%") + " (audited)")
        command.add_argument("name", help="the deployment")
        command.add_argument("--reason", default="", help="recorded in the audit log")
        command.set_defaults(run=run_verb, verb=verb)

    from console.commands.rollout_controller_cmd import register_controller

    register_controller(rsub, parents)  # Kubernetes: the headless controller loop


def _changes(settings: Settings, backend: Any) -> Any:
    from console.rollout_changes import RolloutChanges

    return RolloutChanges(settings, backend)


# -- start ------------------------------------------------------------------------------------------------


def run_start(args: argparse.Namespace, settings: Settings) -> int:
    from console.commands.graph_cmd import _count, _load_error_line, _registry_for
    from console.graph.manifest_io import dump_yaml, load_file
    from console.graph.validate import validate

    if args.fault is not None and not 0.0 <= args.fault <= 1.0:
        return usage_error(f"--fault must be a share between 0 and 1, not {args.fault:g}")
    if settings.readonly:
        from console.errors import ReadOnly

        raise ReadOnly(f"start a rollout of {args.name}")
    try:
        dep = load_file(args.manifest, name=args.select)
    except InvalidSpec as exc:
        print(_load_error_line(exc), file=sys.stderr)
        print(f"{args.manifest}: rollout not started: invalid manifest", file=sys.stderr)
        return 1
    search_paths = [str(Path(args.manifest).resolve().parent), str(Path.cwd())]
    registry = None if args.offline else _registry_for(dep, settings)
    problems = validate(dep, registry=registry, check_imports=True, import_paths=search_paths)
    errors = [p for p in problems if p.is_error]
    for problem in problems:
        print(problem.format(args.manifest), file=sys.stderr)
    if errors:
        print(f"{args.manifest}: rollout not started: {_count(len(errors), 'error')}", file=sys.stderr)
        return 1
    spec_text = None
    if args.strategy:
        try:
            spec_text = Path(args.strategy).read_text(encoding="utf-8")
        except OSError as exc:
            return usage_error(f"cannot read --strategy {args.strategy}: {exc.strerror}")
    backend = cluster(settings, "start_rollout", "rollout_status")
    if args.fault:
        spec_text = _with_fault(spec_text, args.fault, backend, args.name)
    summary = _changes(settings, backend).start(args.name, dump_yaml(dep), spec_text, search_paths,
                                                reason=args.reason)
    print(f"rollout of {args.name} started: {summary.strategy}, {summary.phase}, step {summary.step}, "
          f"candidate at {summary.canary_weight}%")
    if args.fault:
        print(f"rollback drill: the candidate fails {args.fault:.0%} of its requests")
    print(f"follow it with `mlconsole rollout status {args.name} --watch`")
    return 0


def _with_fault(spec_text: str | None, rate: float, backend: Any, name: str) -> str:
    """The spec (or the default canary for the deployment's serving predictor) with fault_rate set."""
    import dataclasses

    from console.rollout.spec import default_canary, dump_spec, load_spec

    if spec_text:
        spec = load_spec(spec_text)
    else:
        serving = [p.name for p in backend.get_deployment(name).summary.predictors if not p.shadow and p.traffic]
        spec = default_canary(stable=serving[0]) if len(serving) == 1 else default_canary()
    return dump_spec(dataclasses.replace(spec, fault_rate=rate))


# -- commands ------------------------------------------------------------------------------------------------


def run_verb(args: argparse.Namespace, settings: Settings) -> int:
    backend = cluster(settings, "rollout_command", "rollout_status")
    summary = _changes(settings, backend).command(args.name, args.verb, reason=args.reason)
    line = f"rollout of {args.name}: {args.verb} -> {summary.phase}, step {summary.step}, " \
           f"candidate at {summary.canary_weight}%"
    print(line + (f" — {summary.message}" if summary.message else ""))
    return 0


# -- list and status ---------------------------------------------------------------------------------------------------


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import asdict

    from console.commands.output import print_table

    rollouts = cluster(settings).list_rollouts()
    if args.json:
        print_json({"rollouts": [asdict(r) for r in rollouts]})
        return 0
    if not rollouts:
        print("no rollouts")
        return 0
    print_table(["deployment", "strategy", "phase", "step", "candidate", "message"],
                [(r.deployment, r.strategy, r.phase, r.step, f"{r.canary_weight}%", _short(r.message))
                 for r in rollouts])
    return 0


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    backend = cluster(settings, "rollout_status")
    state = backend.rollout_status(args.name)
    if not args.watch:
        if args.json:
            print_json(state)
        else:
            _print_status(args.name, state)
        return 0
    last = None
    while True:
        key = _change_key(state)
        if key != last:
            last = key
            if args.json:
                print(json.dumps(state, default=str, ensure_ascii=False), flush=True)
            else:
                print(_status_line(state), flush=True)
        if not _running(state):
            return 0 if state.get("phase") in ENDED_WELL else 1
        time.sleep(WATCH_EVERY)
        state = backend.rollout_status(args.name)


def _running(state: dict[str, Any]) -> bool:
    """True while the controller still acts on it (or the runtime still finishes a promotion)."""
    if (state.get("local") or {}).get("finishing"):
        return True
    try:
        from console.rollout.state import RolloutState

        return bool(RolloutState.from_dict({k: v for k, v in state.items() if k != "local"}).is_active)
    except Exception:  # noqa: BLE001 - a record we cannot read: judge by its phase
        return state.get("phase") in ("Progressing", "Paused", "Inconclusive")


def _weights(state: dict[str, Any]) -> str:
    spec = state.get("spec") if isinstance(state.get("spec"), dict) else {}
    first = [p for p in (spec.get("stable"), spec.get("candidate")) if p in (state.get("weights") or {})]
    weights = {p: state["weights"][p] for p in first} | dict(state.get("weights") or {})  # stable, candidate
    shadow = state.get("shadow") or {}
    parts = [f"{p} (shadow)" if shadow.get(p) else f"{p} {w}%" for p, w in weights.items()]
    parts += [f"{p} (shadow)" for p, on in shadow.items() if on and p not in weights]
    return " / ".join(parts)


def _change_key(state: dict[str, Any]) -> tuple:
    local = state.get("local") or {}
    return (state.get("phase"), state.get("step"), _weights(state), state.get("message"),
            json.dumps(local.get("finishing"), sort_keys=True, default=str), local.get("waiting"))


def _status_line(state: dict[str, Any]) -> str:
    local = state.get("local") or {}
    stamp = time.strftime("%H:%M:%S")
    parts = [stamp, str(state.get("phase", "?")), f"step {state.get('step', '')}", _weights(state)]
    finishing = local.get("finishing")
    if finishing:
        parts.append("finishing: " + str(finishing.get("waiting") or "promoting"))
    elif local.get("waiting"):
        parts.append(str(local["waiting"]))
    if state.get("message"):
        parts.append(str(state["message"]))
    return "  ".join(p for p in parts if p)


def _print_status(name: str, state: dict[str, Any]) -> None:
    local = state.get("local") or {}
    rows = [("Name", name), ("Strategy", state.get("strategy", "?")), ("Phase", state.get("phase", "?")),
            ("Step", state.get("step", "")), ("Traffic", _weights(state) or "-"),
            ("Message", state.get("message", ""))]
    if local.get("waiting"):
        rows.append(("Waiting", local["waiting"]))
    if local.get("finishing"):
        rows.append(("Finishing", local["finishing"].get("waiting") or "promoting"))
    for label, value in rows:
        if value not in ("", None):
            print(f"{label + ':':<11}{value}")
    try:
        from console.rollout.state import RolloutState

        parsed = RolloutState.from_dict({k: v for k, v in state.items() if k != "local"})
    except Exception:  # noqa: BLE001 - a record of another version: the lines above are all we can say
        return
    latest: dict[tuple[str, str], Any] = {}
    for m in parsed.measurements:
        latest[(m.scope, m.metric)] = m
    if latest:
        print("Gates (latest measurement):")
        for m in latest.values():
            print(f"  {time.strftime('%H:%M:%S', time.localtime(m.at))}  {m.describe()}")
    if parsed.transitions:
        print("Transitions (newest last):")
        for t in parsed.transitions[-8:]:
            when = time.strftime("%H:%M:%S", time.localtime(t.at))
            print(f"  {when}  {t.from_phase or '-'} -> {t.to_phase}  step {t.step + 1}  {t.actor}: {t.reason}")
