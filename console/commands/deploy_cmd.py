"""`mlconsole deploy FILE`: validate a SeldonDeployment, show the diff, apply it (audited)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from console.commands.cluster_common import changes, cluster, ready
from console.config import Settings
from console.errors import InvalidSpec

SETTLED = ("Available", "Failed")


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    deploy = sub.add_parser(
        "deploy", parents=parents,
        help="create or update a deployment from a SeldonDeployment manifest (audited)",
        description="Validate the manifest (refusing it on errors), print what would change, then apply it. "
                    "The local runtime's supervisor starts on demand.")
    deploy.add_argument("file", metavar="FILE", help="a SeldonDeployment manifest, YAML or JSON ('-' for stdin)")
    deploy.add_argument("--name", default=None, help="which SeldonDeployment, when the file holds several")
    deploy.add_argument("--as", dest="as_name", default=None, metavar="NAME",
                        help="deploy under another name than the manifest's")
    deploy.add_argument("--dry-run", action="store_true", help="validate and print the diff; change nothing")
    deploy.add_argument("--wait", action="store_true", help="wait until the deployment is Available (or Failed)")
    deploy.add_argument("--timeout", type=float, default=120.0, metavar="S", help="for --wait (default 120)")
    deploy.add_argument("--offline", action="store_true", help="do not look models:/ URIs up in the registry")
    deploy.add_argument("--reason", default="", help="recorded in the audit log")
    deploy.set_defaults(run=run_deploy)


def run_deploy(args: argparse.Namespace, settings: Settings) -> int:
    from console.commands.graph_cmd import _count, _load_error_line, _registry_for
    from console.graph.manifest_io import dump_yaml, load_file
    from console.graph.validate import validate

    source = "<stdin>" if args.file == "-" else args.file
    try:
        dep = load_file(args.file, name=args.name)
    except InvalidSpec as exc:
        print(_load_error_line(exc), file=sys.stderr)
        print(f"{source}: not deployed: invalid manifest", file=sys.stderr)
        return 1
    if args.as_name:
        dep.name = args.as_name
    search_paths = [str(Path(args.file).resolve().parent)] if args.file != "-" else []
    search_paths.append(str(Path.cwd()))
    registry = None if args.offline else _registry_for(dep, settings)
    problems = validate(dep, registry=registry, check_imports=True, import_paths=search_paths)
    errors = [p for p in problems if p.is_error]
    for problem in problems:
        print(problem.format(source), file=sys.stderr)
    if errors:
        print(f"{source}: not deployed: {_count(len(errors), 'error')}", file=sys.stderr)
        return 1
    text = dump_yaml(dep)
    backend = cluster(settings, "diff", "apply", "get_deployment")
    if args.dry_run:
        diff = backend.diff(text)
        _print_diff(backend, dep.name, diff, text)
        print(f"deployment {dep.name} would be "
              f"{'created' if diff == 'created' else ('configured' if diff else 'unchanged')} (dry run)")
        return 0
    deployed = _deployed_manifest(backend, dep.name)  # before the change: the diff's old side
    result = changes(settings).deploy(text, search_paths, reason=args.reason)
    _print_diff(backend, dep.name, result.diff, text, deployed)
    summary = result.summary
    print(f"deployment {dep.name} {result.verb}" + (f": {summary.url}" if summary.url else ""))
    if not args.wait:
        return 0
    deadline = time.monotonic() + max(1.0, args.timeout)
    while True:
        summary = backend.get_deployment(dep.name).summary
        if summary.phase in SETTLED or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    print(f"{dep.name}: {summary.phase}, {ready(summary)} replicas ready"
          + (f" — {summary.message}" if summary.message and summary.phase != "Available" else "")
          + (f", serving at {summary.url}" if summary.phase == "Available" else ""))
    if summary.phase != "Available":
        if summary.phase not in SETTLED:
            print(f"mlconsole: {dep.name} not Available after {args.timeout:g}s", file=sys.stderr)
        return 1
    return 0


def _deployed_manifest(backend, name: str) -> str:
    """The manifest as deployed now ('' when there is none, or it cannot be read)."""
    from console.errors import ConsoleError

    try:
        return backend.get_deployment(name).manifest or ""
    except (ConsoleError, AttributeError):
        return ""


def _print_diff(backend, name: str, diff: str, new: str, deployed: str | None = None) -> None:
    """The diff, with the secret values of both sides masked (parameters and env named like secrets)."""
    from console.secrets import mask_manifest_text

    if diff and diff != "created":
        old = _deployed_manifest(backend, name) if deployed is None else deployed
        diff = mask_manifest_text(diff, new, old)
        sys.stdout.write(diff if diff.endswith("\n") else diff + "\n")
