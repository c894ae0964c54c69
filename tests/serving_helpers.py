"""Start the local runtime's graph servers and gateways as real processes, for tests.

MANIFEST is a deployment built from Seldon-style Python components (tests/components) and the
built-in outlier detector, so the servers start in well under a second and need no registry.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]

MANIFEST = """
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: risk
spec:
  predictors:
  - name: main
    traffic: 80
    annotations: {version: v7}
    graph:
      name: outliers
      type: TRANSFORMER
      implementation: MLCONSOLE_OUTLIER_DETECTOR
      parameters:
      - {name: reference, value: "REFERENCE", type: STRING}
      - {name: features, value: '["a", "b"]', type: JSON}
      - {name: threshold, value: "4", type: FLOAT}
      children:
      - name: router
        type: ROUTER
        implementation: tests.components.routing.ThresholdRouter
        parameters: [{name: threshold, value: "0", type: FLOAT}]
        children:
        - {name: left, type: MODEL, implementation: "tests.components.risk_model:RiskModel"}
        - name: right
          type: MODEL
          implementation: "tests.components.risk_model:RiskModel"
          parameters: [{name: weight, value: "2", type: FLOAT}]
  - name: canary
    traffic: 20
    graph:
      name: model
      type: MODEL
      implementation: "tests.components.risk_model:RiskModel"
      parameters: [{name: weight, value: "3", type: FLOAT}]
  - name: shadow
    shadow: true
    graph:
      name: model
      type: MODEL
      implementation: "tests.components.risk_model:RiskModel"
      parameters: [{name: bias, value: "5", type: FLOAT}]
  - name: broken
    graph: {name: fragile, type: MODEL, implementation: tests.components.routing.Broken}
"""


def write_manifest(directory: Path) -> Path:
    """The test deployment, with a small reference table for its outlier detector."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    reference = directory / "reference.parquet"
    pq.write_table(pa.table({"a": rng.normal(size=500), "b": rng.normal(size=500)}), reference)
    manifest = directory / "risk.yaml"
    manifest.write_text(MANIFEST.replace("REFERENCE", str(reference)))
    return manifest


@dataclass
class Served:
    """A serving process started by a test: its process, port file, log and (once up) URL."""

    process: subprocess.Popen
    port_file: Path
    log: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait(self, timeout: float = 30.0) -> Served:
        """Wait for the port file (written once the process listens); raise with its log if it died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.port_file.exists():
                text = self.port_file.read_text().strip()
                if text:
                    self.port = int(text)
                    return self
            if self.process.poll() is not None:
                raise RuntimeError(f"exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"no port file after {timeout}s:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process group, SIGKILL it if it lingers; its exit code."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        return self.process.returncode


def _start(module: str, args: list[str], workdir: Path, name: str) -> Served:
    workdir.mkdir(parents=True, exist_ok=True)
    port_file = workdir / f"{name}.port"
    port_file.unlink(missing_ok=True)
    log = workdir / f"{name}.log"
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", PYTHONUNBUFFERED="1")
    with open(log, "w") as fh:
        process = subprocess.Popen([sys.executable, "-m", module, *args, "--port", "0", "--port-file", str(port_file)],
                                   stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, env=env, start_new_session=True)
    return Served(process, port_file, log)


def start_graph_server(manifest: Path, predictor: str, workdir: Path, *, deployment: str = "risk",
                       replica: int = 0, registry: str = "sqlite:///unused.db") -> Served:
    """A graph server for one predictor of the manifest (not yet waited for)."""
    return _start("backends.local.serving.graph_server",
                  ["--manifest", str(manifest), "--predictor", predictor, "--deployment", deployment,
                   "--replica", str(replica), "--registry", registry, "--home", str(workdir)],
                  workdir, f"{predictor}-{replica}")


def start_gateway(routes: Path, workdir: Path, home: Path, *, deployment: str = "risk", name: str = "gateway") -> Served:
    """A gateway over the routes file (not yet waited for)."""
    return _start("backends.local.serving.gateway",
                  ["--deployment", deployment, "--routes", str(routes), "--home", str(home)], workdir, name)


def write_routes(path: Path, predictors: list[tuple], *, deployment: str = "risk",
                 sticky_header: str | None = None, log_sample_rate: float = 1.0, log: bool = True) -> None:
    """Write a routes file from (name, traffic, shadow, endpoint URLs[, mirror %]) tuples, atomically."""
    from backends.local.serving.routes import RoutePredictor, Routes
    from backends.local.serving.routes import write_routes as write

    write(path, Routes(deployment, [RoutePredictor(p[0], p[1], p[2], list(p[3]), *p[4:]) for p in predictors],
                       sticky_header=sticky_header, log_sample_rate=log_sample_rate, log=log))


def metric_value(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels` (0 when there are none)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def wait_for(check: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll check() until it returns something truthy; its last value either way."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def post(client: httpx.Client, url: str, body: Any, **kwargs: Any) -> httpx.Response:
    """POST body (a dict as JSON, bytes or text as is)."""
    content = json.dumps(body) if isinstance(body, (dict, list)) else body
    return client.post(url, content=content, headers={"Content-Type": "application/json", **kwargs.pop("headers", {})},
                       **kwargs)
