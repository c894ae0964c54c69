"""Fault: a graph server killed under load, on the local runtime for real.

A deployment with two predictors (main 50 / canary 50) of a slightly slow Python component, so
requests are in flight on the victim when it dies, and a pool of client threads posting to the
gateway. Every request sent must be answered, and answered 200: connections refused go to the
other predictor, and a prediction whose connection the dying process reset before answering is
retried once there by the gateway. The supervisor then restarts the victim and it takes traffic
again. Three cases: canary SIGKILLed mid-load; main hung (SIGSTOP) with requests queued unread in
its sockets, then SIGKILLed (every such connection is reset); feedback caught in such a kill, which
is not retried (a 502 in Seldon's shape). Figures are printed (-s shows them), never asserted as
timings.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

from backends.local.cluster import LocalCluster
from backends.local.state import gateway_log_path
from console.cluster_changes import ClusterChanges
from console.config import load_settings
from tests.local_runtime import REQUEST, ROOT, manifest, stop_runtime, wait_for
from tests.serving_helpers import metric_value

pytestmark = pytest.mark.timeout(120)

NAME = "faulty"
WORKERS = 8
DELAY_MS = 30  # per prediction: with 8 clients, a few requests are always inside canary's process


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("faults-serving") / "home"
    path.mkdir()
    yield path
    stop_runtime(path)


@pytest.fixture(scope="module")
def cluster(home):
    """The runtime with the deployment both tests kill a process of (each waits for it Available)."""
    cluster = LocalCluster(home)
    ClusterChanges(load_settings({"home": str(home)}, env={}), cluster).deploy(slow_manifest(NAME), [str(ROOT)])
    return cluster


def slow_manifest(name: str) -> str:
    """main 50 / canary 50, each a RiskModel that sleeps DELAY_MS per call."""
    text = manifest(name, [("main", 50), ("canary", 50)],
                    implementation="tests.components.slow_model.SlowRiskModel")
    delay = f'      - {{name: delay_ms, value: "{DELAY_MS}", type: FLOAT}}\n'
    return text.replace("type: FLOAT}\n", "type: FLOAT}\n" + delay)


@dataclass
class Load:
    """Client threads posting predictions to a URL until stopped; every outcome is counted."""

    url: str
    sent: int = 0
    answered: int = 0
    outcomes: Counter = field(default_factory=Counter)  # (status, predictor) or ("no answer", exception)
    failures: list[str] = field(default_factory=list)  # what a non-200 or a missing answer said
    last_canary: float = 0.0  # monotonic time of the latest 200 from canary
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self, workers: int) -> Load:
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def count(self, predictor: str) -> int:
        with self._lock:
            return self.outcomes[(200, predictor)]

    def _run(self) -> None:
        with httpx.Client(timeout=30.0) as client:  # keep-alive: pooled connections, as real clients hold
            while not self._stop.is_set():
                with self._lock:
                    self.sent += 1
                try:
                    resp = client.post(f"{self.url}/api/v1.0/predictions", json=REQUEST)
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.outcomes[("no answer", type(exc).__name__)] += 1
                        self.failures.append(f"no answer: {exc!r}")
                    continue
                predictor = resp.headers.get("X-Mlconsole-Predictor", "")
                ok = resp.status_code == 200 and resp.json().get("data", {}).get("names") == ["p_good", "p_bad"]
                with self._lock:
                    self.answered += 1
                    self.outcomes[(resp.status_code, predictor)] += 1
                    if not ok:
                        self.failures.append(f"{resp.status_code} {predictor}: {resp.text[:300]}")
                    elif predictor == "canary":
                        self.last_canary = time.monotonic()


def test_a_graph_server_killed_under_load_loses_no_request_and_comes_back(home, cluster):
    wait_for(lambda: cluster.get_deployment(NAME).summary.phase == "Available", timeout=60, what="Available")
    url = cluster.get_deployment(NAME).summary.url
    (victim,) = [r for r in cluster.list_replicas(NAME) if r.predictor == "canary"]
    gateway_pid = cluster.get_deployment(NAME).gateway.pid

    load = Load(url).start(WORKERS)
    try:
        wait_for(lambda: load.count("main") >= 20 and load.count("canary") >= 20, timeout=30,
                 what="both predictors answering")
        os.kill(victim.pid, signal.SIGKILL)
        killed = time.monotonic()

        back = wait_for(lambda: next((r for r in cluster.list_replicas(NAME)
                                      if r.predictor == "canary" and r.ready and r.pid != victim.pid), None),
                        timeout=60, what="canary restarted by the supervisor")
        ready = time.monotonic()
        wait_for(lambda: load.last_canary > ready, timeout=30, what="canary answering again")
        serving = time.monotonic()
        canary = load.count("canary")
        wait_for(lambda: load.count("canary") >= canary + 20, timeout=30, what="canary taking its share again")
    finally:
        load.stop()

    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    retries = {reason: metric_value(metrics, "mlconsole_gateway_retries_total", reason=reason)
               for reason in ("connect", "disconnected", "reset", "timeout")}
    print(f"\nsent {load.sent}, answered {load.answered}: {dict(load.outcomes)}; gateway retries by the "
          f"failure before them {retries}; kill -9 to canary ready {ready - killed:.2f}s, to answering "
          f"again {serving - killed:.2f}s")

    assert load.sent == load.answered, load.failures[:5]
    assert not load.failures, load.failures[:5]  # every answer a 200 with the model's output
    assert back.restarts == 1 and back.last_exit_code == -9
    assert cluster.get_deployment(NAME).gateway.pid == gateway_pid  # the gateway itself never went down
    assert metric_value(metrics, "mlconsole_gateway_endpoint_up", predictor_name="canary") == 1
    assert "Traceback" not in gateway_log_path(home, NAME).read_text()
    crashed = [e for e in cluster.events(NAME) if e.reason == "Crashed"]
    assert [e.object for e in crashed] == ["canary-0"] and "SIGKILL" in crashed[0].message
    wait_for(lambda: cluster.get_deployment(NAME).summary.phase == "Available", timeout=30, what="Available again")


def test_a_hung_graph_server_killed_with_requests_queued_in_it_loses_none_of_them(home, cluster):
    """The harder case: main hangs (SIGSTOP: a swap storm, a stuck GC) while requests pile up in its
    sockets, then is SIGKILLed. Those it never read are reset before any answer, those it read see the
    connection closed: the gateway retries both on canary instead of answering with an error."""
    wait_for(lambda: cluster.get_deployment(NAME).summary.phase == "Available", timeout=60, what="Available")
    url = cluster.get_deployment(NAME).summary.url
    (victim,) = [r for r in cluster.list_replicas(NAME) if r.predictor == "main"]
    gateway_pid = cluster.get_deployment(NAME).gateway.pid

    def retried_after_reset() -> float:
        return metric_value(httpx.get(f"{url}/metrics", timeout=10).text, "mlconsole_gateway_retries_total",
                            reason="reset")

    resets_before = retried_after_reset()
    load = Load(url).start(WORKERS)
    try:
        wait_for(lambda: load.count("main") >= 10 and load.count("canary") >= 10, timeout=30,
                 what="both predictors answering")
        os.kill(victim.pid, signal.SIGSTOP)
        # Half the requests go to main: soon every client waits on it.
        stuck = wait_for(lambda: (n := load.sent - load.answered) >= WORKERS // 2 and n, timeout=30,
                         what="requests stuck in the hung process")
        # Some of them arrived after the hang: unread, so the kill resets their connections.
        unread = wait_for(lambda: waiting_from_gateway(gateway_pid, victim.port), timeout=30,
                          what="requests the hung process never read")
        os.kill(victim.pid, signal.SIGKILL)
        killed = time.monotonic()
        back = wait_for(lambda: next((r for r in cluster.list_replicas(NAME)
                                      if r.predictor == "main" and r.ready and r.pid != victim.pid), None),
                        timeout=60, what="main restarted by the supervisor")
        main = load.count("main")
        wait_for(lambda: load.count("main") >= main + 20, timeout=30, what="main taking its share again")
        recovered = time.monotonic()
    finally:
        load.stop()

    resets = retried_after_reset() - resets_before
    print(f"\nsent {load.sent}, answered {load.answered}: {dict(load.outcomes)}; {stuck} stuck in the hung "
          f"process ({unread} unread), {resets:g} retried after a reset; kill -9 to main serving again "
          f"{recovered - killed:.2f}s")
    assert load.sent == load.answered, load.failures[:5]
    assert not load.failures, load.failures[:5]
    assert resets >= unread  # each unread one was reset by the kill, and retried
    assert back.last_exit_code == -9
    assert "Traceback" not in gateway_log_path(home, NAME).read_text()


def tcp_connections() -> list[tuple[int, int, int, int]]:
    """(local port, remote port, unread bytes, socket inode) of every established IPv4 TCP connection."""
    out = []
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01":  # ESTABLISHED
            out.append((int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16),
                        int(fields[4].split(":")[1], 16), int(fields[9])))
    return out


def waiting_from_gateway(gateway_pid: int, port: int) -> int:
    """How many of the gateway's connections to a replica's port hold a request the replica has not read
    (the supervisor's probes and scrapes to that port are left out: they come from other processes)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{gateway_pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{gateway_pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    connections = tcp_connections()
    gateway_ports = {local for local, remote, _, inode in connections if inode in inodes and remote == port}
    return sum(1 for local, remote, unread, _ in connections
               if local == port and remote in gateway_ports and unread > 0)


def test_feedback_in_flight_to_a_killed_graph_server_is_a_502_in_seldons_shape_not_sent_twice(home, cluster):
    """Feedback may have been counted before the reset (a bandit's reward), so it is never retried:
    the caller gets a clear 502 in Seldon's failure shape, naming the predictor."""
    wait_for(lambda: cluster.get_deployment(NAME).summary.phase == "Available", timeout=60, what="Available")
    url = cluster.get_deployment(NAME).summary.url
    (victim,) = [r for r in cluster.list_replicas(NAME) if r.predictor == "main"]
    gateway_pid = cluster.get_deployment(NAME).gateway.pid
    os.kill(victim.pid, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(1) as pool:
            sent = pool.submit(httpx.post, f"{url}/api/v1.0/feedback", json={"request": REQUEST, "reward": 1.0},
                               headers={"X-Mlconsole-Predictor": "main"}, timeout=30)
            wait_for(lambda: waiting_from_gateway(gateway_pid, victim.port) > 0, timeout=10,
                     what="the feedback waiting, unread, in main's socket")
            os.kill(victim.pid, signal.SIGKILL)
            resp = sent.result(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim.pid, signal.SIGKILL)
    print(f"\nfeedback in flight to a killed main: {resp.status_code} {resp.text}")
    assert resp.status_code == 502
    status = resp.json()["status"]
    assert status["status"] == "FAILURE" and status["code"] == 502 and "main reset the connection" in status["info"]
    wait_for(lambda: any(r.predictor == "main" and r.ready and r.pid != victim.pid
                         for r in cluster.list_replicas(NAME)), timeout=60, what="main restarted")
