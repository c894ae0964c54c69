"""`mlconsole models list|show|alias`: the registry from scripts, as kubectl does clusters."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from console.commands.output import print_json, print_table
from console.config import Settings
from console.errors import InvalidSpec


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    models = sub.add_parser("models", help="the model registry (MLflow)", parents=parents)
    msub = models.add_subparsers(dest="models_command", metavar="COMMAND", required=True)

    ls = msub.add_parser("list", help="registered models, one page at a time", parents=parents)
    ls.add_argument("--filter", default="", metavar="TEXT", help="name contains TEXT (server-side)")
    ls.add_argument("--max", type=int, default=100, metavar="N", help="page size (default 100)")
    ls.add_argument("--page-token", default=None, help="continue from a previous page")
    ls.add_argument("--all", action="store_true", help="follow every page")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(run=run_list)

    show = msub.add_parser("show", help="a model (NAME), or a version (NAME/3, NAME@alias)",
                           parents=parents)
    show.add_argument("ref", metavar="NAME[/VERSION|@ALIAS]")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(run=run_show)

    alias = msub.add_parser("alias", help="point ALIAS at VERSION of NAME (audited)", parents=parents)
    alias.add_argument("name")
    alias.add_argument("version")
    alias.add_argument("alias")
    alias.add_argument("--reason", default="", help="recorded in the audit log")
    alias.set_defaults(run=run_alias)


def _registry(settings: Settings):
    from console.wiring import make_registry

    return make_registry(settings)


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    registry = _registry(settings)
    items, token = [], args.page_token
    while True:
        page = registry.list_models(args.filter, page_token=token, max_results=args.max)
        items.extend(page.items)
        token = page.next_token
        if not args.all or not token:
            break
    if args.json:
        print_json({"registry": registry.endpoint, "models": [asdict(m) for m in items],
                    "next_page_token": token})
        return 0
    print_table(["name", "latest", "aliases", "description"],
                [(m.name, m.latest_version or "", " ".join(f"@{a}={v}" for a, v in sorted(m.aliases.items())),
                  (m.description.splitlines() or [""])[0][:60]) for m in items])
    if token:
        print(f"\nmore: --page-token {token}  (or --all)")
    return 0


def parse_ref(ref: str) -> tuple[str, str | None]:
    """'credit-risk/3' -> ('credit-risk', '3'); 'credit-risk@champion' -> (.., '@champion')."""
    if "@" in ref:
        name, _, alias = ref.partition("@")
        if not name or not alias:
            raise InvalidSpec(f"bad model reference {ref!r}", hint="use NAME, NAME/VERSION or NAME@ALIAS")
        return name, f"@{alias}"
    if "/" in ref:
        name, _, version = ref.rpartition("/")
        if not name or not version.isdigit():
            raise InvalidSpec(f"bad model reference {ref!r}", hint="use NAME, NAME/VERSION or NAME@ALIAS")
        return name, version
    return ref, None


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    registry = _registry(settings)
    name, version_ref = parse_ref(args.ref)
    if version_ref is None:
        model = registry.get_model(name)
        versions = registry.list_versions(name)
        if args.json:
            print_json({"model": asdict(model), "versions": [asdict(v) for v in versions]})
            return 0
        print(f"{model.name}  ({registry.endpoint})")
        if model.description:
            print(f"  {model.description}")
        for key, value in sorted(model.tags.items()):
            print(f"  tag {key}={value}")
        print()
        print_table(["version", "status", "aliases", "run", "description"],
                    [(v.version, v.status, " ".join(f"@{a}" for a in v.aliases), v.run_id[:12],
                      (v.description.splitlines() or [""])[0][:50]) for v in versions])
        return 0
    version = registry.get_version(name, version_ref)
    run = registry.get_run(version.run_id) if version.run_id else None
    signature = registry.get_signature(name, version.version)
    if args.json:
        print_json({"version": asdict(version), "run": asdict(run) if run else None,
                    "signature": asdict(signature) if signature else None})
        return 0
    aliases = " ".join(f"@{a}" for a in version.aliases)
    print(f"{name} version {version.version} {aliases}  [{version.status}]")
    if version.description:
        print(f"  {version.description}")
    print(f"  source: {version.source}")
    if run:
        print(f"\nrun {run.run_id} ({run.name}) in experiment {run.experiment_name or run.experiment_id}")
        if run.git_commit:
            print(f"  git commit {run.git_commit}")
        print_table(["param", "value"], sorted(run.params.items()))
        print()
        print_table(["metric", "value"], [(k, f"{v:.4g}") for k, v in sorted(run.metrics.items())])
        if run.datasets:
            print()
            print_table(["dataset", "context", "digest", "source"],
                        [(d.name, d.context, d.digest, d.source) for d in run.datasets])
    if signature:
        print("\nsignature inputs: " + ", ".join(f"{f.name}:{f.type}" for f in signature.inputs))
        print("signature outputs: " + ", ".join(f"{f.name or '-'}:{f.type}" for f in signature.outputs))
    return 0


def run_alias(args: argparse.Namespace, settings: Settings) -> int:
    from console.registry_changes import RegistryChanges

    if not args.version.isdigit():
        raise InvalidSpec(f"version must be a number, not {args.version!r}")
    summary = RegistryChanges(settings, _registry(settings)).set_alias(
        args.name, args.alias, args.version, reason=args.reason)
    print(summary)
    return 0
