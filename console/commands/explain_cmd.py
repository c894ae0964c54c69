"""`mlconsole explain MODEL_URI --row JSON`: the top feature contributions to one prediction."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from console.commands.output import print_json, print_table
from console.config import Settings


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("explain", parents=parents,
                       help="feature contributions to one prediction (exact for linear models, "
                            "sampled SHAP else)")
    p.add_argument("model", metavar="MODEL_URI",
                   help="models:/NAME@ALIAS, models:/NAME/VERSION (or NAME@ALIAS)")
    p.add_argument("--row", required=True, metavar="JSON", help='the input row, e.g. \'{"age": 41, ...}\'')
    p.add_argument("--background", metavar="PATH",
                   help="background rows, Parquet or CSV (default: the training dataset the version's "
                        "run logged)")
    p.add_argument("--method", choices=("auto", "linear", "sampling"), default="auto",
                   help="auto: exact for linear models, sampling otherwise (default)")
    p.add_argument("--samples", type=int, default=1024, metavar="N", help="orders sampled (default 1024)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="the sampling's random seed (default 0)")
    p.add_argument("--top", type=int, default=10, metavar="N",
                   help="contributions shown (default 10; --json: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run_explain)


def run_explain(args: argparse.Namespace, settings: Settings) -> int:
    from console.governance.explain import parse_row
    from console.governance.explain_run import explanation_of
    from console.governance.model_data import model_uri
    from console.wiring import make_registry

    row = parse_row(args.row)
    result = explanation_of(make_registry(settings), model_uri(args.model), row, background=args.background,
                            method=args.method, samples=args.samples, seed=args.seed)
    if args.json:
        print_json({**asdict(result), "residual": result.residual})
        return 0
    score = "" if result.score is None else f"  (score {result.score:.4f})"
    print(f"{result.model_uri}: {result.method}, in {result.space} space{score}")
    print(f"prediction {result.prediction:+.4f} = baseline {result.baseline:+.4f} "
          f"+ contributions {result.prediction - result.baseline:+.4f}")
    if result.samples:
        used = min(result.samples // 2, result.background_rows)
        print(f"baseline: mean output over {used} of {result.background_rows} background rows "
              f"({result.samples} sampled orders) from {result.background}\n")
    else:
        print(f"baseline: mean over {result.background_rows} background rows from {result.background}\n")
    shown = result.top(max(1, args.top))
    print_table(["feature", "value", "contribution", ""], [
        (c.feature, "" if c.value is None else c.value, f"{c.contribution:+.4f}", _bar(c.contribution, shown))
        for c in shown])
    rest = result.contributions[len(shown):]
    if rest:
        print(f"({len(rest)} more, {sum(c.contribution for c in rest):+.4f} together)")
    return 0


def _bar(value: float, shown) -> str:
    """A text bar scaled to the largest shown contribution: '+' pushes the score up, '-' down."""
    largest = max((abs(c.contribution) for c in shown), default=0.0) or 1.0
    width = round(abs(value) / largest * 20)
    return ("+" if value >= 0 else "-") * width
