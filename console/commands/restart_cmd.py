"""`mlconsole restart NAME [PREDICTOR]`: replace a deployment's processes by fresh ones (audited)."""

from __future__ import annotations

import argparse

from console.commands.cluster_common import changes
from console.config import Settings


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    restart = sub.add_parser(
        "restart", parents=parents,
        help="restart a deployment's processes: new replicas start, old ones stop once those are ready "
             "(audited)")
    restart.add_argument("name", help="the deployment")
    restart.add_argument("predictor", nargs="?", default=None,
                         help="only this predictor (default: every predictor and the gateway)")
    restart.add_argument("--reason", default="", help="recorded in the audit log")
    restart.set_defaults(run=run_restart)


def run_restart(args: argparse.Namespace, settings: Settings) -> int:
    changes(settings).restart(args.name, args.predictor, reason=args.reason)
    print(f"deployment {args.name}: restarting {args.predictor or 'every predictor and the gateway'}")
    return 0
