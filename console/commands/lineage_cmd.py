"""`mlconsole lineage NAME`: from a deployment down to the data its models were trained on."""

from __future__ import annotations

import argparse
import sys

from console.commands.output import print_json
from console.config import Settings

EXIT_DATA_CHANGED = 3


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    lineage = sub.add_parser(
        "lineage", parents=parents, help="a deployment's models, runs and training data, data re-verified",
        description="Trace deployment -> manifest digest -> each model version in its graph -> training run "
                    "(params, metrics, git commit, entry point) -> logged datasets. Data on this machine has "
                    "its digest recomputed now, as MLflow computed it. Exit 0 when every checked dataset still "
                    "matches, 3 when any changed or is gone, 1 on errors (a model the registry cannot resolve too).")
    lineage.add_argument("name", metavar="NAME", help="the deployment")
    lineage.add_argument("--json", action="store_true", help="machine-readable output")
    lineage.add_argument("--no-verify-data", dest="verify_data", action="store_false",
                         help="do not read the datasets to recompute their digests")
    lineage.set_defaults(run=run_lineage)


def run_lineage(args: argparse.Namespace, settings: Settings) -> int:
    from console.commands.cluster_common import cluster
    from console.governance.lineage import trace_deployment
    from console.governance.lineage_outline import outline, render_text
    from console.wiring import make_registry

    lineage = trace_deployment(cluster(settings, "get_deployment"), make_registry(settings), args.name,
                               home=settings.home, verify_data=args.verify_data)
    if args.json:
        print_json(lineage.to_dict())
    else:
        sys.stdout.write("\n".join(render_text(outline(lineage))) + "\n")
    broken = lineage.unresolved()
    for model in broken:
        print(f"mlconsole: {model.predictor}/{model.node}: {model.error}", file=sys.stderr)
    if lineage.data_ok is False:
        return EXIT_DATA_CHANGED
    return 1 if broken else 0
