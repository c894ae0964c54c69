"""`mlconsole delete NAME`: stop a deployment's processes and forget it (audited)."""

from __future__ import annotations

import argparse

from console.commands.cluster_common import changes
from console.config import Settings


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    delete = sub.add_parser("delete", help="delete a deployment: its processes stop (audited)", parents=parents)
    delete.add_argument("name", help="the deployment")
    delete.add_argument("--reason", default="", help="recorded in the audit log")
    delete.set_defaults(run=run_delete)


def run_delete(args: argparse.Namespace, settings: Settings) -> int:
    changes(settings).delete(args.name, reason=args.reason)
    print(f"deployment {args.name} deleted")
    return 0
