"""Run logs: CSV files, optional TensorBoard event files, one console line per episode."""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path

from massage_td3_ros.env.metrics import SUMMARY_KEYS

LOG = logging.getLogger("massage_td3_ros.training")


def _read_csv(path: Path) -> list[dict[str, float]]:
    """Rows of an existing log as floats (blank cells skipped)."""
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(handle)]


class _CsvLog:
    """Appends rows to one CSV file; the header is fixed by the first row ever written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fields: list[str] | None = None
        if path.is_file() and path.stat().st_size > 0:
            with open(path, newline="") as handle:
                self.fields = next(csv.reader(handle), None)

    def keep_rows(self, count: int) -> None:
        """Keep the header and the first ``count`` rows (a partly written last line
        included in what goes); the file is replaced atomically."""
        if not self.path.is_file():
            return
        lines = self.path.read_bytes().splitlines(keepends=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(b"".join(lines[:count + 1]))
        os.replace(tmp, self.path)

    def write(self, row: Mapping[str, float]) -> None:
        new_file = self.fields is None
        if new_file:
            self.fields = list(row)
        with open(self.path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields, extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerow(row)


class RunLogger:
    """Episode, evaluation and loss logs of one run folder, kept in memory for plots.

    Files: ``episodes.csv``, ``eval.csv``, ``losses.csv`` and, when tensorboard is
    installed and enabled, event files under ``tensorboard/`` with scalars grouped as
    ``charts/...``, ``metrics/...``, ``eval/...`` and ``losses/...``.
    """

    def __init__(self, run_dir: str | Path, tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._episodes = _CsvLog(self.run_dir / "episodes.csv")
        self._evals = _CsvLog(self.run_dir / "eval.csv")
        self._losses = _CsvLog(self.run_dir / "losses.csv")
        # History for the figures; a resumed run continues the existing files.
        self.episodes = _read_csv(self._episodes.path)
        self.evals = _read_csv(self._evals.path)
        self.losses = _read_csv(self._losses.path)
        self._start_s = time.monotonic()
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self._writer = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"))
            except ImportError:
                _warn_once("tensorboard is not installed: logging to CSV only "
                           "(pip install tensorboard)")

    def _scalars(self, group: str, row: Mapping[str, float], step: int,
                 skip: tuple[str, ...]) -> None:
        if self._writer is None:
            return
        for name, value in row.items():
            if name not in skip and isinstance(value, (int, float)) and math.isfinite(value):
                self._writer.add_scalar(f"{group}/{name}", value, step)

    def log_episode(self, row: Mapping[str, float], metrics: Mapping[str, float]) -> None:
        """One finished training episode: its counters, return and length, env metrics."""
        full = {**row, **{f"metric_{k}": v for k, v in metrics.items()}}
        self.episodes.append(full)
        # Fixed CSV columns (absent values empty); per-region metrics go to TensorBoard.
        self._episodes.write({**row, **{f"metric_{k}": metrics.get(k, math.nan)
                                        for k in SUMMARY_KEYS}})
        step = int(row["env_steps"])
        self._scalars("charts", row, step, skip=("episode", "env_steps"))
        self._scalars("metrics", metrics, step, skip=("steps",))
        extra = ""
        if "in_band_fraction" in metrics:
            extra = (f" force {metrics['mean_force_n']:.1f}N rms_err "
                     f"{metrics['rms_force_error_n']:.1f}N in_band "
                     f"{100 * metrics['in_band_fraction']:.0f}%")
        LOG.info("episode %d  steps %d  return %.2f  length %d  updates %d%s  (%.0f s)",
                 row["episode"], step, row["episode_return"], row["episode_length"],
                 row.get("updates", 0), extra, time.monotonic() - self._start_s)

    def log_eval(self, row: Mapping[str, float]) -> None:
        """One deterministic evaluation block (its mean return decides ``best``)."""
        self.evals.append(dict(row))
        self._evals.write(row)
        self._scalars("eval", row, int(row["env_steps"]), skip=("episode", "env_steps"))
        LOG.info("eval after episode %d: mean return %.2f over %d episodes%s",
                 row["episode"], row["mean_return"], row["episodes"],
                 "  (new best)" if row.get("best") else "")

    def log_losses(self, row: Mapping[str, float]) -> None:
        """Mean losses over the last logging interval of gradient updates."""
        self.losses.append(dict(row))
        self._losses.write(row)
        self._scalars("losses", row, int(row["updates"]), skip=("updates", "env_steps"))

    def row_counts(self) -> dict[str, int]:
        """Rows in each log so far (a checkpoint records them: see ``keep_rows``)."""
        return {"episodes": len(self.episodes), "evals": len(self.evals),
                "losses": len(self.losses)}

    def keep_rows(self, counts: Mapping[str, int]) -> None:
        """Cut each log back to the first ``counts[name]`` rows (what ``row_counts`` gave
        when a checkpoint was written): a run resumed from it logs the rest again."""
        for name, log in (("episodes", self._episodes), ("evals", self._evals),
                          ("losses", self._losses)):
            rows, keep = getattr(self, name), int(counts.get(name, len(getattr(self, name))))
            if len(rows) > keep:
                LOG.info("%s: dropping the last %d rows (logged after the checkpoint this "
                         "run resumes from)", log.path, len(rows) - keep)
                del rows[keep:]
                log.keep_rows(keep)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


_warned: set[str] = set()


def _warn_once(text: str) -> None:
    """A warning that repeats nothing new when several loggers start in one process."""
    if text not in _warned:
        _warned.add(text)
        LOG.warning(text)
