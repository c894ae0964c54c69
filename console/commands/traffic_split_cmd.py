"""`mlconsole traffic-split NAME main=90 canary=10`: set predictors' traffic shares (audited)."""

from __future__ import annotations

import argparse

from console.commands.cluster_common import changes, usage_error
from console.config import Settings


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    split = sub.add_parser(
        "traffic-split", aliases=["set-traffic"], parents=parents,
        help="set the traffic percentage of predictors; non-shadow ones must sum to 100 (audited)")
    split.add_argument("name", help="the deployment")
    split.add_argument("weights", nargs="*", metavar="PREDICTOR=PERCENT", help="e.g. main=90 canary=10")
    split.add_argument("--shadow", action="append", default=[], metavar="PREDICTOR",
                       help="make PREDICTOR a shadow (gets a mirror of the traffic; its answers are dropped)")
    split.add_argument("--no-shadow", action="append", default=[], metavar="PREDICTOR",
                       help="make PREDICTOR serve again (give it a weight too)")
    split.add_argument("--reason", default="", help="recorded in the audit log")
    split.set_defaults(run=run_split)


def parse_weights(items: list[str]) -> dict[str, int]:
    """{'main': 90, 'canary': 10} from ['main=90', 'canary=10']; ValueError saying which is wrong."""
    weights: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        value = value.strip().rstrip("%")
        if not sep or not name or not value.isdigit() or int(value) > 100:
            raise ValueError(f"{item!r} is not PREDICTOR=PERCENT (a whole number 0..100)")
        if name in weights:
            raise ValueError(f"predictor {name!r} is given twice")
        weights[name] = int(value)
    return weights


def run_split(args: argparse.Namespace, settings: Settings) -> int:
    try:
        weights = parse_weights(args.weights)
    except ValueError as exc:
        return usage_error(str(exc))
    both = set(args.shadow) & set(args.no_shadow)
    if both:
        return usage_error(f"{', '.join(sorted(both))}: both --shadow and --no-shadow")
    if not weights and not args.shadow and not args.no_shadow:
        return usage_error("give PREDICTOR=PERCENT weights (e.g. main=90 canary=10), --shadow or --no-shadow")
    shadow = {**{p: True for p in args.shadow}, **{p: False for p in args.no_shadow}}
    summary = changes(settings).set_traffic(args.name, weights, shadow or None, reason=args.reason)
    print(f"deployment {args.name}: traffic {summary.traffic_label}")
    return 0
