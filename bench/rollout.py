"""Rollback benchmark: from the first failing request of a bad canary to 100% back on stable.

The local runtime serves a deployment of one Python component (tests/components, no MLflow).
A canary of a new version starts as a rollback drill (`--fault 0.5`: half its requests answer
500), with a 2 s analysis interval and an error-rate gate that fails on the first bad
measurement. A client sends RATE requests a second through the gateway and notes when the
first request the canary failed was sent (the X-Mlconsole-Predictor header says who answered).
The gateway's routes file is watched for the moment it no longer sends anything to the canary
("100% back on stable"); the last answer the client got from the canary is shown too.

Goal (issue 7): under two analysis intervals plus one scrape: 2 x 2 s + 1 s = 5 s.

    python bench/rollout.py [--runs 3] [--rate 50] [--interval 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backends.local.cluster import LocalCluster  # noqa: E402
from backends.local.state import routes_path  # noqa: E402
from console.cluster_changes import ClusterChanges  # noqa: E402
from console.config import load_settings  # noqa: E402
from console.rollout.spec import Gate, RolloutSpec, Step, dump_spec  # noqa: E402
from console.rollout_changes import RolloutChanges  # noqa: E402
from tests.local_runtime import REQUEST, manifest, stop_runtime  # noqa: E402

SCRAPE = 1.0
FAULT = 0.5


class Client(threading.Thread):
    """Open-loop-ish load at `rate` req/s through the gateway; remembers who answered what, when."""

    def __init__(self, url: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.url, self.rate = url, rate
        self.stop = threading.Event()
        self.first_failure: float | None = None  # when the first request the canary failed was sent
        self.last_canary: float | None = None  # when the last answer from the canary arrived
        self.sent = 0

    def run(self) -> None:
        import httpx

        with httpx.Client(timeout=5.0) as client:
            next_at = time.monotonic()
            while not self.stop.is_set():
                sent_at = time.time()
                try:
                    resp = client.post(f"{self.url}/api/v1.0/predictions", json=REQUEST)
                except httpx.HTTPError:
                    resp = None
                self.sent += 1
                if resp is not None and resp.headers.get("X-Mlconsole-Predictor") == "canary":
                    self.last_canary = time.time()
                    if resp.status_code == 500 and self.first_failure is None:
                        self.first_failure = sent_at
                next_at += 1.0 / self.rate
                delay = next_at - time.monotonic()
                if delay > 0:
                    self.stop.wait(delay)


def to_canary(home: Path, name: str) -> bool:
    """True while the gateway's routes can send requests to the canary."""
    try:
        routes = json.loads(routes_path(home, name).read_text())
    except (OSError, ValueError):
        return False
    return any(p["name"] == "canary" and p["traffic"] > 0 and p["endpoints"] for p in routes["predictors"])


def one_run(home: Path, index: int, rate: float, interval: float) -> dict[str, float | None]:
    name = f"rollback-{index}"
    settings = load_settings({"home": str(home)}, env={})
    cluster = LocalCluster(home)
    ClusterChanges(settings, cluster).deploy(manifest(name), [str(ROOT)])
    deadline = time.monotonic() + 60
    while cluster.get_deployment(name).summary.phase != "Available":
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} did not become Available")
        time.sleep(0.1)
    url = cluster.get_deployment(name).summary.url
    client = Client(url, rate)
    client.start()
    time.sleep(2.0)  # the stable predictor has a traffic history, as in real life
    spec = RolloutSpec("canary", steps=(Step(set_weight=20), Step(pause_indefinite=True), Step(set_weight=100)),
                       gates=(Gate("error_rate", "<", 0.05, window_seconds=10.0, min_requests=5, failure_limit=1,
                                   inconclusive_limit=3),),
                       analysis_interval=interval, fault_rate=FAULT)
    candidate = manifest(name).replace('value: "1.0"', 'value: "3.0"')
    RolloutChanges(settings, cluster).start(name, candidate, dump_spec(spec), [str(ROOT)], reason="bench")
    back = None
    seen_canary = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        routed = to_canary(home, name)
        seen_canary = seen_canary or routed
        if seen_canary and not routed:
            back = time.time()
            break
        time.sleep(0.005)
    time.sleep(0.5)
    client.stop.set()
    client.join(10)
    phase = cluster.rollout_status(name).get("phase")
    first = client.first_failure
    return {"back": None if back is None or first is None else back - first,
            "last_canary": None if client.last_canary is None or first is None else client.last_canary - first,
            "phase": phase, "sent": client.sent}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0, help="client requests per second")
    parser.add_argument("--interval", type=float, default=2.0, help="analysis interval, seconds")
    args = parser.parse_args()
    goal = 2 * args.interval + SCRAPE
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        results = []
        try:
            for i in range(args.runs):
                result = one_run(home, i, args.rate, args.interval)
                results.append(result)
                shown = "n/a" if result["back"] is None else f"{result['back']:.2f}s"
                last = "n/a" if result["last_canary"] is None else f"{result['last_canary']:.2f}s"
                print(f"run {i + 1}: first canary failure -> 100% stable {shown}; last canary answer "
                      f"+{last}; rollout {result['phase']}; {result['sent']} requests")
        finally:
            stop_runtime(home)
    times = [r["back"] for r in results if r["back"] is not None]
    if not times:
        print("no run rolled back")
        return 1
    median = statistics.median(times)
    print(f"\nrollback (fault {FAULT:.0%}, analysis every {args.interval:g}s, {args.rate:g} req/s): "
          f"median {median:.2f}s, worst {max(times):.2f}s over {len(times)} runs")
    print(f"goal: under 2 intervals + 1 scrape = {goal:.1f}s -> median at {median / goal:.2f}x the goal "
          f"({'met' if max(times) < goal else 'NOT met'} by every run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
