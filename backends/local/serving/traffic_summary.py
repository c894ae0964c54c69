"""A traffic line in the gateway's log every few seconds, for whoever follows the logs.

A line per request would cost more than the request itself at a thousand a second; one
line per interval says what an operator tailing the log wants to know: how much, where it
went, how many failed, how fast.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter

log = logging.getLogger("mlconsole.gateway.traffic")

INTERVAL = 10.0
SAMPLE = 4096  # latencies kept per interval (a uniform reservoir beyond that)


class TrafficSummary:
    """Counts and a latency reservoir for the current interval."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._reset()

    def _reset(self) -> None:
        self.count = 0
        self.by_predictor: Counter[str] = Counter()
        self.by_class: Counter[str] = Counter()
        self.latencies: list[float] = []

    def record(self, predictor: str, status: int, seconds: float) -> None:
        self.count += 1
        self.by_predictor[predictor or "none"] += 1
        self.by_class[f"{status // 100}xx"] += 1
        if len(self.latencies) < SAMPLE:
            self.latencies.append(seconds)
        else:  # reservoir sampling keeps the quantiles honest under load
            slot = random.randrange(self.count)
            if slot < SAMPLE:
                self.latencies[slot] = seconds

    def line(self) -> str | None:
        """The summary of the interval so far (None when nothing came), and start a new one."""
        if not self.count:
            return None
        lat = sorted(self.latencies)

        def q(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000

        split = " ".join(f"{name} {n}" for name, n in self.by_predictor.most_common())
        codes = " ".join(f"{c} {n}" for c, n in sorted(self.by_class.items()))
        text = (f"traffic: {self.count} requests in {self.interval:.0f}s ({self.count / self.interval:.1f}/s); "
                f"{split}; {codes}; p50 {q(0.5):.1f} ms p99 {q(0.99):.1f} ms")
        self._reset()
        return text

    async def run(self) -> None:
        """Log a line each interval while the gateway runs."""
        while True:
            await asyncio.sleep(self.interval)
            text = self.line()
            if text:
                log.info(text)
