"""Startup benchmark: `mlconsole --version`, and time to first painted frame against a bare
Textual app, measured in the same run. Prints medians and ratios; asserts nothing.

Goal (issue 2): --version under 0.2 s; first frame within 1.3x of the bare Textual app.
A second peer, a bare app with one DataTable and a Footer, shows how much of the gap is
the cost of Textual's own widgets rather than mlconsole's code.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ptyrun import run_on_pty  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "9"))
MLCONSOLE = [sys.executable, "-m", "console.cli"]


def version_time() -> float:
    start = time.perf_counter()
    subprocess.run([*MLCONSOLE, "--version"], check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def first_frame(argv: list[str], home: Path) -> float:
    ready = home / "ready"
    ready.unlink(missing_ok=True)
    env = dict(os.environ, MLCONSOLE_READY_FILE=str(ready), TERM="xterm-256color",
               MLFLOW_DISABLE_TELEMETRY="true", XDG_CONFIG_HOME=str(home / "cfg"),
               MLCONSOLE_NO_DEMO="1")  # measure startup, not the first-run demo seeding
    started = run_on_pty(argv, env)
    if not ready.exists():
        raise RuntimeError(f"{argv} painted no frame")
    return float(ready.read_text()) - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        # interleave the two apps so machine noise hits both alike
        ours, bare, table, versions = [], [], [], []
        for _ in range(RUNS):
            versions.append(version_time())
            ours.append(first_frame([*MLCONSOLE, "--home", str(home / "home")], home))
            bare.append(first_frame([sys.executable, str(ROOT / "bench" / "hello_app.py")], home))
            table.append(first_frame([sys.executable, str(ROOT / "bench" / "hello_table_app.py")], home))
    v, o, b, t = (statistics.median(x) for x in (versions, ours, bare, table))
    print(f"runs: {RUNS} each, interleaved")
    print(f"mlconsole --version           median {v * 1000:7.1f} ms   (goal < 200 ms)")
    print(f"bare Textual app, first frame median {b * 1000:7.1f} ms")
    print(f"Textual DataTable+Footer app  median {t * 1000:7.1f} ms")
    print(f"mlconsole, first frame        median {o * 1000:7.1f} ms")
    print(f"ratio first frame mlconsole / bare Textual: {o / b:.2f}x   (goal <= 1.30x)")
    print(f"ratio first frame mlconsole / DataTable+Footer app: {o / t:.2f}x")
    print("peers measured on this machine kind (DESIGN.md): VisiData 319 ms, Harlequin 782 ms, Posting 823 ms")


if __name__ == "__main__":
    main()
