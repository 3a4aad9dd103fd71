"""Headless matplotlib figures of a run: learning curves and the force diagnostic panel."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def _figure(rows: int, height_in: float):
    # Figure without pyplot: no global state, no display needed (Agg canvas).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, height_in * rows), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, 1, squeeze=False)[:, 0]


def _save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    figure.savefig(tmp, dpi=100)
    os.replace(tmp, path)  # a viewer never sees a half-written image
    return path


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Mean of each value and the up to ``window - 1`` before it (shorter at the start:
    no zero padding, so the first points are not pulled towards 0)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    sums = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, values.size + 1)
    start = np.maximum(idx - window, 0)
    return (sums[idx] - sums[start]) / (idx - start)


def _column(rows: Sequence[Mapping[str, float]], key: str, x_key: str
            ) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(row[x_key], row[key]) for row in rows if key in row and x_key in row]
    if not pairs:
        return np.zeros(0), np.zeros(0)
    x, y = zip(*pairs, strict=True)
    return np.asarray(x), np.asarray(y)


def plot_training(episodes: Sequence[Mapping[str, float]],
                  losses: Sequence[Mapping[str, float]], path: str | Path,
                  evals: Sequence[Mapping[str, float]] = (), window: int = 20) -> Path:
    """Episode return with its moving average (and eval scores), actor and critic loss."""
    figure, (reward_ax, actor_ax, critic_ax) = _figure(3, 2.6)
    x, y = _column(episodes, "episode_return", "env_steps")
    reward_ax.plot(x, y, color="tab:blue", alpha=0.35, lw=1, label="episode return")
    reward_ax.plot(x, moving_average(y, window), color="tab:blue", lw=2,
                   label=f"moving average ({window})")
    ex, ey = _column(evals, "mean_return", "env_steps")
    if ex.size:
        reward_ax.plot(ex, ey, "o-", color="tab:green", ms=3, label="evaluation (deterministic)")
    reward_ax.set_ylabel("return")
    reward_ax.legend(loc="lower right", fontsize=8)
    for ax, key, colour in ((actor_ax, "actor_loss", "tab:orange"),
                            (critic_ax, "critic_loss", "tab:red")):
        lx, ly = _column(losses, key, "env_steps")
        ax.plot(lx, ly, color=colour, lw=1.2)
        ax.set_ylabel(key.replace("_", " "))
    critic_ax.set_yscale("symlog", linthresh=1e-2)
    critic_ax.set_xlabel("env steps")
    for ax in (reward_ax, actor_ax, critic_ax):
        ax.grid(alpha=0.3)
    return _save(figure, Path(path))


def plot_diagnostics(trace: Mapping[str, Sequence[float]], path: str | Path,
                     band_n: float | None = None, title: str = "") -> Path:
    """The seed's panel for one episode, step by step along the stroke (forth and back).

    ``trace`` holds per-step lists of the STEP_INFO_KEYS values. Panels: normal force
    with the target (and the comfortable band, shaded, when ``band_n`` is known); the
    arm link in contact (-1 none, -2 tool); commanded versus actual tool height.
    """
    figure, (force_ax, link_ax, height_ax) = _figure(3, 2.3)
    n = len(trace.get("force_n", ()))
    # Steps, not path_progress: that is the stroke's coverage so far, a staircase that
    # stays at 1 once the tool has been everywhere.
    x = np.arange(1, n + 1)
    force = np.asarray(trace.get("force_n", []), dtype=np.float64)
    target = np.asarray(trace.get("target_force_n", np.full(n, np.nan)), dtype=np.float64)
    force_ax.plot(x, force, color="tab:blue", lw=1.2, label="force")
    force_ax.plot(x, target, color="black", ls="--", lw=1, label="target")
    if band_n is not None and n:
        force_ax.fill_between(x, target - band_n, target + band_n, color="tab:green",
                              alpha=0.2, label=f"band ±{band_n:g} N")
    force_ax.set_ylabel("normal force [N]")
    force_ax.legend(loc="upper right", fontsize=8)
    link = np.asarray(trace.get("contact_link", np.full(n, -1)), dtype=np.float64)
    link_ax.step(x, link, where="post", color="tab:purple")
    link_ax.set_ylabel("contact link\n(-1 none, -2 tool)")
    height_ax.plot(x, np.asarray(trace.get("tool_z_cmd_m", np.full(n, np.nan))),
                   color="tab:orange", ls="--", label="commanded")
    height_ax.plot(x, np.asarray(trace.get("tool_z_m", np.full(n, np.nan))),
                   color="tab:blue", label="actual")
    height_ax.set_ylabel("tool height [m]")
    height_ax.set_xlabel("control step")
    height_ax.legend(loc="upper right", fontsize=8)
    for ax in (force_ax, link_ax, height_ax):
        ax.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return _save(figure, Path(path))
