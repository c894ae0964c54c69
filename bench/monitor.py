"""Monitoring benchmark: what the embedded metrics window and the Monitor view cost.

1. Memory of the supervisor's window after an hour of 1-second scrapes of DEPLOYMENTS
   deployments with 3 processes each (a gateway and two graph servers of 3 nodes), fed through
   `MetricsWindow.ingest` as the supervisor feeds it. Measured as the window's own arrays, as
   tracemalloc sees one deployment, and as the process's RSS growth; goal: under 150 MB.
2. Scrape cost: parsing and ingesting one round of the same 15 processes' real /metrics text,
   CPU milliseconds per round (one round a second): prometheus_client's parser on every line,
   against the supervisor's ExpositionParser (that parser once per series, then numbers only).
3. Console CPU while following a deployment at 1,000+ requests a second (bench/monitor_console.py):
   a two-predictor deployment of a Python component in a temporary home, loaded by wrk (POSTing a
   Seldon v1 body to the gateway), the real console in a 120x40 tmux pane on its Monitor view;
   utime+stime of the console process per wall second, from /proc, against the same console on the
   Monitor with no traffic and on the Overview under the same load; goal: under 20% of one core.
   --profile runs the console once more under cProfile and prints where its time goes (it runs by
   itself when the goal is missed).

    python bench/monitor.py [--deployments 5] [--seconds 3600] [--skip-window]
                            [--skip-console] [--rounds 1] [--measure 20] [--settle 5]
                            [--connections 16] [--profile | --no-profile]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from backends.local.metrics_window import DEFAULT_CAPACITY, MetricsWindow  # noqa: E402
from backends.local.scraper import ExpositionParser  # noqa: E402
from backends.local.serving.metrics import GatewayMetrics, GraphMetrics, NodeLabels, exposition  # noqa: E402

GOAL_MB = 150.0
NODES = {"scaler": NodeLabels("/transform-input", "tests.components.Scaler", ""),
         "model": NodeLabels("/predict", "models:/credit-risk", "3"),
         "detector": NodeLabels("/transform-input", "MLCONSOLE_OUTLIER_DETECTOR", "")}


class MutableSample:
    """A sample whose value the benchmark bumps in place (the window reads name, labels, value)."""

    __slots__ = ("name", "labels", "value")

    def __init__(self, name: str, labels: dict[str, str], value: float) -> None:
        self.name, self.labels, self.value = name, labels, value


class Family:
    __slots__ = ("name", "samples")

    def __init__(self, name: str, samples: list[MutableSample]) -> None:
        self.name, self.samples = name, samples


def processes(deployment: str) -> dict[str, object]:
    """A gateway and two graph servers with every series they export under steady traffic."""
    gateway = GatewayMetrics(deployment)
    graphs = {"main-0": GraphMetrics(deployment, "main", "", dict(NODES)),
              "canary-0": GraphMetrics(deployment, "canary", "", dict(NODES))}
    rng = random.Random(1)
    for _ in range(2000):
        for label, g in graphs.items():
            predictor = label.split("-")[0]
            code = 200 if rng.random() > 0.05 else 400
            seconds = rng.lognormvariate(-6, 1)
            g.observe_request("predictions", code, seconds)
            gateway.answered(predictor, "predictions", code, seconds * 1.2)
            if code == 200:
                for node in NODES:
                    g.observe_node(node, 200, seconds / 3)
                g.observe_meta({"tags": {"outlier": [rng.random() < 0.02]}, "requestPath": {"detector": ""},
                                "metrics": [{"type": "COUNTER", "key": "rows_scored", "value": 1},
                                            {"type": "GAUGE", "key": "queue_depth", "value": rng.randint(0, 9)}]},
                               ("detector",))
    return {"gateway": gateway, **graphs}


def mutable(metrics: object) -> list[Family]:
    text = exposition(metrics.registry)[0].decode()
    return [Family(f.name, [MutableSample(s.name, dict(s.labels), s.value) for s in f.samples])
            for f in text_string_to_metric_families(text)]


def fill(window: MetricsWindow, deployment: str, seconds: int, start: float) -> None:
    """An hour of scrapes: every series' count grows each second (buckets stay cumulative)."""
    procs = {label: mutable(m) for label, m in processes(deployment).items()}
    for tick in range(seconds):
        at = start + tick
        for label, families in procs.items():
            for family in families:
                for sample in family.samples:
                    sample.value += 1.0  # +1 in every bucket and count: still a valid cumulative histogram
            window.ingest(deployment, label, families, at, start - 1)


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--skip-window", action="store_true", help="skip parts 1 and 2 (window memory, scrapes)")
    parser.add_argument("--skip-console", action="store_true", help="skip part 3 (console CPU)")
    parser.add_argument("--rounds", type=int, default=1, help="console CPU: rounds of every scenario (medians)")
    parser.add_argument("--measure", type=float, default=20.0, help="console CPU: seconds measured per scenario")
    parser.add_argument("--settle", type=float, default=5.0, help="console CPU: seconds before measuring")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (2 cores here)")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                        help="profile the console under load (default: only when the goal is missed)")
    args = parser.parse_args()
    if not args.skip_window:
        window_figures(args)
    if not args.skip_console:
        from bench.monitor_console import run

        run(rounds=args.rounds, settle=args.settle, seconds=args.measure, connections=args.connections,
            threads=args.threads, profile=args.profile)


def window_figures(args: argparse.Namespace) -> None:
    """Parts 1 and 2: the window's memory after an hour, and one scrape round's CPU."""
    start = time.time() - args.seconds

    # 1a. one deployment under tracemalloc (slower), for the Python-level allocations
    tracemalloc.start()
    one = MetricsWindow()
    fill(one, "traced", args.seconds, start)
    traced = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    columns = len(one.deployments["traced"].columns)
    del one

    # 1b. all deployments, plain
    before = rss_mb()
    window = MetricsWindow()
    began = time.perf_counter()
    for d in range(args.deployments):
        fill(window, f"deployment-{d}", args.seconds, start)
    elapsed = time.perf_counter() - began
    grown = rss_mb() - before
    arrays = window.nbytes() / 2**20
    ticks = len(window.deployments["deployment-0"])
    print(f"window: {args.deployments} deployments x 3 processes, {args.seconds} 1-second scrapes "
          f"(capacity {DEFAULT_CAPACITY} ticks), {columns} columns per deployment")
    print(f"  sample arrays           {arrays:8.1f} MB  (8 B x {DEFAULT_CAPACITY} slots x (columns + 1) per "
          f"deployment, allocated up front; {ticks} ticks held)")
    print(f"  tracemalloc, 1 deployment {traced:6.1f} MB  -> x{args.deployments} = {traced * args.deployments:.1f} MB")
    print(f"  process RSS growth      {grown:8.1f} MB  goal < {GOAL_MB:.0f} MB: "
          f"{'met' if max(grown, traced * args.deployments) < GOAL_MB else 'MISSED'} "
          f"({max(grown, traced * args.deployments) / GOAL_MB:.2f}x of the goal)")
    print(f"  ingest of synthetic scrapes: {elapsed / (args.seconds * args.deployments * 3) * 1e6:.0f} us a process")

    # 2. one real round: parse + ingest the text of 15 processes, as the supervisor does each second
    texts = {(f"deployment-{d}", label): exposition(m.registry)[0].decode()
             for d in range(args.deployments) for label, m in processes(f"deployment-{d}").items()}
    lines = sum(len(t.splitlines()) for t in texts.values())
    rounds = 30
    parsers = {key: ExpositionParser() for key in texts}
    for name, parse in (("prometheus_client parser", lambda key, text: list(text_string_to_metric_families(text))),
                        ("ExpositionParser (supervisor)", lambda key, text: parsers[key].parse(text))):
        parse_cpu = ingest_cpu = 0.0
        for r in range(rounds):
            began = time.thread_time()
            parsed = {key: parse(key, text) for key, text in texts.items()}
            parsed_at = time.thread_time()
            for (deployment, label), families in parsed.items():
                window.ingest(deployment, label, families, start + args.seconds + r, start - 1)
            parse_cpu += parsed_at - began
            ingest_cpu += time.thread_time() - parsed_at
        total = (parse_cpu + ingest_cpu) / rounds
        print(f"scrape round, {name}: {len(texts)} processes, {lines} lines: {total * 1000:.1f} ms CPU "
              f"({parse_cpu / rounds * 1000:.1f} parsing, {ingest_cpu / rounds * 1000:.1f} ingesting) = "
              f"{total * 100:.1f}% of a core at a round a second (HTTP not included)")


if __name__ == "__main__":
    main()
