"""`mlconsole graph validate|show|export`: inference graph manifests from scripts and CI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from console.config import Settings
from console.errors import InvalidSpec


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    """The `graph` command group; every graph subcommand is added here."""
    graph = sub.add_parser("graph", help="inference graphs: SeldonDeployment manifests", parents=parents)
    gsub = graph.add_subparsers(dest="graph_command", metavar="COMMAND", required=True)

    validate = gsub.add_parser("validate", help="check a manifest; exit 1 when it has errors", parents=parents)
    _file_arguments(validate)
    validate.add_argument("--json", action="store_true", help="machine-readable output")
    validate.add_argument("--offline", action="store_true",
                          help="do not look models:/ URIs up in the registry")
    validate.add_argument("--no-imports", action="store_true",
                          help="do not import Python components to check them")
    validate.set_defaults(run=run_validate)

    show = gsub.add_parser("show", help="draw the graph of each predictor", parents=parents)
    _file_arguments(show)
    show.add_argument("--width", type=int, default=None, metavar="N",
                      help="columns to fit (default: the terminal's)")
    show.set_defaults(run=run_show)

    export = gsub.add_parser("export", help="write the graph for a cluster: Seldon or KServe", parents=parents)
    _file_arguments(export)
    export.add_argument("--target", choices=("seldon", "kserve"), required=True,
                        help="seldon: a SeldonDeployment; kserve: InferenceServices and an InferenceGraph")
    export.add_argument("-o", "--output", metavar="OUT", default=None, help="write to OUT instead of stdout")
    export.add_argument("--force", action="store_true", help="export even when validation finds errors")
    export.set_defaults(run=run_export)

    run = gsub.add_parser("run", help="send one request through the graph in-process (Seldon v1 JSON)",
                          parents=parents)
    _file_arguments(run)
    run.add_argument("--input", required=True, metavar="JSON|@FILE",
                     help='the request: Seldon v1 JSON, e.g. \'{"data": {"names": [...], "ndarray": [[...]]}}\', '
                          "or @path to a file holding it")
    run.add_argument("--predictor", default=None, help="which predictor (default: the first non-shadow)")
    run.add_argument("--trace", action="store_true", help="also print each node's output and latency")
    run.set_defaults(run=run_graph)


def _file_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a SeldonDeployment manifest, YAML or JSON ('-' for stdin)")
    parser.add_argument("--name", default=None,
                        help="which SeldonDeployment, when the file holds several")


def _load(args: argparse.Namespace):
    from console.graph.manifest_io import load_file

    return load_file(args.file, name=args.name)


def _source(args: argparse.Namespace) -> str:
    return "<stdin>" if args.file == "-" else args.file


def _load_error_line(exc: InvalidSpec) -> str:
    """`FILE:LINE:COL: error: problem (hint)` from the loader's error."""
    location = exc.location or exc.target
    problem = exc.message.removeprefix(f"{location}: ") if location else exc.message
    text = f"{location}: error: {problem}" if location else f"error: {problem}"
    return text + (f" ({exc.hint})" if exc.hint else "")


def _registry_for(dep: Any, settings: Settings) -> Any:
    """The registry when the graph names models:/ URIs; a stand-in saying why when it is down."""
    if not any((node.model_uri or "").startswith("models:/") for _, node in dep.nodes()):
        return None
    from console.wiring import UnloadableBackend, make_registry

    registry = make_registry(settings)
    health = registry.health()
    if not health.is_up:
        return UnloadableBackend("mlflow", registry.endpoint, health.reason or "down")
    return registry


def run_validate(args: argparse.Namespace, settings: Settings) -> int:
    from console.graph.validate import has_errors, validate

    source = _source(args)
    try:
        dep = _load(args)
    except InvalidSpec as exc:
        if args.json:
            from console.commands.output import print_json

            print_json({"file": source, "valid": False, "errors": 1, "warnings": 0, "problems": [{
                "severity": "error", "message": exc.message, "path": "", "line": _line(exc), "hint": exc.hint,
                "code": "invalid-manifest"}]})
        else:
            print(_load_error_line(exc))
            print(f"{source}: invalid manifest", file=sys.stderr)
        return 1
    registry = None if args.offline else _registry_for(dep, settings)
    import_paths = [str(Path(args.file).resolve().parent)] if args.file != "-" else []
    problems = validate(dep, registry=registry, check_imports=not args.no_imports,
                        import_paths=[*import_paths, str(Path.cwd())])
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    if args.json:
        from dataclasses import asdict

        from console.commands.output import print_json

        print_json({"file": source, "deployment": dep.name, "valid": not errors, "errors": errors,
                    "warnings": warnings, "problems": [asdict(p) for p in problems]})
    else:
        for problem in problems:
            print(problem.format(source))
        print(f"{source}: {_count(errors, 'error')}, {_count(warnings, 'warning')}" if problems
              else f"{source}: valid", file=sys.stderr)
    return 1 if has_errors(problems) else 0


def _line(exc: InvalidSpec) -> int | None:
    parts = (exc.location or "").split(":")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    import shutil

    from console.graph.layout import clean, fit, render_graph
    from console.graph.validate import validate

    try:
        dep = _load(args)
    except InvalidSpec as exc:
        print(_load_error_line(exc), file=sys.stderr)
        return 1
    width = max(args.width or shutil.get_terminal_size((80, 24)).columns, 20)
    nodes = sum(1 for _ in dep.nodes())
    where = f" in namespace {dep.namespace}" if dep.namespace else ""
    print(fit(clean(f"SeldonDeployment {dep.name}{where}"), width))
    print(fit(clean(f"{_count(len(dep.predictors), 'predictor')}, {_count(nodes, 'node')}, from {_source(args)}"),
              width))
    print()
    for line in render_graph(dep, width=width):
        print(line)
    problems = validate(dep, registry=None, check_imports=False)
    errors = sum(1 for p in problems if p.is_error)
    print()
    if problems:
        print(f"{_count(errors, 'error')}, {_count(len(problems) - errors, 'warning')} "
              "(see `mlconsole graph validate`)")
    else:
        print("no problems (registry and components not checked: see `mlconsole graph validate`)")
    return 0


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    from console.graph.export import seldon_notes, to_kserve, to_seldon
    from console.graph.manifest_io import dump_documents
    from console.graph.validate import validate

    source = _source(args)
    try:
        dep = _load(args)
    except InvalidSpec as exc:
        print(_load_error_line(exc), file=sys.stderr)
        return 1
    errors = [p for p in validate(dep, registry=None, check_imports=False) if p.is_error]
    if errors and not args.force:
        for problem in errors:
            print(problem.format(source), file=sys.stderr)
        print(f"{source}: not exported: {_count(len(errors), 'error')} (fix them, or --force)", file=sys.stderr)
        return 1
    if args.target == "seldon":
        docs, notes = [to_seldon(dep)], seldon_notes(dep)
    else:
        docs, notes = to_kserve(dep)
    text = dump_documents(docs)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidSpec(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(f"wrote {args.output} ({_count(len(docs), 'document')})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def run_graph(args: argparse.Namespace, settings: Settings) -> int:
    """Run one request through the graph with the registry's models; print the Seldon v1 response."""
    import json

    from backends.mlflow.model_loader import MlflowModelSource
    from console.commands.output import print_json
    from console.graph.executor import GraphExecutor, check_request

    text = args.input
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidSpec(f"cannot read the request file {text[1:]}: {exc.strerror}") from exc
    dep = _load(args)
    predictor = None
    if args.predictor:
        predictor = next((p for p in dep.predictors if p.name == args.predictor), None)
        if predictor is None:
            raise InvalidSpec(f"no predictor {args.predictor!r} in {dep.name}",
                              hint="predictors: " + ", ".join(p.name for p in dep.predictors))
    # A malformed request is refused before any model loads (loading takes seconds).
    request = check_request(text)
    executor = GraphExecutor(dep, MlflowModelSource(settings.registry),
                             predictor=predictor.name if predictor is not None else None)
    result = executor.run(request, record=args.trace)
    print_json(result.response)
    if args.trace:
        for node in result.nodes:
            out = node.output
            if out is not None and hasattr(out, "names"):
                rows = out.rows() if out.is_tabular() else out.data
                shown = json.dumps({"names": out.names, "data": rows[:2] if isinstance(rows, list) else rows},
                                   default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
            else:
                shown = json.dumps(out, default=str)
            route = f" route {node.route}" if node.route is not None else ""
            print(f"{node.name:<20} {node.type:<18} {node.seconds * 1000:8.2f} ms{route}  {shown[:100]}",
                  file=sys.stderr)
    return 0
