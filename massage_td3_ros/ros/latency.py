"""A running record of one latency (e.g. the bridge's state-to-command time)."""

from __future__ import annotations

from collections import deque

import numpy as np

WINDOW = 100_000   # latest samples kept: about 55 min of control steps at 30 Hz


class LatencyRecord:
    """The latest ``window`` samples of a latency in seconds, summarised in milliseconds."""

    def __init__(self, window: int = WINDOW) -> None:
        self._samples: deque[float] = deque(maxlen=window)
        self.count = 0   # all samples ever added

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)
        self.count += 1

    def summary(self) -> dict[str, float]:
        """p50, p99 and max in ms over the window, and the number of samples in it."""
        if not self._samples:
            return {"samples": 0}
        ms = np.asarray(self._samples) * 1e3
        return {"samples": len(ms), "p50_ms": float(np.percentile(ms, 50)),
                "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max())}

    def describe(self) -> str:
        summary = self.summary()
        if not summary["samples"]:
            return "no samples"
        return (f"p50 {summary['p50_ms']:.2f} ms, p99 {summary['p99_ms']:.2f} ms, max "
                f"{summary['max_ms']:.2f} ms over {summary['samples']} control steps")
