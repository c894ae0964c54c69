"""Gateway soak: the local runtime under a bounded, sustained load, watching for errors and for
memory that grows and does not come back. Prints the figures and whether they meet the goal;
asserts nothing.

The demo graph (`mlconsole demo`: application -> bureau enrichment -> outlier detector -> A/B of
two scikit-learn models -> decision; request logging on) is deployed with `mlconsole deploy` on
the real local runtime in a temporary home. wrk, a second process (bench/serving_load.py's
runner), POSTs one evaluation row (Seldon v1, keep-alive) to the gateway for --warmup seconds,
then for --seconds at each --concurrency. Every second the RSS of the gateway, of each graph
server and of the supervisor is read from /proc. `--graph sklearn` soaks bench/serving.py's
one-model graph instead (more requests a second, less work each).

Goal: no errors; no process restarted; RSS growth (peak minus the RSS after the warm-up) under
50 MB per process.

    python bench/gateway_soak.py [--seconds 60] [--concurrency 16] [--warmup 5] [--graph demo|sklearn] [--keep]

Every process the bench starts is stopped on exit, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import serving  # noqa: E402
from bench.serving_load import LoadResult, ensure_wrk, load, load_with_cpu, post_json  # noqa: E402

GROWTH_GOAL_MB = 50.0


def say(text: str) -> None:
    print(text, flush=True)


def rss_mb(pid: int) -> float | None:
    """Resident set size from /proc/PID/status (VmRSS), in MB; None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Watched:
    """One process of the runtime and its RSS samples (MB), one a second."""

    name: str
    pid: int
    samples: list[float] = field(default_factory=list)
    start: float | None = None  # after the warm-up
    gone_at: float | None = None  # seconds into the load when it was found gone (exited or restarted)

    @property
    def end(self) -> float | None:
        return self.samples[-1] if self.samples else None

    @property
    def peak(self) -> float | None:
        return max(self.samples) if self.samples else None

    @property
    def growth(self) -> float | None:
        return None if self.start is None or self.peak is None else self.peak - self.start


class Sampler(threading.Thread):
    """Reads every watched process's RSS each second until stopped."""

    def __init__(self, watched: list[Watched], every: float = 1.0) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.watched = watched
        self.every = every
        self.halt = threading.Event()
        self.t0 = time.monotonic()

    def sample(self) -> None:
        for proc in self.watched:
            value = rss_mb(proc.pid)
            if value is None:
                if proc.gone_at is None:
                    proc.gone_at = time.monotonic() - self.t0
            else:
                proc.samples.append(value)

    def run(self) -> None:
        while not self.halt.wait(self.every):
            self.sample()


def demo_graph(tmp: Path, home: Path) -> tuple[str, Path, str]:
    """Seed the demo into home's sqlite registry; (registry, manifest, one request body)."""
    import pyarrow.parquet as pq

    from console.graph.demo_graph import APPLICATION

    started = time.perf_counter()
    out = serving.mlconsole(home, "", "demo", timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"mlconsole demo failed ({out.returncode}):\n{out.stdout[-1500:]}{out.stderr[-1500:]}")
    say(f"seeded the demo workspace in {time.perf_counter() - started:.1f} s")
    row = pq.read_table(home / "data" / "credit-risk" / "eval.parquet", columns=APPLICATION).slice(0, 1).to_pylist()[0]
    body = json.dumps({"data": {"names": APPLICATION, "ndarray": [[row[c] for c in APPLICATION]]}},
                      separators=(",", ":"))
    return "", home / "graphs" / "credit-risk.yaml", body


def sklearn_graph(tmp: Path, home: Path) -> tuple[str, Path, str]:
    """bench/serving.py's model and one-node graph; (registry, manifest, one request body)."""
    registry = f"sqlite:///{tmp / 'registry.db'}"
    serving.train_and_register(tmp, registry)
    manifest = tmp / "bench.yaml"
    manifest.write_text(serving.SINGLE)
    return registry, manifest, serving.V1_BODY


def deploy(home: Path, registry: str, manifest: Path) -> tuple[str, str, list[Watched]]:
    """Deploy and wait; (deployment name, its predictions URL, the processes to watch)."""
    started = time.perf_counter()
    out = serving.mlconsole(home, registry, "deploy", str(manifest), "--wait", "--timeout", "240", timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"mlconsole deploy failed ({out.returncode}):\n{out.stdout[-1500:]}{out.stderr[-1500:]}")
    deps = json.loads(serving.mlconsole(home, registry, "get", "deployments", "--json").stdout)["deployments"]
    (dep,) = deps
    say(f"deployed {dep['name']} ({manifest.name}) on the local runtime in {time.perf_counter() - started:.1f} s")
    pods = json.loads(serving.mlconsole(home, registry, "get", "pods", dep["name"], "--json").stdout)["pods"]
    status = json.loads(serving.mlconsole(home, registry, "local", "status", "--json").stdout)
    watched = [Watched("gateway" if p.get("kind") == "gateway" else f"graph server {p['name']}", p["pid"])
               for p in sorted(pods, key=lambda p: p.get("kind") != "gateway")]
    watched.append(Watched("supervisor", status["supervisor"]["pid"]))
    return dep["name"], dep["url"].rstrip("/") + "/api/v1.0/predictions", watched


def fmt(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.1f}" if sign else f"{value:.1f}"


def report(runs: list[tuple[int, LoadResult]], watched: list[Watched], restarts: dict[str, int],
           seconds: float, home: Path) -> None:
    errors = sum(r.errors for _, r in runs)
    say("")
    for connections, r in runs:
        say(f"c={connections}: {r.requests:,} requests in {r.seconds:.1f} s = {r.rps:,.1f} req/s, errors {r.errors} "
            f"({r.client})")
        say(f"  latency p50 {r.p50_ms:.2f} ms  p90 {r.p90_ms:.2f} ms  p99 {r.p99_ms:.2f} ms  max {r.max_ms:.2f} ms")
        if r.cpu:
            say("  server CPU per request: " + ", ".join(f"{k} {v:.2f} ms" for k, v in r.cpu.items()))
    say("")
    width = max(len(w.name) for w in watched)
    say(f"RSS (MB), sampled every second over {seconds:.0f} s of load (start = after the warm-up):")
    say(f"  {'process':<{width}}  {'pid':>7}  {'start':>7}  {'end':>7}  {'peak':>7}  {'growth':>7}  samples")
    for w in watched:
        note = f"  GONE {w.gone_at:.0f} s into the load" if w.gone_at is not None else ""
        say(f"  {w.name:<{width}}  {w.pid:>7}  {fmt(w.start):>7}  {fmt(w.end):>7}  {fmt(w.peak):>7}  "
            f"{fmt(w.growth, sign=True):>7}  {len(w.samples)}{note}")
    say("peak rss: " + ", ".join(f"{w.name} {fmt(w.peak)} MB" for w in watched))
    worst = max(watched, key=lambda w: w.growth if w.growth is not None else float("inf"))
    say(f"max RSS growth: {fmt(worst.growth, sign=True)} MB ({worst.name})")
    restarted = {k: v for k, v in restarts.items() if v}
    if restarted:
        say("restarts during the soak: " + ", ".join(f"{k} {v}" for k, v in restarted.items()))
    growth_ok = all(w.growth is not None and w.growth < GROWTH_GOAL_MB for w in watched)
    alive = not any(w.gone_at is not None for w in watched) and not restarted
    verdict = "PASS" if errors == 0 and growth_ok and alive else "FAIL"
    say(f"goal: no errors, no restart, RSS growth < {GROWTH_GOAL_MB:.0f} MB per process: {verdict} "
        f"(errors {errors}, max growth {fmt(worst.growth, sign=True)} MB, "
        f"{'no process restarted' if alive else 'a process exited or restarted'})")
    if not alive:  # what the runtime said about it
        for log in [home / "runtime" / "logs" / "supervisor.log",
                    *sorted((home / "runtime" / "logs").glob("*/*.log"))]:
            with contextlib.suppress(OSError):
                tail = log.read_text(errors="replace").splitlines()[-6:]
                say(f"last lines of {log.relative_to(home)}:\n  " + "\n  ".join(tail))


def restart_counts(home: Path, registry: str, name: str) -> dict[str, int]:
    pods = json.loads(serving.mlconsole(home, registry, "get", "pods", name, "--json").stdout)["pods"]
    return {p["name"]: int(p.get("restarts") or 0) for p in pods}


def run(args: argparse.Namespace, tmp: Path) -> None:
    if not ensure_wrk(say):
        say("note: wrk is not installed: the threaded Python client loads the gateway instead")
    home = tmp / "home"
    serving.ENV.update(serving.child_env(tmp))
    try:
        registry, manifest, body = (demo_graph if args.graph == "demo" else sklearn_graph)(tmp, home)
        name, url, watched = deploy(home, registry, manifest)
        answer = post_json(url, body)
        say(f"request: {len(body)} bytes of Seldon v1 JSON -> {json.dumps(answer.get('data', answer))[:120]}")
        before = restart_counts(home, registry, name)
        say(f"warm-up: {args.warmup:.0f} s at c={args.concurrency[-1]}")
        load(url, body, args.concurrency[-1], args.warmup, min(2, args.concurrency[-1]))
        sampler = Sampler(watched)
        sampler.sample()
        for w in watched:
            w.start = w.samples[-1] if w.samples else None
        sampler.start()
        runs = []
        started = sampler.t0
        for connections in args.concurrency:
            say(f"load: wrk -c {connections} for {args.seconds:.0f} s against {url}")
            # the supervisor's CPU would count its children's (the serving processes) too
            pids = {w.name: w.pid for w in watched if w.name != "supervisor"}
            runs.append((connections, load_with_cpu(url, body, connections, args.seconds,
                                                    min(2, connections), pids)))
        sampler.halt.set()
        sampler.join(5)
        sampler.sample()
        after = restart_counts(home, registry, name)
        restarts = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        report(runs, watched, restarts, time.monotonic() - started, home)
    finally:
        serving.stop_runtime(home)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load per concurrency (default 60)")
    parser.add_argument("--concurrency", default="16",
                        help="connections, comma-separated for several runs in a row (default 16)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before the RSS baseline")
    parser.add_argument("--graph", choices=("demo", "sklearn"), default="demo",
                        help="the demo graph (default) or bench/serving.py's one-model graph")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, registry)")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if not args.concurrency or min(args.concurrency) < 1 or args.seconds <= 0 or args.warmup < 1:
        parser.error("--concurrency takes positive integers; --seconds > 0; --warmup >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    say(f"gateway soak: {args.graph} graph, c={','.join(map(str, args.concurrency))}, {args.seconds:.0f} s each "
        f"after a {args.warmup:.0f} s warm-up")
    code = 0
    try:
        run(args, tmp)
    except KeyboardInterrupt:
        say("\ninterrupted: stopping everything the bench started")
        code = 130
    except Exception as exc:
        say(f"\nbench failed: {type(exc).__name__}: {exc}\n(logs under {tmp})")
        args.keep = True
        code = 1
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
