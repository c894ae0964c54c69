"""A real Prometheus for tests: the Debian `prometheus` binary on a free 127.0.0.1 port.

It scrapes every second whatever file_sd target lists the test drops into its targets
directory (the local runtime writes one: HOME/runtime/metrics/prometheus-targets.json).
Prometheus' first sample appears some seconds after start even with a 1 s interval, so
tests wait for data (`wait_for_query`), never a fixed time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers import RunningServer, free_port, wait_http

# user "mlconsole", password "mlconsole-test", bcrypt with cost 4 (cheap to check on every request)
BASIC_USER, BASIC_PASSWORD = "mlconsole", "mlconsole-test"
BASIC_HASH = "$2b$04$j0zuCMsHjMHCWBHKIscKC.IyFhptUu8MNwQFD0uY29HDW8n8uc8yy"
INSTALL_HINT = "install it with `make system-deps` as root, or `sudo apt-get install prometheus`"


def prometheus_binary() -> str:
    """The prometheus binary; installed the way `make system-deps` does when missing and we are root."""
    found = shutil.which("prometheus")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(f"the metrics tests need the `prometheus` binary, which is not installed: {INSTALL_HINT}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
    done = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"], env=env,
                          capture_output=True, text=True, timeout=600)
    found = shutil.which("prometheus")
    if not found:
        raise RuntimeError(f"installing prometheus with apt-get failed ({done.returncode}): "
                           f"{(done.stderr or done.stdout)[-1500:]}\n{INSTALL_HINT}")
    return found


@dataclass
class PrometheusServer(RunningServer):
    """A running Prometheus and the directory whose *.json target lists it scrapes."""

    targets_dir: Path = Path()
    auth: tuple[str, str] | None = None

    def scrape(self, name: str, targets_file: Path) -> None:
        """Scrape the processes a file_sd target list names (copied in; Prometheus notices at once)."""
        tmp = self.targets_dir / f".{name}.tmp"
        tmp.write_text(Path(targets_file).read_text())
        tmp.replace(self.targets_dir / f"{name}.json")

    def query(self, promql: str) -> list[dict]:
        resp = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10.0, auth=self.auth)
        resp.raise_for_status()
        return resp.json()["data"]["result"]

    def value(self, promql: str) -> float | None:
        """The single value of an instant query, or None when it has no result."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def wait_for_query(self, promql: str, check=lambda result: bool(result), timeout: float = 30.0) -> list[dict]:
        """Poll an instant query until check(result) holds; AssertionError with the last result."""
        deadline = time.monotonic() + timeout
        result: list[dict] = []
        while time.monotonic() < deadline:
            result = self.query(promql)
            if check(result):
                return result
            time.sleep(0.25)
        raise AssertionError(f"Prometheus: {promql} did not satisfy the check within {timeout}s; last: {result}")


def start_prometheus(workdir: Path, basic_auth: bool = False) -> PrometheusServer:
    """Prometheus scraping workdir/targets/*.json every second; with basic_auth, its API needs
    BASIC_USER / BASIC_PASSWORD."""
    binary = prometheus_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    targets = workdir / "targets"
    targets.mkdir(exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
- job_name: mlconsole
  file_sd_configs:
  - files: ["{targets}/*.json"]
    refresh_interval: 1s
""")
    argv = [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
            "--log.level=warn"]
    if basic_auth:
        web = workdir / "web.yml"
        web.write_text(f"basic_auth_users:\n  {BASIC_USER}: {BASIC_HASH}\n")
        argv.append(f"--web.config.file={web}")
    port = free_port()
    argv.append(f"--web.listen-address=127.0.0.1:{port}")
    log = workdir / "prometheus.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    server = PrometheusServer(url, proc, log, targets_dir=targets,
                              auth=(BASIC_USER, BASIC_PASSWORD) if basic_auth else None)
    try:
        if basic_auth:
            _wait_ready_with_auth(url, proc, log, server.auth)
        else:
            wait_http(f"{url}/-/ready", proc, log, timeout=30)
    except Exception:
        server.stop()
        raise
    return server


def _wait_ready_with_auth(url: str, proc: subprocess.Popen, log: Path, auth: tuple[str, str] | None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/-/ready", auth=auth, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"prometheus at {url} not ready:\n{log.read_text()[-3000:]}")
