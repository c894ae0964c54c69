"""`mlconsole data drift|profile|query`: datasets and live traffic from scripts and CI.

`data` is a command group: each subcommand adds itself in SUBCOMMANDS. drift reads samples
with `load_source`; profile and query open their sources in a console.data DataSession,
the same code the Data view pages and profiles with.

Tables in `data query` SQL: `--table NAME=SOURCE` (repeatable) names any source (a file, a
glob, requests:DEP, training:DEP, dataset:MODEL/VERSION, runs:/RUN/PATH); a file can also be
named directly, as DuckDB reads it: FROM 'data/train.parquet' or FROM read_csv('x.csv', delim=';').
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any

from console.config import Settings

EXIT_OK, EXIT_DRIFTED, EXIT_BAD_INPUT = 0, 1, 2
REQUESTS, TRAINING = "requests:", "training:"
SOURCE_HELP = ("a Parquet, CSV or JSON-lines file (globs and Parquet directories too); "
               "requests:DEPLOYMENT[@SINCE] for the deployment's request log (SINCE: 30m, 1h, 2d or an "
               "ISO time; default everything logged); training:DEPLOYMENT for the dataset its model's "
               "run logged")


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    """The `data` command group; every data subcommand is added through SUBCOMMANDS."""
    data = sub.add_parser("data", help="datasets and live traffic: profile, query, drift between two samples",
                          parents=parents)
    dsub = data.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(dsub, parents)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def add_drift(dsub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    from console.data import drift

    p = dsub.add_parser(
        "drift", parents=parents,
        help="per-feature drift of CURRENT against REFERENCE; exit 1 when a feature drifted",
        description="Compare every feature of two samples (PSI, KS and Wasserstein for numbers, PSI and "
                    "chi-square for categories). Exit 0 when nothing drifted, 1 when a feature did, 2 "
                    "when an input cannot be read.")
    p.add_argument("reference", metavar="REFERENCE", help=f"the baseline: {SOURCE_HELP}")
    p.add_argument("current", metavar="CURRENT", help="what to compare with it, in the same forms")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--features", metavar="A,B", default=None, help="compare only these columns")
    p.add_argument("--psi-threshold", type=_fraction, default=drift.PSI_THRESHOLD, metavar="X",
                   help=f"a feature drifts at PSI >= X (default {drift.PSI_THRESHOLD:g})")
    p.add_argument("--p-value-threshold", type=_fraction, default=drift.P_VALUE_THRESHOLD, metavar="P",
                   help=f"... or when its test's p-value < P and PSI >= {drift.P_VALUE_MIN_PSI:g} "
                        f"(default {drift.P_VALUE_THRESHOLD:g})")
    p.add_argument("--bins", type=_positive_int, default=drift.BINS, metavar="N",
                   help=f"quantile bins for numeric PSI (default {drift.BINS})")
    p.add_argument("--sample", type=_positive_int, default=drift.SAMPLE_ROWS, metavar="N",
                   help=f"rows from each side at most: a random sample of a file, the newest of a request log "
                        f"(default {drift.SAMPLE_ROWS:,})")
    p.add_argument("--predictor", default=None, metavar="NAME",
                   help="for requests: sources, that predictor's traffic only (default every non-shadow one)")
    p.set_defaults(run=run_drift)


def _csv_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("CSV reading (sniffed unless given)")
    g.add_argument("--delimiter", default=None, metavar="C", help="field separator, e.g. ';' or '\\t'")
    header = g.add_mutually_exclusive_group()
    header.add_argument("--header", dest="header", action="store_true", default=None, help="the first line names")
    header.add_argument("--no-header", dest="header", action="store_false", help="the first line is data")
    g.add_argument("--encoding", default="utf-8", metavar="NAME", help="utf-8 (default), latin-1 or utf-16")
    g.add_argument("--pad-ragged", action="store_true", help="pad short rows with nulls instead of failing")


def _csv_options(args: argparse.Namespace):
    from console.data.formats import CsvOptions

    delimiter = args.delimiter.encode().decode("unicode_escape") if args.delimiter else None
    return CsvOptions(delimiter, args.header, args.encoding, {}, args.pad_ragged)


def add_profile(dsub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = dsub.add_parser(
        "profile", parents=parents, help="per-column statistics of a dataset (computed in SQL, out of core)",
        description="Type, missing values, distinct count (exact up to a million rows, else estimated and "
                    "marked ~), min/max/mean/std/quantiles and a histogram or top values, per column. "
                    "Exit 2 when the source cannot be read.")
    p.add_argument("source", metavar="SOURCE", help=SOURCE_HELP.replace("[@SINCE]", "[@SINCE]"))
    p.add_argument("--json", action="store_true", help="machine-readable output (histograms included)")
    p.add_argument("--columns", metavar="A,B", default=None, help="profile only these columns")
    p.add_argument("--where", metavar="SQL", default="", help="profile only the rows matching this SQL condition")
    p.add_argument("--sample", type=_positive_int, default=None, metavar="N",
                   help="profile a repeatable random sample of N rows (faster on huge files; approximate)")
    _csv_arguments(p)
    p.set_defaults(run=run_profile)


def add_query(dsub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = dsub.add_parser(
        "query", parents=parents, help="run SQL (DuckDB) over datasets",
        description="Run SQL over files and request logs. Name sources with --table NAME=SOURCE, or put a "
                    "file in FROM as DuckDB reads it: FROM 'train.parquet'. Exit 2 on a bad source or query.")
    p.add_argument("sql", metavar="SQL", help="the query (a script of several statements runs in order)")
    p.add_argument("--table", action="append", default=[], metavar="NAME=SOURCE",
                   help=f"a table for the query; SOURCE as for drift: {SOURCE_HELP}")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--limit", type=int, default=1000, metavar="N", help="rows printed at most (default 1000; "
                   "0 for all)")
    p.add_argument("--output", metavar="FILE", default=None,
                   help="write every row to FILE (.csv, .tsv or .parquet) instead of printing them")
    _csv_arguments(p)
    p.set_defaults(run=run_query)


SUBCOMMANDS = [add_drift, add_profile, add_query]


# -- inputs ---------------------------------------------------------------------------------


@dataclass
class LoadedSource:
    """One side of a comparison: its rows and how to name where they came from."""

    spec: str
    table: Any  # a pyarrow Table
    description: str
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def load_source(spec: str, settings: Settings, *, limit: int, columns: list[str] | None = None,
                predictor: str | None = None) -> LoadedSource:
    """Rows of a file, a request log (requests:DEP[@SINCE]) or a deployment's training data
    (training:DEP). Raises ConsoleError with a one-line message naming the source."""
    from console.errors import InvalidSpec

    if spec.startswith(REQUESTS):
        return _requests(spec, settings, limit=limit, predictor=predictor)
    if spec.startswith(TRAINING):
        return _training(spec, settings, limit=limit, columns=columns)
    if not spec.strip():
        raise InvalidSpec("an empty path")
    from console.data.drift import read_sample

    table = read_sample(spec, limit=limit, columns=columns)
    return LoadedSource(spec, table, f"{table.num_rows:,} rows of {spec}")


def _requests(spec: str, settings: Settings, *, limit: int, predictor: str | None) -> LoadedSource:
    from console.data.request_log import log_dir, log_files, parse_since, read_requests
    from console.errors import InvalidSpec, NotFound

    rest = spec[len(REQUESTS):]
    deployment, _, since_text = rest.partition("@")
    if not deployment:
        raise InvalidSpec(f"{spec}: name a deployment, e.g. requests:credit-risk@1h")
    since = parse_since(since_text) if since_text else None
    if not log_files(settings.home, deployment):
        raise NotFound(f"{spec}: no request log at {log_dir(settings.home, deployment)} "
                       "(is the deployment logging requests, and has traffic reached it?)", target=spec)
    sample = read_requests(settings.home, deployment, since=since, predictor=predictor,
                           shadow=None if predictor else False, limit=limit)
    window = f" since {since_text}" if since_text else ""
    who = f" of predictor {predictor}" if predictor else ""
    if sample.requests == 0:
        raise InvalidSpec(f"{spec}: no requests{who} logged{window}", target=spec)
    if not sample.features:
        reasons = ", ".join(f"{n} {why}" for why, n in sample.skip_reasons.items())
        raise InvalidSpec(f"{spec}: none of the {sample.requests:,} logged requests{who} has a readable "
                          f"payload ({reasons})", target=spec)
    table = sample.table.select([*sample.features, *sample.predictions])
    notes = []
    if sample.skipped:
        reasons = ", ".join(f"{n} {why}" for why, n in sample.skip_reasons.items())
        notes.append(f"{sample.skipped:,} malformed request(s) skipped: {reasons}")
    if sample.unreadable_files:
        notes.append(f"{len(sample.unreadable_files)} unreadable log file(s) left out")
    return LoadedSource(spec, table, f"{table.num_rows:,} rows from {sample.requests:,} requests of {spec}",
                        notes, {"requests": sample.requests, "skipped": sample.skipped,
                                "skip_reasons": sample.skip_reasons, "truncated": sample.truncated})


def _training(spec: str, settings: Settings, *, limit: int, columns: list[str] | None) -> LoadedSource:
    from console.data.drift import read_sample
    from console.data.reference import find_reference_for
    from console.errors import InvalidSpec
    from console.wiring import make_cluster, make_registry

    deployment = spec[len(TRAINING):]
    if not deployment:
        raise InvalidSpec(f"{spec}: name a deployment, e.g. training:credit-risk")
    reference = find_reference_for(deployment, make_cluster(settings), make_registry(settings))
    table = read_sample(reference.path, limit=limit, columns=columns)
    return LoadedSource(spec, table, f"{table.num_rows:,} rows of {reference.path} ({reference.description})",
                        extra={"path": str(reference.path), "dataset": reference.name,
                               "model": reference.model, "version": reference.version})


# -- drift ------------------------------------------------------------------------------------


def _number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if value != 0 and abs(value) < 10 ** -digits:
        return f"{value:.2e}"
    return f"{value:.{digits}f}" if abs(value) < 1e6 else f"{value:.4g}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2e}" if value < 0.001 else f"{value:.4f}"


def run_drift(args: argparse.Namespace, settings: Settings) -> int:
    from console.errors import ConsoleError

    features = None
    if args.features is not None:
        features = [f.strip() for f in args.features.split(",") if f.strip()]
        if not features:
            return _bad_input("--features: name at least one column")
    sides = []
    for spec in (args.reference, args.current):
        try:
            sides.append(load_source(spec, settings, limit=args.sample, columns=features, predictor=args.predictor))
        except ConsoleError as exc:
            return _bad_input(str(exc))
    reference, current = sides
    if features is not None:
        unknown = [f for f in features if f not in reference.table.column_names
                   and f not in current.table.column_names]
        if unknown:
            return _bad_input(f"--features: no column {', '.join(map(repr, unknown))} in either sample")
    from console.data.drift import compute_drift

    results = compute_drift(reference.table, current.table, features=features,
                            psi_threshold=args.psi_threshold, p_value_threshold=args.p_value_threshold,
                            bins=args.bins)
    drifted = [r.feature for r in results if r.drifted]
    if args.json:
        _print_json(args, reference, current, results, drifted)
    else:
        _print_report(args, reference, current, results, drifted)
    return EXIT_DRIFTED if drifted else EXIT_OK


def _bad_input(message: str) -> int:
    print(f"mlconsole: data drift: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _print_report(args, reference: LoadedSource, current: LoadedSource, results, drifted: list[str]) -> None:
    from console.commands.output import print_table

    rows = []
    for r in results:
        distance = r.wasserstein if r.kind == "numeric" else r.chi2
        rows.append([r.feature, r.kind, _number(r.psi), _number(r.ks), _p(r.p_value), _number(distance),
                     "yes" if r.drifted else "no", r.reason])
    print_table(["feature", "kind", "psi", "ks", "p-value", "wasserstein/chi2", "drifted", "note"], rows)
    print(f"reference: {reference.description}", file=sys.stderr)
    print(f"current:   {current.description}", file=sys.stderr)
    for note in [*reference.notes, *current.notes]:
        print(f"note: {note}", file=sys.stderr)
    compared = sum(1 for r in results if r.psi is not None)
    rule = (f"PSI >= {args.psi_threshold:g}, or p-value < {args.p_value_threshold:g} with PSI >= "
            f"{_min_psi():g}")
    if drifted:
        print(f"{len(drifted)} of {compared} compared features drifted ({rule}): {', '.join(drifted)}",
              file=sys.stderr)
    else:
        print(f"no drift in {compared} compared features ({rule})", file=sys.stderr)


def _min_psi() -> float:
    from console.data.drift import P_VALUE_MIN_PSI

    return P_VALUE_MIN_PSI


def _print_json(args, reference: LoadedSource, current: LoadedSource, results, drifted: list[str]) -> None:
    from dataclasses import asdict

    from console.commands.output import print_json
    from console.data.drift import clean_number

    def side(source: LoadedSource) -> dict[str, Any]:
        return {"source": source.spec, "rows": source.table.num_rows, "description": source.description,
                "notes": source.notes, **source.extra}

    features = []
    for r in results:
        item = asdict(r)
        for key in ("psi", "ks", "p_value", "wasserstein", "chi2"):
            item[key] = clean_number(item[key])
        features.append(item)
    print_json({"reference": side(reference), "current": side(current),
                "thresholds": {"psi": args.psi_threshold, "p_value": args.p_value_threshold,
                               "p_value_min_psi": _min_psi(), "bins": args.bins},
                "drifted": drifted, "features": features})


# -- profile and query ------------------------------------------------------------------------------


def _source_context(settings: Settings, specs: list[str]):
    """Home always; the registry and cluster only when a spec needs them (they import slowly)."""
    from console.data.sources import DATASET, RUNS, TRAINING, SourceContext

    registry = cluster = None
    if any(s.startswith((TRAINING, DATASET, RUNS)) for s in specs):
        from console.wiring import make_cluster, make_registry

        registry = make_registry(settings)
        if any(s.startswith(TRAINING) for s in specs):
            cluster = make_cluster(settings)
    return SourceContext(settings.home, registry, cluster)


def _session(settings: Settings):
    from console.data.session import DataSession

    return DataSession(temp_dir=settings.home / "cache" / "duckdb")


def _fail(command: str, message: str) -> int:
    print(f"mlconsole: data {command}: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run_profile(args: argparse.Namespace, settings: Settings) -> int:
    from console.data.profile import profile_columns
    from console.data.session import Selection
    from console.data.sources import open_spec
    from console.errors import ConsoleError

    session = _session(settings)
    try:
        dataset = open_spec(session, args.source, _source_context(settings, [args.source]), csv=_csv_options(args))
        selection = Selection(dataset.name, args.where)
        if args.where:
            session.check(selection)
        if args.sample:
            sample = session.sample(selection, args.sample)
            dataset = session.open_rows(sample, spec=f"{args.source} (sample)", label="sample")
            selection = Selection(dataset.name)
        columns = None
        if args.columns is not None:
            columns = [c.strip() for c in args.columns.split(",") if c.strip()]
            for name in columns:
                dataset.column(name)
        show = sys.stderr.isatty() and not args.json

        def progress(done: int, total: int, name: str) -> None:
            if show:
                print(f"\rprofiling {done}/{total} {name[:40]:<40}", end="" if name else "\n", file=sys.stderr,
                      flush=True)

        profiles = profile_columns(session, selection, columns, progress=progress)
    except ConsoleError as exc:
        return _fail("profile", str(exc))
    finally:
        session.close()
    if args.json:
        from console.commands.output import print_json

        print_json({"source": args.source, "description": dataset.description, "where": args.where or None,
                    "sample": args.sample, "notes": dataset.notes, "columns": [p.to_json() for p in profiles]})
    else:
        _print_profiles(args, dataset, profiles)
    return EXIT_OK


def _print_profiles(args, dataset, profiles) -> None:
    from console.commands.output import print_table
    from console.data.report import bar, histogram_labels, number

    rows = []
    for p in profiles:
        distinct = "-" if p.distinct is None else ("" if p.distinct_exact else "~") + number(p.distinct)
        rows.append([p.column, p.type.lower(), f"{p.missing_fraction * 100:.1f}%", distinct, number(p.min),
                     number(p.max), number(p.mean), number(p.std), number(p.quantiles.get(0.5))])
    print_table(["column", "type", "missing", "distinct", "min", "max", "mean", "std", "median"], rows)
    for p in profiles:
        counts = p.counts or [n for _, n in p.top]
        if not counts:
            continue
        print(f"\n{p.column}: " + ("histogram" if p.counts else f"top {len(p.top)} values"))
        total = max(sum(counts) + (p.other if p.top else 0), 1)
        labels = histogram_labels(p)
        width = max(len(label) for label in labels)
        for label, n in zip(labels, counts, strict=False):
            print(f"  {label:>{width}}  {n:>12,}  {n * 100 / total:5.1f}%  {bar(n, max(counts), 30)}")
        if p.top and p.other:
            print(f"  {'(other)':>{width}}  {p.other:>12,}  {p.other * 100 / total:5.1f}%")
    rows_total = profiles[0].rows if profiles else 0
    scope = f" where {args.where}" if args.where else ""
    sample = f" (a random sample of {args.sample:,} rows)" if args.sample else ""
    print(f"{len(profiles)} column(s), {rows_total:,} rows of {dataset.description}{scope}{sample}", file=sys.stderr)
    for note in dataset.notes:
        print(f"note: {note}", file=sys.stderr)


def run_query(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from console.data.report import cell
    from console.data.session import Selection
    from console.data.sources import open_spec
    from console.errors import ConsoleError

    tables = []
    for item in args.table:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip() or not spec.strip():
            return _fail("query", f"--table {item!r}: expected NAME=SOURCE, e.g. train=data/train.parquet")
        tables.append((name.strip(), spec.strip()))
    session = _session(settings)
    try:
        context = _source_context(settings, [spec for _, spec in tables])
        for name, spec in tables:
            open_spec(session, spec, context, name=name, csv=_csv_options(args))
        result = session.open_query(args.sql)
        selection = Selection(result.name)
        if args.output:
            written = session.export(selection, Path(args.output))
            print(f"wrote {written:,} rows to {args.output}", file=sys.stderr)
            return EXIT_OK
        limit = args.limit if args.limit > 0 else None
        rows = session.page(selection, 0, (limit + 1) if limit else 2**62)
    except ConsoleError as exc:
        return _fail("query", str(exc))
    finally:
        session.close()
    truncated = limit is not None and len(rows) > limit
    rows = rows[:limit] if truncated else rows
    names = [c.name for c in result.columns]
    if args.json:
        from console.commands.output import print_json
        from console.data.profile import json_value

        print_json({"columns": [{"name": c.name, "type": c.type} for c in result.columns],
                    "rows": [{n: json_value(v) for n, v in zip(names, row, strict=True)} for row in rows],
                    "row_count": len(rows), "truncated": truncated})
    else:
        from console.commands.output import print_table

        print_table(names, [[cell(v, width=60) for v in row] for row in rows])
        more = f" (the first {limit:,}; --limit 0 prints all)" if truncated else ""
        print(f"{len(rows):,} row(s){more}", file=sys.stderr)
    return EXIT_OK
