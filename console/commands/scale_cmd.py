"""`mlconsole scale NAME PREDICTOR N`: run N replicas of one predictor (audited)."""

from __future__ import annotations

import argparse

from console.commands.cluster_common import changes, usage_error
from console.config import Settings


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    scale = sub.add_parser("scale", help="set how many replicas a predictor runs (audited)", parents=parents)
    scale.add_argument("name", help="the deployment")
    scale.add_argument("predictor", help="the predictor")
    scale.add_argument("replicas", type=int, metavar="N", help="replicas (0 stops it)")
    scale.add_argument("--reason", default="", help="recorded in the audit log")
    scale.set_defaults(run=run_scale)


def run_scale(args: argparse.Namespace, settings: Settings) -> int:
    if args.replicas < 0:
        return usage_error(f"replicas must be 0 or more, not {args.replicas}")
    changes(settings).scale(args.name, args.predictor, args.replicas, reason=args.reason)
    print(f"deployment {args.name}: {args.predictor} scaled to {args.replicas} replica"
          f"{'s' * (args.replicas != 1)}")
    return 0
