"""The load client of bench/serving.py: wrk with a Lua script when wrk is there, else a Python one.

Standard library only, because bench/serving_netns.py imports it inside a private network
namespace to load Seldon's wrapper with the very same client. Every run is bounded in time;
every target is checked to answer correctly before it is loaded.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

MARK = "BENCH-WRK "

# wrk keeps the body, headers and method fixed; done() prints the figures as one JSON line
# (latencies in microseconds, as wrk measures them).
LUA = """\
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,"status":%%d,' ..
    '"timeout":%%d,"p50":%%d,"p90":%%d,"p99":%%d,"max":%%d,"mean":%%.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


@dataclass
class LoadResult:
    """One bounded load run against one URL: throughput, latency percentiles, errors."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    client: str
    cpu: dict[str, float] = field(default_factory=dict)  # server CPU milliseconds per request, by process
    max_ms: float = 0.0  # the slowest request (0 when the client did not measure it)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rps": self.rps}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadResult:
        return cls(**{k: data[k] for k in ("requests", "seconds", "p50_ms", "p90_ms", "p99_ms", "errors",
                                           "client")}, cpu=data.get("cpu") or {})


def descendants(root: int) -> list[int]:
    """root and every live process below it, from /proc (servers fork workers and side servers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds used so far by root and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / tick


def load_with_cpu(url: str, body: str, connections: int, seconds: float, threads: int,
                  processes: dict[str, int]) -> LoadResult:
    """load(), plus the CPU milliseconds per request that each named server process spent."""
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    result = load(url, body, connections, seconds, threads)
    for name, pid in processes.items():
        used = cpu_seconds(pid) - before[name]
        result.cpu[name] = used * 1000 / result.requests if result.requests else 0.0
    return result


def wrk_path() -> str | None:
    return shutil.which("wrk")


def ensure_wrk(log: Any = print) -> str | None:
    """wrk's path; installs the Debian package when it is missing and we are root (else None)."""
    found = wrk_path()
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    log("wrk not found: installing it (apt-get install -y wrk)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for attempt in (["apt-get", "install", "-y", "-qq", "wrk"], ["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "wrk"]):
        subprocess.run(attempt, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300,
                       check=False)
        if wrk_path():
            break
    return wrk_path()


def run_wrk(url: str, body: str, connections: int, seconds: float, threads: int = 1) -> LoadResult:
    """wrk -c connections for `seconds` (keep-alive), POSTing body to url."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(LUA % {"body": body, "mark": MARK})
        script = fh.name
    try:
        argv = [wrk_path() or "wrk", "-t", str(max(1, min(threads, connections))), "-c", str(connections),
                "-d", f"{max(1, round(seconds))}s", "--timeout", "10s", "-s", script, url]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(script)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    data = json.loads(line[len(MARK):])
    errors = data["connect"] + data["read"] + data["write"] + data["status"] + data["timeout"]
    return LoadResult(data["requests"], data["duration_us"] / 1e6, data["p50"] / 1000, data["p90"] / 1000,
                      data["p99"] / 1000, errors, "wrk", max_ms=data["max"] / 1000)


def run_python(url: str, body: str, connections: int, seconds: float) -> LoadResult:
    """The fallback client: one thread per connection, keep-alive, for `seconds`."""
    parts = urlsplit(url)
    payload = body.encode()
    headers = {"Content-Type": "application/json"}
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    stop_at = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine = latencies[i]
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            try:
                conn.request("POST", parts.path, payload, headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors[i] += 1
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                continue
            mine.append(time.perf_counter() - start)
        conn.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(seconds + 30)
    elapsed = time.perf_counter() - started
    flat = sorted(x for chunk in latencies for x in chunk)
    if not flat:
        raise RuntimeError(f"no request to {url} succeeded")

    def pct(p: float) -> float:
        return flat[min(len(flat) - 1, int(p / 100 * len(flat)))] * 1000

    return LoadResult(len(flat), elapsed, pct(50), pct(90), pct(99), sum(errors), "python", max_ms=flat[-1] * 1000)


def load(url: str, body: str, connections: int, seconds: float, threads: int = 1) -> LoadResult:
    """A bounded load run with wrk when it is installed, else with the Python client."""
    if wrk_path():
        return run_wrk(url, body, connections, seconds, threads)
    return run_python(url, body, connections, seconds)


def post_json(url: str, body: str, timeout: float = 10.0) -> Any:
    """POST body to url and decode the JSON answer (RuntimeError with the body on a non-200)."""
    request = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{url} answered {exc.code}: {exc.read()[:500]!r}") from None


def wait_http(url: str, timeout: float, alive: Any = None) -> None:
    """Poll GET url until it answers 200; alive() False means the server died (RuntimeError)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError(f"the server behind {url} exited before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s ({last})")


def sequential_p50(url: str, body: str, count: int) -> float:
    """Median milliseconds of `count` sequential keep-alive POSTs (for the graph-overhead figure)."""
    parts = urlsplit(url)
    payload = body.encode()
    headers = {"Content-Type": "application/json"}
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    times = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            conn.request("POST", parts.path, payload, headers)
            resp = conn.getresponse()
            resp.read()
            times.append(time.perf_counter() - start)
            if resp.status != 200:
                raise RuntimeError(f"{url} answered {resp.status}")
    finally:
        conn.close()
    return statistics.median(times) * 1000
