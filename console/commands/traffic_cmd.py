"""`mlconsole traffic NAME --rate R --duration S`: a bounded load generator against a deployment.

Requests are Seldon v1 JSON (`{"data": {"names": [...], "ndarray": [[...]]}}`), one row each,
built from dataset rows: --from-dataset (Parquet or CSV, first rows only, read with pyarrow),
else the input example of the graph's first registry model, else the demo dataset. With
--error-rate a share of the requests is malformed on purpose (bad JSON, wrong shapes, no data)
so that errors show in the metrics. Requests are sent open-loop at the asked rate (bounded
in-flight), like real clients that do not wait for each other.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

from console.commands.cluster_common import cluster, usage_error
from console.commands.output import print_json
from console.config import Settings
from console.errors import ConsoleError, InvalidSpec

MAX_RATE = 2000.0
MAX_DURATION = 3600.0
MAX_ROWS = 1000
MAX_IN_FLIGHT = 64
MALFORMED = ("bad-json", "wrong-shape", "no-data", "not-a-matrix")


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    traffic = sub.add_parser("traffic", parents=parents,
                             help="send bounded traffic to a deployment's gateway and summarise the answers")
    traffic.add_argument("name", help="the deployment")
    traffic.add_argument("--rate", type=float, default=10.0, metavar="R",
                         help=f"requests per second (default 10, at most {MAX_RATE:g})")
    traffic.add_argument("--duration", type=float, default=10.0, metavar="S",
                         help=f"seconds (default 10, at most {MAX_DURATION:g})")
    traffic.add_argument("--error-rate", type=float, default=0.0, metavar="P",
                         help="share of malformed requests, 0..1 (default 0)")
    traffic.add_argument("--from-dataset", default=None, metavar="PATH", help="rows from a Parquet or CSV file")
    traffic.add_argument("--columns", default=None, metavar="A,B,...", help="only these dataset columns")
    traffic.add_argument("--seed", type=int, default=None, metavar="N", help="repeatable row and error choice")
    traffic.add_argument("--timeout", type=float, default=10.0, metavar="S", help="per request (default 10)")
    traffic.add_argument("--json", action="store_true", help="machine-readable summary")
    traffic.set_defaults(run=run_traffic)


# -- rows -----------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-safe cell: NaN becomes null, dates become ISO text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def read_rows(path: str, columns: list[str] | None = None, limit: int = MAX_ROWS) -> tuple[list[str], list[list]]:
    """(names, rows) from the first `limit` rows of a Parquet or CSV file, without reading it all."""
    import pyarrow as pa

    file = Path(path)
    if not file.is_file():
        raise InvalidSpec(f"no such dataset file: {path}")
    suffix = file.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(file)
            batch = next(pf.iter_batches(batch_size=limit, columns=columns), None)
            table = pa.Table.from_batches([batch]) if batch is not None else pf.schema_arrow.empty_table()
        elif suffix in (".csv", ".tsv", ".txt"):
            import pyarrow.csv as pcsv

            parse = pcsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
            convert = pcsv.ConvertOptions(include_columns=columns) if columns else None
            reader = pcsv.open_csv(file, parse_options=parse, convert_options=convert)
            batches, count = [], 0
            for batch in reader:
                batches.append(batch)
                count += batch.num_rows
                if count >= limit:
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema).slice(0, limit)
        else:
            raise InvalidSpec(f"{path}: not a Parquet or CSV file", hint="use .parquet or .csv")
    except (pa.ArrowException, OSError, KeyError) as exc:
        raise InvalidSpec(f"cannot read {path}: {exc}") from None
    names = table.column_names
    columns_data = [table.column(i).to_pylist() for i in range(len(names))]
    rows = [[_plain(col[r]) for col in columns_data] for r in range(table.num_rows)]
    if not rows:
        raise InvalidSpec(f"{path} has no rows")
    return names, rows


def _example_rows(settings: Settings, manifest: str) -> tuple[list[str], list[list]] | None:
    """The input example of the graph's first models:/ model, when the registry has one."""
    from console.graph.manifest_io import load_manifest
    from console.graph.validate import parse_model_uri

    try:
        dep = load_manifest(manifest, "<deployed>")
    except ConsoleError:
        return None
    uris = [n.model_uri for _, n in dep.nodes() if (n.model_uri or "").startswith("models:/")]
    if not uris:
        return None
    parsed = parse_model_uri(uris[0])
    if not parsed:
        return None
    from console.wiring import make_registry

    try:
        registry = make_registry(settings)
        version = registry.get_version(*parsed)
        signature = registry.get_signature(parsed[0], version.version)
    except ConsoleError:
        return None
    if not signature or not signature.input_example:
        return None
    try:
        example = json.loads(signature.input_example)
    except ValueError:
        return None
    if isinstance(example, dict) and isinstance(example.get("columns"), list) and isinstance(example.get("data"), list):
        return [str(c) for c in example["columns"]], [list(r) for r in example["data"]]
    return None


def choose_rows(args: argparse.Namespace, settings: Settings, manifest: str,
                url: str) -> tuple[list[str], list[list], str]:
    """(names, rows, where they came from): --from-dataset, else the first example the graph accepts."""
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    if args.from_dataset:
        names, rows = read_rows(args.from_dataset, columns)
        return names, rows, args.from_dataset
    candidates = []
    example = _example_rows(settings, manifest)
    if example:
        candidates.append((example[0], example[1], "the model's input example"))
    demo = settings.home / "data" / "credit-risk" / "eval.parquet"
    if demo.exists():
        candidates.append((*read_rows(str(demo), columns), str(demo)))
    if not candidates:
        raise InvalidSpec("no example input for this deployment",
                          hint="give --from-dataset PATH (Parquet or CSV rows the graph accepts)")
    # A graph may start with a transformer that wants other columns than its model: try each.
    refusals = []
    for names, rows, source in candidates:
        accepted, why = _accepted(url, names, rows[0], args.timeout)
        if accepted:
            return names, rows, source
        refusals.append(f"{source}: {why}")
    print("mlconsole: no example row was accepted (" + "; ".join(refusals) + "); sending the first anyway",
          file=sys.stderr)
    return candidates[0]


def _accepted(url: str, names: list[str], row: list, timeout: float) -> tuple[bool, str]:
    import httpx

    try:
        resp = httpx.post(url, content=request_body(names, row, None), timeout=timeout,
                          headers={"Content-Type": "application/json"})
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    if resp.status_code < 300:
        return True, ""
    return False, f"HTTP {resp.status_code} {resp.text[:160]}"


# -- requests ---------------------------------------------------------------------------------------


def request_body(names: list[str], row: list, malformed: str | None) -> bytes:
    """One Seldon v1 request, or a malformed one of the given kind."""
    if malformed == "bad-json":
        return b'{"data": {"names": ["' + (names[0] if names else "x").encode() + b'"], "ndarray": [[1,'
    if malformed == "wrong-shape":
        return json.dumps({"data": {"names": names, "ndarray": [[*row, 0]]}}).encode()
    if malformed == "no-data":
        return json.dumps({"meta": {"tags": {"broken": True}}}).encode()
    if malformed == "not-a-matrix":
        return json.dumps({"data": {"names": names, "ndarray": "not a matrix"}}).encode()
    return json.dumps({"data": {"names": names, "ndarray": [row]}}).encode()


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


async def generate(url: str, names: list[str], rows: list[list], rate: float, duration: float,
                   error_rate: float, seed: int | None, timeout: float) -> dict[str, Any]:
    """Send the traffic; the summary counts."""
    import asyncio

    import httpx

    rng = random.Random(seed)
    total = max(1, int(round(rate * duration)))
    stats: dict[str, Any] = {"sent": 0, "ok": 0, "4xx": 0, "5xx": 0, "failed": 0, "malformed_sent": 0}
    latencies: list[float] = []
    errors: dict[str, int] = {}
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def one(client: httpx.AsyncClient, body: bytes) -> None:
        try:
            started = time.perf_counter()
            resp = await client.post(url, content=body, headers={"Content-Type": "application/json"})
            latencies.append(time.perf_counter() - started)
            code = resp.status_code
            key = "ok" if code < 300 else ("4xx" if code < 500 else "5xx")
            stats[key] += 1
        except httpx.HTTPError as exc:
            stats["failed"] += 1
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        finally:
            gate.release()

    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        tasks = []
        for i in range(total):
            due = started + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await gate.acquire()
            malformed = rng.choice(MALFORMED) if error_rate and rng.random() < error_rate else None
            stats["sent"] += 1
            stats["malformed_sent"] += malformed is not None
            tasks.append(asyncio.create_task(one(client, request_body(names, rng.choice(rows), malformed))))
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    latencies.sort()
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    stats.update({"seconds": round(elapsed, 2), "rate": round(stats["sent"] / elapsed, 1) if elapsed else None,
                  "p50_ms": ms(percentile(latencies, 0.50)), "p99_ms": ms(percentile(latencies, 0.99)),
                  "max_ms": ms(latencies[-1] if latencies else None), "errors": errors})
    return stats


def run_traffic(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    if not 0 < args.rate <= MAX_RATE:
        return usage_error(f"--rate must be more than 0 and at most {MAX_RATE:g} requests per second")
    if not 0 < args.duration <= MAX_DURATION:
        return usage_error(f"--duration must be more than 0 and at most {MAX_DURATION:g} seconds")
    if not 0 <= args.error_rate <= 1:
        return usage_error("--error-rate is a share between 0 and 1 (0.05 sends 5% malformed requests)")
    if args.timeout <= 0:
        return usage_error("--timeout must be more than 0")
    detail = cluster(settings, "get_deployment").get_deployment(args.name)
    summary = detail.summary
    if not summary.url:
        raise ConsoleError(f"deployment {args.name} has no gateway URL yet (phase {summary.phase})",
                           hint="wait until it is Available: `mlconsole get deployments`")
    url = summary.url.rstrip("/") + "/api/v1.0/predictions"
    names, rows, source = choose_rows(args, settings, detail.manifest, url)
    if not args.json:
        print(f"sending {args.rate:g} req/s for {args.duration:g}s to {url} (rows from {source})",
              file=sys.stderr, flush=True)
    stats = asyncio.run(generate(url, names, rows, args.rate, args.duration, args.error_rate, args.seed,
                                 args.timeout))
    stats.update({"deployment": args.name, "url": url, "rows_from": source})
    if args.json:
        print_json(stats)
    else:
        print(f"{args.name}: sent {stats['sent']} in {stats['seconds']}s ({stats['rate']} req/s)")
        print(f"  ok {stats['ok']}   4xx {stats['4xx']}   5xx {stats['5xx']}   failed {stats['failed']}"
              + (f"   ({stats['malformed_sent']} malformed on purpose)" if stats["malformed_sent"] else ""))
        if stats["p50_ms"] is not None:
            print(f"  latency p50 {stats['p50_ms']} ms   p99 {stats['p99_ms']} ms   max {stats['max_ms']} ms")
        for kind, count in sorted(stats["errors"].items()):
            print(f"  {kind}: {count}")
    answered = stats["ok"] + stats["4xx"] + stats["5xx"]
    if not answered:
        print(f"mlconsole: {url} answered no request", file=sys.stderr)
        return 1
    return 0
