"""The console with a cProfile of its main thread (the event loop: layout, rendering, message
handlers) that SIGUSR1 starts and SIGUSR2 stops and writes to OUT, so that bench/monitor.py profiles
a steady stretch of the Monitor view rather than the console's start-up.

    python bench/monitor_profiled.py OUT [mlconsole arguments...]
"""

from __future__ import annotations

import cProfile
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

profiler = cProfile.Profile()


def start(signum, frame) -> None:
    profiler.enable()


def stop(signum, frame) -> None:
    profiler.disable()
    profiler.dump_stats(OUT)


if __name__ == "__main__":
    OUT = sys.argv[1]
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from console.cli import main

    sys.exit(main(sys.argv[2:]))
