"""The console-CPU half of bench/monitor.py: the real console, in a real terminal, following a
deployment that wrk loads at 1,000+ requests a second.

A temporary home gets a two-predictor deployment of a fast Python component
(tests.components.risk_model.RiskModel, 50/50), deployed with `mlconsole deploy` from the repo
root (so the graph servers import tests.components). The console runs in a private tmux server
(120x40, MLCONSOLE_NO_DEMO=1); its CPU (utime+stime of its process and any children, from /proc)
is read over a fixed stretch of wall time in each scenario, after the view has settled:

  Monitor, 5m window, no traffic    what following costs when nothing happens
  Monitor, 5m window, under wrk     the issue's figure (goal: under 20% of one core)
  Monitor, 1m window, under wrk     the busiest polling (one poll a second instead of one per 2 s)
  Overview, under wrk               the same console on a view that does not follow traffic

The supervisor's own CPU is read alongside (it scrapes every process each second and computes
the figures the Monitor asks for), and wrk's achieved rate for each loaded scenario. Every
process started here is stopped on exit, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.serving_load import LUA, MARK, cpu_seconds, ensure_wrk  # noqa: E402

DEPLOYMENT = "follow"
BODY = json.dumps({"data": {"names": ["a", "b"], "ndarray": [[0.5, 1.5]]}})
GOAL = 0.20  # of one core
MANIFEST = f"""apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: {DEPLOYMENT}
spec:
  predictors:
  - name: main
    traffic: 50
    graph:
      name: model
      type: MODEL
      implementation: tests.components.risk_model.RiskModel
      parameters:
      - {{name: weight, value: "1.0", type: FLOAT}}
  - name: canary
    traffic: 50
    graph:
      name: model
      type: MODEL
      implementation: tests.components.risk_model.RiskModel
      parameters:
      - {{name: weight, value: "2.0", type: FLOAT}}
"""


@dataclass
class Scenario:
    """One measured stretch: where the console is, whether wrk loads the deployment."""

    key: str
    label: str
    traffic: bool
    cpu: list[float] = field(default_factory=list)  # console, share of one core, one per round
    main: list[float] = field(default_factory=list)  # of which its main thread (the event loop)
    supervisor: list[float] = field(default_factory=list)
    serving: list[float] = field(default_factory=list)  # gateway + graph servers
    rps: list[float] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)


SCENARIOS = (("monitor-idle", "Monitor 5m, no traffic", False),  # in this order: the keys sent between
             ("monitor", "Monitor 5m, under wrk", True),          # them assume it (see run)
             ("monitor-1m", "Monitor 1m, under wrk", True),
             ("overview", "Overview, under wrk", True))


def own_cpu(pid: int, thread: bool = False) -> float:
    """User + system CPU seconds of pid alone (all its threads, no children), or of its main thread."""
    with open(f"/proc/{pid}/task/{pid}/stat" if thread else f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return []


def home_pids(home: Path) -> list[int]:
    """Every live process whose command line names this home (the runtime and the console)."""
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and str(home) in cmdline(int(e))
            and int(e) != os.getpid()]


class Bench:
    """The temporary home, its runtime, the console's tmux server and wrk; close() stops them all."""

    def __init__(self, say=print, connections: int = 16, threads: int = 1, keep_home: bool = False) -> None:
        self.say = say
        self.connections, self.threads, self.keep_home = connections, threads, keep_home
        self.home = Path(tempfile.mkdtemp(prefix="mlconsole-monitor-bench-"))
        self.socket = f"mlconsole-monitor-bench-{os.getpid()}"
        self.session = "console"
        self.env = dict(os.environ, MLCONSOLE_NO_DEMO="1", MLFLOW_DISABLE_TELEMETRY="true",
                        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
        self.wrk: subprocess.Popen | None = None
        self.script: str | None = None
        self.url = ""
        self.console_pid = 0

    # -- the runtime -------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(self.home), *args],
                              capture_output=True, text=True, env=self.env, cwd=ROOT, timeout=timeout)

    def deploy(self) -> None:
        path = self.home / "follow.yaml"
        path.write_text(MANIFEST)
        done = self.cli("deploy", str(path))
        if done.returncode != 0:
            raise RuntimeError(f"mlconsole deploy failed: {done.stderr.strip() or done.stdout.strip()}")
        deadline = time.monotonic() + 60
        last = None
        while time.monotonic() < deadline:
            out = self.cli("get", "deployments", "--json")
            if out.returncode == 0:
                last = next((d for d in json.loads(out.stdout)["deployments"] if d["name"] == DEPLOYMENT), None)
                if last and last["phase"] == "Available":
                    self.url = last["url"].rstrip("/") + "/api/v1.0/predictions"
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{DEPLOYMENT} not Available after 60 s: {last}")

    def runtime_pids(self) -> tuple[int | None, list[int]]:
        """(the supervisor, its serving processes) of this home."""
        supervisor, serving = None, []
        for pid in home_pids(self.home):
            argv = cmdline(pid)
            if "backends.local.supervisor" in argv:
                supervisor = pid
            elif any(a.startswith("backends.local.serving.") for a in argv):
                serving.append(pid)
        return supervisor, serving

    # -- the load ----------------------------------------------------------------------------

    def start_load(self, seconds: float) -> None:
        """wrk for `seconds` in the background (`mlconsole traffic --rate 2000` when wrk is missing)."""
        if ensure_wrk(self.say):
            if self.script is None:
                with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
                    fh.write(LUA % {"body": BODY, "mark": MARK})
                    self.script = fh.name
            argv = ["wrk", "-t", str(self.threads), "-c", str(self.connections), "-d", f"{round(seconds)}s",
                    "--timeout", "10s", "-s", self.script, self.url]
        else:
            argv = [sys.executable, "-m", "console.cli", "--home", str(self.home), "traffic", DEPLOYMENT,
                    "--rate", "2000", "--duration", str(round(seconds)), "--json"]
        self.wrk = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                    env=self.env, start_new_session=True)

    def finish_load(self) -> tuple[float, int]:
        """(requests a second, errors) of the load started last."""
        proc, self.wrk = self.wrk, None
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"the load client failed ({proc.returncode}): {err.strip() or out.strip()}")
        line = next((ln for ln in out.splitlines() if ln.startswith(MARK)), None)
        if line is not None:
            data = json.loads(line[len(MARK):])
            errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
            return data["requests"] / (data["duration_us"] / 1e6), errors
        data = json.loads(out)  # mlconsole traffic --json
        return float(data["rate"] or 0.0), data["4xx"] + data["5xx"] + data["failed"]

    # -- the console -------------------------------------------------------------------------

    def tmux(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        if check and done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def wait_screen(self, *needles: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if all(n in text for n in needles):
                return text
            time.sleep(0.2)
        raise RuntimeError(f"the console did not show {needles} within {timeout:.0f} s; screen:\n{text}")

    def start_console(self, profile: Path | None = None) -> int:
        """The console in a fresh tmux session, drawn; returns its PID. With profile, under
        bench/monitor_profiled.py (SIGUSR1 starts its profiler, SIGUSR2 writes profile)."""
        python = [sys.executable, *([str(ROOT / "bench" / "monitor_profiled.py"), str(profile)] if profile
                                    else ["-m", "console.cli"])]
        command = (f"cd {shlex.quote(str(ROOT))} && exec env MLCONSOLE_NO_DEMO=1 MLFLOW_DISABLE_TELEMETRY=true "
                   f"{shlex.join(python)} --home {shlex.quote(str(self.home))}")
        self.tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", self.session, command)
        self.wait_screen("7 Monitor", "Deployments")
        pid = int(self.tmux("list-panes", "-t", self.session, "-F", "#{pane_pid}").split()[0])
        # the pane runs the console itself (exec); if a shell stayed in between, take its child
        while not any(a == "console.cli" or a.endswith("monitor_profiled.py") for a in cmdline(pid)):
            children = [int(e) for e in os.listdir("/proc") if e.isdigit() and _ppid(int(e)) == pid]
            if not children:
                raise RuntimeError(f"no console process under the tmux pane (pid {pid})")
            pid = children[0]
        self.console_pid = pid
        return pid

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", self.session, key)
            time.sleep(0.3)

    def stop_console(self, timeout: float = 20.0) -> None:
        """q, then wait for the process to exit (cProfile writes its file on the way out)."""
        pid = self.console_pid
        self.keys("q")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and _state(pid) != "Z":
            time.sleep(0.1)
        self.tmux("kill-session", "-t", self.session, check=False)

    # -- measuring ---------------------------------------------------------------------------

    def measure(self, scenario: Scenario, settle: float, seconds: float, around=None) -> None:
        """Settle, then the CPU of the console (and of the runtime) over `seconds` of wall time;
        around(True) / around(False) are called as the measured stretch starts and ends."""
        if scenario.traffic:
            self.start_load(settle + seconds + 1)
        time.sleep(settle)
        supervisor, serving = self.runtime_pids()
        if around:
            around(True)
        began = time.monotonic()
        console0, main0 = cpu_seconds(self.console_pid), own_cpu(self.console_pid, thread=True)
        sup0 = own_cpu(supervisor) if supervisor else 0.0
        serving0 = sum(own_cpu(p) for p in serving)
        time.sleep(seconds)
        wall = time.monotonic() - began
        scenario.cpu.append((cpu_seconds(self.console_pid) - console0) / wall)
        scenario.main.append((own_cpu(self.console_pid, thread=True) - main0) / wall)
        if around:
            around(False)
        scenario.supervisor.append(((own_cpu(supervisor) - sup0) if supervisor else 0.0) / wall)
        scenario.serving.append((sum(own_cpu(p) for p in serving) - serving0) / wall)
        if scenario.traffic:
            rps, errors = self.finish_load()
            scenario.rps.append(rps)
            scenario.errors.append(errors)

    def close(self) -> None:
        if self.wrk is not None and self.wrk.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.wrk.pid, signal.SIGKILL)
            self.wrk.wait(5)
        self.tmux("kill-server", check=False)
        with contextlib.suppress(Exception):
            self.cli("local", "down", timeout=30)
        for pid in home_pids(self.home):  # whatever `local down` left
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if self.script:
            with contextlib.suppress(OSError):
                os.unlink(self.script)
        if not self.keep_home:
            shutil.rmtree(self.home, ignore_errors=True)


def _stat_fields(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _ppid(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else -1


def _state(pid: int) -> str:
    fields = _stat_fields(pid)
    return fields[0] if fields else "Z"


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt  # so that a kill cleans up as Ctrl-C does


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(rounds: int = 1, settle: float = 5.0, seconds: float = 20.0, connections: int = 16, threads: int = 1,
        profile: bool | None = None, profile_seconds: float = 20.0, say=print) -> None:
    """Deploy, start the console, measure every scenario `rounds` times, print; optionally profile."""
    if shutil.which("tmux") is None:
        print("console CPU: skipped, tmux is not installed")
        return
    bench = Bench(say, connections, threads)
    previous = signal.signal(signal.SIGTERM, _interrupted)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with it ignored
    try:
        say(f"console CPU: deploying {DEPLOYMENT} (2 predictors of RiskModel) into {bench.home}")
        bench.deploy()
        pid = bench.start_console()
        say(f"console CPU: console pid {pid} in tmux -L {bench.socket}; load: "
            f"{'wrk' if ensure_wrk(say) else 'mlconsole traffic --rate 2000'} -c{connections} -t{threads} "
            f"on {bench.url}")
        screens: dict[str, str] = {}
        scenarios = [Scenario(*spec) for spec in SCENARIOS]
        for r in range(rounds):
            bench.keys("7")  # Monitor: follows the first deployment
            bench.wait_screen("watching " + DEPLOYMENT, "req/s", "updated")
            for scenario in scenarios:
                if scenario.key == "monitor-1m":
                    bench.keys("w", "w")  # 5m -> 1h -> 1m
                    bench.wait_screen("window 1m")
                elif scenario.key == "overview":
                    bench.keys("w", "1")  # back to 5m for the next round; then Overview
                    bench.wait_screen("Deployments")
                bench.measure(scenario, settle, seconds)
                screens[scenario.key] = bench.screen()
                say(f"  round {r + 1}: {scenario.label:<24} console {scenario.cpu[-1] * 100:5.1f}% of a core"
                    + (f"   wrk {scenario.rps[-1]:,.0f} req/s" if scenario.traffic else ""))
        report(scenarios, screens)
        monitor = scenarios[1]
        if profile or (profile is None and _median(monitor.cpu) > GOAL):
            profile_console(bench, settle, profile_seconds, say)
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        bench.close()


def report(scenarios: list[Scenario], screens: dict[str, str]) -> None:
    """The table of medians, the goal, the ratios, and the Monitor as the terminal showed it."""
    idle, monitor, monitor_1m, overview = scenarios
    rounds = len(monitor.cpu)
    print(f"console CPU (utime+stime per wall second, median of {rounds} round(s)); goal for the Monitor "
          f"under 1,000+ req/s: < {GOAL * 100:.0f}% of one core")
    print(f"  {'scenario':<26}{'console':>9}{'main thread':>13}{'supervisor':>12}{'gateway+graphs':>16}{'load':>16}")
    for s in scenarios:
        load = f"{_median(s.rps):,.0f} req/s" if s.traffic else "none"
        print(f"  {s.label:<26}{_median(s.cpu) * 100:8.1f}%{_median(s.main) * 100:12.1f}%"
              f"{_median(s.supervisor) * 100:11.1f}%"
              f"{_median(s.serving) * 100:15.1f}%{load:>16}" + (f"  ({sum(s.errors)} errors)" if any(s.errors) else ""))
    cpu, rps = _median(monitor.cpu), _median(monitor.rps)
    verdict = "met" if cpu < GOAL and rps >= 1000 else ("MISSED" if cpu >= GOAL else "not shown: load under 1,000 req/s")
    print(f"  Monitor under {rps:,.0f} req/s: {cpu * 100:.1f}% of a core, goal < {GOAL * 100:.0f}%: {verdict} "
          f"({cpu / GOAL:.2f}x of the goal)")

    def ratio(a: Scenario, b: Scenario) -> str:
        x, y = _median(a.cpu), _median(b.cpu)
        return f"{x / y:.2f}x" if y > 0 else "n/a"

    print(f"  ratios: Monitor under load / Monitor idle {ratio(monitor, idle)}; / Overview under load "
          f"{ratio(monitor, overview)}; Monitor 1m / Monitor 5m under load {ratio(monitor_1m, monitor)}")
    shown = screens.get("monitor", "").splitlines()
    print("  the Monitor view at the end of its loaded stretch (tmux capture-pane -p, first 24 lines):")
    for line in shown[:24]:
        print("  | " + line.rstrip())


def profile_console(bench: Bench, settle: float, seconds: float, say=print) -> None:
    """The console again, its main thread under cProfile for a loaded stretch on the Monitor only
    (not its start-up); the top 25 entries by cumulative time, by own time, and the project's own."""
    import pstats

    out = bench.home / "console.prof"
    measured, bench.session = bench.session, "profiled"  # a new session before the old one goes: the
    pid = bench.start_console(profile=out)               # tmux server exits with its last session
    bench.tmux("kill-session", "-t", measured, check=False)
    bench.keys("7")
    bench.wait_screen("watching " + DEPLOYMENT, "updated")
    scenario = Scenario("profiled", "Monitor 5m, under wrk, profiled", True)
    bench.measure(scenario, settle, seconds,
                  around=lambda starting: os.kill(pid, signal.SIGUSR1 if starting else signal.SIGUSR2))
    deadline = time.monotonic() + 10
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    bench.stop_console()
    say(f"profile: the console's main thread under cProfile for {seconds:.0f} s on the Monitor at "
        f"{scenario.rps[-1]:,.0f} req/s: console {scenario.cpu[-1] * 100:.1f}% of a core, main thread "
        f"{scenario.main[-1] * 100:.1f}% (profiler overhead included; worker threads are not profiled)")
    if not out.exists():
        print("profile: nothing written (the console did not take SIGUSR2)")
        return
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(r"/(screens|console|backends)/|plotext|_data_table", 30)
