"""`mlconsole card MODEL[@ALIAS|/VERSION] [-o card.md]`: a Markdown model card from the evidence on record."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from console.config import Settings
from console.errors import InvalidSpec


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("card", parents=parents,
                       help="a Markdown model card: intended use, data and digests, metrics, fairness, "
                            "lineage, deployment and rollout history")
    p.add_argument("ref", metavar="MODEL[@ALIAS|/VERSION]",
                   help="a registered model (default version: @champion, else the latest)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the card here (default: standard output)")
    p.add_argument("--no-fairness", action="store_true",
                   help="skip computing the fairness table (no model load)")
    p.add_argument("--no-verify-data", action="store_true",
                   help="do not recompute the digests of logged datasets found on this machine")
    p.set_defaults(run=run_card)


def run_card(args: argparse.Namespace, settings: Settings) -> int:
    from console.governance.card import gather_card, render_card
    from console.wiring import make_cluster, make_registry

    ref = args.ref.strip()
    if not ref or ref.startswith(("@", "/")):
        raise InvalidSpec(f"bad model reference {args.ref!r}", hint="use NAME, NAME@ALIAS or NAME/VERSION")
    card = gather_card(make_registry(settings), ref.removeprefix("models:/"), home=settings.home,
                       cluster=make_cluster(settings), fairness=not args.no_fairness,
                       verify_data=not args.no_verify_data)
    text = render_card(card)
    if args.output:
        path = Path(args.output)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidSpec(f"cannot write {path}: {exc.strerror or exc}") from None
        print(f"wrote {path} ({card.model.name} v{card.version.version}, {len(text.splitlines())} lines)",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
