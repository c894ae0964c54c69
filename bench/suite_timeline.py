"""What each pytest-xdist worker did when: reads the JSON lines MLCONSOLE_TEST_TIMELINE made.

    MLCONSOLE_TEST_TIMELINE=/tmp/timeline.jsonl make test
    .venv/bin/python bench/suite_timeline.py /tmp/timeline.jsonl

Prints, per worker, its modules in the order it ran them (start offset, wall seconds, tests), its
busy time and when it finished: the worker that finishes last, and the module it ran last, are
where cutting time shortens the suite.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def main(path: str) -> None:
    rows = [json.loads(line) for line in open(path) if line.strip()]
    if not rows:
        sys.exit(f"{path}: no tests recorded")
    t0 = min(r["start"] for r in rows)
    by_worker: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_worker[r["worker"]].append(r)
    for worker, runs in sorted(by_worker.items()):
        runs.sort(key=lambda r: r["start"])
        modules: list[list] = []  # [module, first start, last end, tests]
        for r in runs:
            module = r["node"].split("::")[0]
            if modules and modules[-1][0] == module:
                modules[-1][2] = r["end"]
                modules[-1][3] += 1
            else:
                modules.append([module, r["start"], r["end"], 1])
        busy = sum(r["end"] - r["start"] for r in runs)
        print(f"{worker}: {len(runs)} tests, busy {busy:.0f} s, finished at {max(r['end'] for r in runs) - t0:.0f} s")
        for module, start, end, count in modules:
            if end - start >= 5:
                print(f"  {start - t0:6.0f} s  {end - start:6.1f} s  {count:4d}  {module}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/timeline.jsonl")
