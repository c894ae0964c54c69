"""Fault: the request log's disk fills up, on the local runtime for real.

A 256 KiB tmpfs is mounted at the deployment's request-log directory (HOME/runtime/requests/NAME)
before it is deployed, and requests with bulky bodies fill it. Serving must not notice (every
request 200, the gateway never restarts), the log must say so without flooding (one line per
30 s, no traceback) and count the dropped rows on /metrics, and once space is freed the next
batch is written again. Needs root for mount (CI and these machines run as root); skipped with
the reason otherwise. Figures are printed (-s shows them).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import threading
import time
from collections import Counter

import httpx
import pyarrow.parquet as pq
import pytest

from backends.local.cluster import LocalCluster
from backends.local.serving.request_log import REPORT_EVERY, requests_dir
from backends.local.state import gateway_log_path
from console.cluster_changes import ClusterChanges
from console.config import load_settings
from tests.local_runtime import ROOT, manifest, stop_runtime, wait_for
from tests.serving_helpers import metric_value

pytestmark = pytest.mark.timeout(120)

NAME = "logfull"
COLUMNS = 800  # random floats per request: ~14 KB of JSON that compresses to about half


def mounted(path) -> bool:
    return any(line.split()[1] == str(path) for line in open("/proc/mounts").read().splitlines())


@pytest.fixture
def small_disk(home):
    """A 256 KiB tmpfs at the deployment's request-log directory; unmounted (after the runtime stops) at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root); not root here")
    if not shutil.which("mount"):
        pytest.skip("no `mount` command on this machine")
    directory = requests_dir(home, NAME)
    directory.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(directory)],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here: {(done.stderr or done.stdout).strip()}")
    try:
        yield directory
    finally:
        stop_runtime(home)
        if subprocess.run(["umount", str(directory)], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", str(directory)], capture_output=True, timeout=30)
        assert not mounted(directory)


class Traffic:
    """One client thread posting bulky predictions to the gateway, ~20 a second, until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.codes: Counter = Counter()
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        rng = random.Random(7)
        with httpx.Client(timeout=30.0) as client:
            while not self._stop.is_set():
                body = {"data": {"ndarray": [[round(rng.random(), 6) for _ in range(COLUMNS)]]}}
                self.sent += 1
                try:
                    self.codes[client.post(f"{self.url}/api/v1.0/predictions", json=body).status_code] += 1
                except httpx.HTTPError as exc:
                    self.codes[type(exc).__name__] += 1
                time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)


def test_a_full_request_log_disk_keeps_serving_says_so_once_and_resumes_when_space_is_freed(home, small_disk):
    logs = small_disk
    cluster = LocalCluster(home)
    ClusterChanges(load_settings({"home": str(home)}, env={}), cluster).deploy(manifest(NAME), [str(ROOT)])
    wait_for(lambda: cluster.get_deployment(NAME).summary.phase == "Available", timeout=60, what="Available")
    detail = cluster.get_deployment(NAME)
    url, gateway_pid = detail.summary.url, detail.gateway.pid
    gateway_log = gateway_log_path(home, NAME)

    def dropped() -> float:
        return metric_value(httpx.get(f"{url}/metrics", timeout=10).text, "mlconsole_request_log_dropped_total")

    def files() -> list:
        return sorted(logs.glob("requests-*.parquet"))

    traffic = Traffic(url)
    try:
        # Full: batches are dropped, while the files written before stay.
        wait_for(lambda: dropped() > 0, timeout=60, what="the first dropped batch")
        full = time.monotonic()
        written_before = files()
        usage = shutil.disk_usage(logs)
        # Stay full across a few more flushes (every 2 s): each fails, none is retried in a loop.
        rows_dropped = dropped()
        wait_for(lambda: dropped() > rows_dropped + 60, timeout=60, what="more batches dropped")
        log_while_full = gateway_log.read_text()

        # Free the space, as an operator would: the oldest files go.
        for path in files():
            path.unlink()
        freed = time.monotonic()
        new = wait_for(lambda: files(), timeout=30, what="a request-log file written again")
        resumed = time.monotonic()
        wait_for(lambda: "writing again" in gateway_log.read_text(), timeout=10, what="the log saying so")
    finally:
        traffic.stop()

    total_dropped = dropped()
    print("\n" + "\n".join(line for line in gateway_log.read_text().splitlines() if "request log" in line))
    print(f"sent {traffic.sent}: {dict(traffic.codes)}; {len(written_before)} file(s) written before the disk "
          f"filled ({usage.used // 1024} of {usage.total // 1024} KiB used); {total_dropped:g} rows dropped; "
          f"full for {freed - full:.1f}s; freed to written again {resumed - freed:.2f}s")
    warnings = [line for line in gateway_log.read_text().splitlines() if " INFO " not in line]
    # Serving never noticed (on a failure: what the gateway and the supervisor said).
    assert set(traffic.codes) == {200}, (traffic.codes, warnings, cluster.events(NAME))
    # The log itself filled it, past what its next batch needed.
    assert written_before and usage.used >= usage.total // 2
    detail = cluster.get_deployment(NAME)
    assert detail.gateway.pid == gateway_pid and detail.gateway.restarts == 0 and detail.summary.phase == "Available"
    # One line per 30 s of outage (REPORT_EVERY), no traceback, no line per failed batch.
    full_lines = [line for line in log_while_full.splitlines() if "request log" in line and "dropped" in line]
    assert 1 <= len(full_lines) <= 1 + (freed - full) // REPORT_EVERY, full_lines
    assert "No space left on device" in full_lines[0] and " ERROR " in full_lines[0]
    text = gateway_log.read_text()
    assert "Traceback" not in text
    assert "writing again" in text and "dropped while it could not" in text
    # What is on disk is whole Parquet (no half-written file left behind), with rows from after the outage.
    assert not [p for p in logs.iterdir() if p.name.startswith(".")]
    rows = [row for path in new for row in pq.read_table(path, columns=["code", "predictor"]).to_pylist()]
    assert rows and all(r == {"code": 200, "predictor": "main"} for r in rows)
