"""`mlconsole config show`: the effective settings and where each came from."""

from __future__ import annotations

import argparse
import os

from console.commands.output import print_json, print_table
from console.config import Settings
from console.secrets import MASK, is_secret_name

# Credentials the backends read from the environment: shown as set/unset, never their value.
CREDENTIAL_VARS = (
    "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
    "MLCONSOLE_PROMETHEUS_TOKEN", "MLCONSOLE_PROMETHEUS_USERNAME", "MLCONSOLE_PROMETHEUS_PASSWORD",
    "KUBECONFIG",
)


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    config = sub.add_parser("config", help="show the effective settings", parents=parents)
    config_sub = config.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    show = config_sub.add_parser("show", help="print each setting, its value and its source",
                                 parents=parents)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(run=run_show)


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    rows = settings.describe()
    creds = []
    for var in CREDENTIAL_VARS:
        value = os.environ.get(var)
        if value is None:
            continue
        shown = MASK if is_secret_name(var) else value
        creds.append((var, shown, "env"))
    if args.json:
        print_json({
            "settings": {k: {"value": v, "source": s} for k, v, s in rows},
            "config_file": str(settings.config_file),
            "credentials": {k: v for k, v, _ in creds},
        })
        return 0
    print_table(["setting", "value", "source"], rows + creds)
    print(f"\nconfig file: {settings.config_file}"
          + ("" if settings.config_file and settings.config_file.exists() else " (absent)"))
    return 0
