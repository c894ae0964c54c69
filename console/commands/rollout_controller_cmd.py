"""`mlconsole rollout controller [--once] [--until-idle]`: tick Kubernetes rollouts, headless.

Rollouts on Kubernetes keep their spec and state on the SeldonDeployment (annotations), so this
loop can run anywhere the kubeconfig (or, in a pod, `--context in-cluster`) reaches: beside a
console, in CI, or as a Deployment of its own. Several may run: each change is conditional on
the object's resourceVersion, so one tick wins and the others read again. Gates read the metrics
backend (`--metrics http://prometheus:9090`); without one they are inconclusive and a gated
rollout pauses as Inconclusive rather than promote blind.
"""

from __future__ import annotations

import argparse
import sys
import time

from console.config import Settings


def register_controller(rsub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    controller = rsub.add_parser(
        "controller", parents=parents, help="tick the rollouts of a Kubernetes namespace (headless controller loop)",
        description="Run the rollout controller for every rollout in the --context/--namespace scope "
                    "('-n all' for every namespace). Audited as the rollout controller.")
    controller.add_argument("--once", action="store_true", help="one tick of every active rollout, then exit")
    controller.add_argument("--until-idle", action="store_true",
                            help="exit once no rollout in scope is active (or finishing)")
    controller.add_argument("--interval", type=float, default=1.0, metavar="S",
                            help="seconds between ticks (default 1)")
    controller.set_defaults(run=run_controller)


def _line(name: str, summary) -> str:
    if summary is None:
        return f"{name}: gone"
    return (f"{time.strftime('%H:%M:%S')}  {name}  {summary.strategy} {summary.phase}  step {summary.step}  "
            f"candidate {summary.canary_weight}%" + (f"  {summary.message}" if summary.message else ""))


def run_controller(args: argparse.Namespace, settings: Settings) -> int:
    from console.commands.cluster_common import usage_error
    from console.errors import ConsoleError
    from console.wiring import make_cluster, make_metrics

    if args.interval <= 0:
        return usage_error(f"--interval must be positive, not {args.interval:g}")
    if settings.readonly:  # first: whatever the cluster, a read-only console changes no rollout
        from console.errors import ReadOnly

        raise ReadOnly("run the rollout controller")
    if settings.cluster_kind != "kubernetes":
        raise ConsoleError("the local runtime runs its rollout controller in its supervisor already",
                           hint="give --context to drive the rollouts of a Kubernetes cluster")
    cluster = make_cluster(settings)
    if not callable(getattr(cluster, "start_rollout_controller", None)):
        cluster.list_rollouts()  # an unloadable backend says why
        raise ConsoleError("this cluster backend has no rollout controller")
    metrics = make_metrics(settings) if settings.metrics else None
    if metrics is None:
        print("mlconsole: no --metrics: gated rollouts will pause as Inconclusive (gate-less ones proceed)",
              file=sys.stderr)
    controller = cluster.rollout_controller(metrics)
    if args.once:
        for name, summary in controller.run_once():
            print(_line(name, summary), flush=True)
        return 0
    shown: dict[str, tuple] = {}

    def report(results) -> bool:
        for name, summary in results or []:
            key = None if summary is None else (summary.phase, summary.step, summary.canary_weight, summary.message)
            if shown.get(name) != key:
                shown[name] = key
                print(_line(name, summary), flush=True)
        return bool(args.until_idle and results is not None
                    and not any(s is not None and s.is_running for _, s in results))

    try:
        controller.run(args.interval, until=report)
    except KeyboardInterrupt:
        pass
    return 0
