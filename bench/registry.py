"""Registry benchmark: the first page of registered models from a real `mlflow server` holding
2,000 of them, three ways, measured in the same run. Prints medians and ratios; asserts nothing.

(a) `mlconsole models list --json` in a fresh process;
(b) the peer: MlflowClient.search_registered_models(max_results=100) in a fresh process;
(c) the TUI: a fresh headless console, "3" pressed, until the Registry table has rows.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.servers import start_mlflow_server  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
MODELS = 2000
PAGE = 100
TIMEOUT = 120.0
MARK = "BENCH-RESULT "

PEER = """\
from mlflow import MlflowClient
import json
ms = MlflowClient({url!r}).search_registered_models(max_results=100)
print(json.dumps([m.name for m in ms]))
"""

# The clock starts on the script's first line, before any import of the console or Textual.
TUI = """\
import time; T0 = time.perf_counter()
import asyncio, json, sys
from console.app import MLConsoleApp
from console.config import load_settings


async def main():
    app = MLConsoleApp(load_settings({"home": sys.argv[1], "registry": sys.argv[2]}))
    result = {"rows": 0, "error": None}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        deadline = time.perf_counter() + float(sys.argv[3])
        while time.perf_counter() < deadline:
            try:
                models = app.screen.query_one("#registry-models")
                rows = models.table.row_count
            except Exception:  # the Registry screen is not mounted yet
                rows, models = 0, None
            if rows:
                result["in_process"] = time.perf_counter() - T0
                result["rows"] = rows
                break
            if models is not None and models.message:
                result["error"] = models.message
                break
            await pilot.pause(0.005)
        else:
            result["error"] = "no rows before the deadline"
        print("BENCH-RESULT " + json.dumps(result), flush=True)


asyncio.run(main())
"""


def seed(url: str) -> float:
    """Create MODELS registered models over HTTP from 8 threads; return the seconds it took."""
    from mlflow import MlflowClient

    client = MlflowClient(url)

    def create(i: int) -> None:
        client.create_registered_model(
            f"model-{i:04d}",
            tags={"team": f"team-{i % 7}"},
            description=f"Benchmark model {i}: a plausible description of what it predicts.",
        )

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(MODELS)))
    return time.perf_counter() - start


def count_rows(stdout: str) -> int:
    """Rows in a JSON listing: the peer prints a list, the CLI an object with "models"."""
    data = json.loads(stdout)
    if isinstance(data, dict):
        data = data.get("models", [])
    return len(data)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall time of a process until it exits, and the rows its JSON output holds."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=TIMEOUT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]}... exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return elapsed, count_rows(proc.stdout)


def tui_first_page(home: Path, url: str, env: dict[str, str]) -> tuple[float, float, float, int]:
    """(in-process, spawn-to-page, spawn-to-exit) seconds and the rows of the first page."""
    log = home.parent / "tui-stderr.log"
    result, seen = None, None
    # stderr to a file: a pipe nobody reads while we read stdout could fill and stall the app
    with open(log, "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", TUI, str(home), url, str(TIMEOUT)], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        # a console that never exits would otherwise hang the read below for good
        watchdog = threading.Timer(TIMEOUT, proc.kill)
        watchdog.start()
        try:
            for line in proc.stdout:
                if line.startswith(MARK):
                    seen = time.perf_counter() - start
                    result = json.loads(line[len(MARK):])
            proc.wait(TIMEOUT)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        exited = time.perf_counter() - start
    stderr = log.read_text()
    if result is None or result.get("error") or proc.returncode != 0:
        problem = result.get("error") if result else "no result"
        raise RuntimeError(f"TUI run failed ({problem}; exit {proc.returncode}):\n{stderr[-2000:]}")
    return result["in_process"], seen, exited, result["rows"]


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", XDG_CONFIG_HOME=str(tmp / "cfg"),
               XDG_DATA_HOME=str(tmp / "data"), XDG_STATE_HOME=str(tmp / "state"))
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("MLCONSOLE_CONFIG", None)
    home = tmp / "home"
    server = None
    try:
        started = time.perf_counter()
        server = start_mlflow_server(tmp / "mlflow")
        print(f"mlflow server up in {time.perf_counter() - started:.1f} s at {server.url}")
        print(f"seeded {MODELS} registered models in {seed(server.url):.1f} s (8 threads)")
        url = server.url
        cli = [sys.executable, "-m", "console.cli", "--registry", url, "--home", str(home),
               "models", "list", "--json"]
        peer = [sys.executable, "-c", PEER.format(url=url)]

        ours, peers, inside, page, exits = [], [], [], [], []
        rows: dict[str, set[int]] = {"cli": set(), "peer": set(), "tui": set()}
        cli_error = None
        # interleave the three so machine noise hits them alike
        for _ in range(RUNS):
            if cli_error is None:
                try:
                    seconds, n = timed(cli, env)
                    ours.append(seconds)
                    rows["cli"].add(n)
                except RuntimeError as exc:
                    cli_error = str(exc)
            seconds, n = timed(peer, env)
            peers.append(seconds)
            rows["peer"].add(n)
            a, b, c, n = tui_first_page(home, url, env)
            inside.append(a)
            page.append(b)
            exits.append(c)
            rows["tui"].add(n)

        def shown(key: str) -> str:
            return "/".join(str(n) for n in sorted(rows[key])) or "-"

        b = ms(peers)
        print(f"runs: {RUNS} each, interleaved; {MODELS} registered models on a real mlflow server")
        print(f"(b) peer: MlflowClient search, fresh process       median {b:7.1f} ms   rows {shown('peer')}")
        if ours:
            a = ms(ours)
            print(f"(a) mlconsole models list --json                   median {a:7.1f} ms   rows {shown('cli')}")
        else:
            a = None
            print(f"(a) mlconsole models list --json: could not run\n    {cli_error.splitlines()[-1]}")
        c, c_inside, c_exit = ms(page), ms(inside), ms(exits)
        print(f"(c) TUI first page, spawn -> rows seen by parent   median {c:7.1f} ms   rows {shown('tui')}")
        print(f"    TUI first page, inside the process             median {c_inside:7.1f} ms")
        print(f"    TUI process, spawn -> exit                     median {c_exit:7.1f} ms")
        if a is not None:
            print(f"ratio (a)/(b) CLI / peer: {a / b:.2f}x")
        print(f"ratio (c)/(b) TUI first page / peer: {c / b:.2f}x")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
