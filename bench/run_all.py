"""Run every benchmark and write bench/RESULTS.md: one table of the figures and ratios each printed,
then each benchmark's whole output.

    .venv/bin/python bench/run_all.py [--only NAME ...] [--timeout SECONDS]

--only re-runs those benchmarks and keeps the others' last results (and when they were measured).

Each benchmark is a script in this folder that prints its figures with the goal they are held to
and the peers measured in the same run; this collects the lines that carry a figure (a ratio, a
goal, a median or a percentile) so one table shows where every target stands. A benchmark that
fails or times out is listed with its exit status and the rest still run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# In the order of the issues that introduced them; helpers (peers, load generators, apps) are not here.
BENCHES = ["startup", "registry", "graph", "serving", "monitor", "rollout", "cluster", "data", "gateway_soak"]
FIGURE = re.compile(r"(ratio|goal|median|p50|p95|p99|req/s|peak rss|\d(\.\d+)?x\b|×)", re.IGNORECASE)


def run(name: str, timeout: float) -> tuple[int | str, float, str]:
    script = HERE / f"{name}.py"
    if not script.exists():
        return "missing", 0.0, ""
    started = time.monotonic()
    try:
        out = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True,
                             timeout=timeout, env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"))
    except subprocess.TimeoutExpired as exc:
        text = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return f"timed out after {timeout:.0f}s", time.monotonic() - started, text
    text = out.stdout + (f"\n[stderr]\n{out.stderr.strip()[-2000:]}" if out.returncode else "")
    return out.returncode, time.monotonic() - started, text


def figures(text: str) -> list[str]:
    # Screen dumps some benchmarks print (box-drawing characters) are evidence, not figures.
    return [line.strip() for line in text.splitlines()
            if line.strip() and FIGURE.search(line) and any(ch.isdigit() for ch in line)
            and not any(ch in line for ch in "│┃║")]


SECTION = re.compile(r"^## (\S+)\n\nexit status (.+?), (\d+) s(?:, measured ([^\n]+))?\n\n```\n(.*?)\n```$",
                     re.MULTILINE | re.DOTALL)


def previous(path: Path) -> dict[str, tuple[int | str, float, str, str]]:
    """The benchmarks' sections of an earlier RESULTS.md: status, seconds, output, when measured."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    found = {}
    for m in SECTION.finditer(text):
        status = int(m[2]) if m[2].lstrip("-").isdigit() else m[2]
        found[m[1]] = (status, float(m[3]), m[5], m[4] or "earlier")
    return found


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="benchmarks to run (default: all)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per benchmark, seconds")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    names = args.only or BENCHES
    # --only re-runs some benchmarks and keeps the others' last results from the file.
    kept = previous(args.output) if args.only else {}
    fresh = {}
    for name in names:
        print(f"== {name}", flush=True)
        status, seconds, text = run(name, args.timeout)
        print(text, flush=True)
        fresh[name] = (status, seconds, text, dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    merged = {**kept, **fresh}
    order = [n for n in BENCHES if n in merged] + [n for n in merged if n not in BENCHES]
    results = [(name, *merged[name]) for name in order]

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"Written by `bench/run_all.py` on {now}; {platform.node()}: Python {platform.python_version()}, "
        f"{os.cpu_count()} cores. Ratios compare mlconsole with peers measured in the same run; "
        "each benchmark's docstring says what it measures.",
        "",
        "| benchmark | status | time | figure |",
        "|---|---|---|---|",
    ]
    for name, status, seconds, text, _ in results:
        state = "ok" if status == 0 else cell(str(status))
        found = figures(text) or ["(no figure printed)"]
        for i, line in enumerate(found):
            head = (f"`{name}`", state, f"{seconds:.0f} s") if i == 0 else ("", "", "")
            lines.append(f"| {' | '.join(head)} | {cell(line)} |")
    for name, status, seconds, text, when in results:
        lines += ["", f"## {name}", "", f"exit status {status}, {seconds:.0f} s, measured {when}", "", "```",
                  text.rstrip(), "```"]
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 0 if all(r[1] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
