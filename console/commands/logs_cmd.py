"""`mlconsole logs NAME`: a deployment's serving processes' logs, tailed or followed."""

from __future__ import annotations

import argparse
import sys

from console.commands.cluster_common import cluster, usage_error
from console.config import Settings


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    logs = sub.add_parser("logs", help="print (or follow) the logs of a deployment's processes", parents=parents)
    logs.add_argument("name", help="the deployment")
    logs.add_argument("--predictor", "-p", default=None,
                      help="only this predictor's replicas ('gateway' for the gateway)")
    logs.add_argument("--replica", "-r", type=int, default=None, metavar="I", help="only replica I")
    logs.add_argument("--tail", type=int, default=200, metavar="N", help="last N lines (default 200)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until ctrl+c")
    logs.add_argument("--previous", action="store_true",
                      help="the container that ran before the last restart (Kubernetes; the local runtime's "
                           "logs already hold every run)")
    logs.set_defaults(run=run_logs)


def run_logs(args: argparse.Namespace, settings: Settings) -> int:
    if args.tail < 0:
        return usage_error(f"--tail must be 0 or more, not {args.tail}")
    if args.replica is not None and args.replica < 0:
        return usage_error(f"--replica must be 0 or more, not {args.replica}")
    from console.secrets import mask_line

    backend = cluster(settings, "logs", "follow_logs")
    # Masked as the console's log view masks them: a component or library may print a credential.
    if not args.follow or args.previous:  # a previous container has ended: nothing to follow
        for line in backend.logs(args.name, args.predictor, args.replica, args.tail, previous=args.previous):
            print(mask_line(line))
        return 0
    try:
        for line in backend.follow_logs(args.name, args.predictor, args.replica, args.tail):
            print(mask_line(line), flush=True)
    except BrokenPipeError:  # `| head` closed the pipe
        sys.stderr.close()
    return 0
