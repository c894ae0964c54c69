"""`mlconsole fairness MODEL_URI --data PATH --label COL --sensitive COL`: per-group rates and disparities."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from console.commands.output import print_json, print_table
from console.config import Settings


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("fairness", parents=parents,
                       help="per-group selection rate, TPR, FPR, accuracy and disparities of a classifier")
    p.add_argument("model", metavar="MODEL_URI",
                   help="models:/NAME@ALIAS, models:/NAME/VERSION (or NAME@ALIAS)")
    p.add_argument("--data", metavar="PATH",
                   help="labelled evaluation data, Parquet or CSV (default: the evaluation dataset the "
                        "version's run logged)")
    p.add_argument("--label", metavar="COL", help="the 0/1 label column (default: guessed from the data)")
    p.add_argument("--sensitive", metavar="COL", action="append",
                   help="a sensitive attribute column; repeat or comma-separate for several "
                        "(default: guessed from the data and the run's metrics)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="a score at or above this is a positive prediction (default 0.5)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run_fairness)


def _sensitive(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out += [v.strip() for v in value.split(",") if v.strip()]
    return out


def run_fairness(args: argparse.Namespace, settings: Settings) -> int:
    from console.governance.fairness_run import fairness_of
    from console.governance.model_data import model_uri
    from console.wiring import make_registry

    reports = fairness_of(make_registry(settings), model_uri(args.model), data=args.data, label=args.label,
                          sensitive=_sensitive(args.sensitive), threshold=args.threshold)
    if args.json:
        print_json({"model": reports[0].model_uri, "data": reports[0].data, "label": reports[0].label,
                    "threshold": reports[0].threshold, "reports": [asdict(r) for r in reports]})
        return 0
    first = reports[0]
    print(f"{first.model_uri} on {first.data} ({first.rows} rows), label {first.label!r}, "
          f"positive when score >= {first.threshold:g}")
    for report in reports:
        print(f"\nsensitive attribute: {report.sensitive}")
        print_table(["group", "rows", "positives", "selection", "tpr", "fpr", "accuracy"],
                    [_row(g) for g in [*report.groups, report.overall]])
        odds = report.equalized_odds_difference
        print(f"demographic parity difference {report.demographic_parity_difference:.4f}   "
              f"equalized odds difference {'n/a' if odds is None else f'{odds:.4f}'}")
    return 0


def _row(g) -> tuple:
    def num(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.4f}"

    return (g.group, g.count, g.positives, num(g.selection_rate), num(g.tpr), num(g.fpr), num(g.accuracy))

