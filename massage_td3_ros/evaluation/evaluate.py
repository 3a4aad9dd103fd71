"""Run a controller on MassageEnv for fixed episodes and aggregate the metrics.

Episodes cycle through the stroke/direction cases (along the spine forward and
reverse, then across the back forward and reverse), each with its own fixed reset
seed, so every controller meets exactly the same episodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.episode import evaluation_episode
from massage_td3_ros.evaluation.controllers import Controller

TRACE_KEYS = ("force_n", "target_force_n", "in_band", "path_progress", "lateral_error_m")

# Aggregate names, their table headings and formats (the order of the printed table).
METRICS: tuple[tuple[str, str, str], ...] = (
    ("mean_return", "return", "{:.1f}"),
    ("mean_force_n", "force [N]", "{:.2f}"),
    ("rms_force_error_n", "RMS error [N]", "{:.2f}"),
    ("in_band_percent", "in band [%]", "{:.1f}"),
    ("over_force_steps", "over-force steps", "{:.0f}"),
    ("wrong_link_steps", "wrong-link steps", "{:.0f}"),
    ("coverage_percent", "coverage [%]", "{:.1f}"),
)


@dataclass
class EpisodeResult:
    """One evaluation episode: its case, return, env metrics and per-step trace."""

    seed: int
    stroke: str
    direction: str
    episode_return: float
    metrics: dict[str, float]
    trace: dict[str, list[float]] = field(default_factory=dict)


def episode_cases(episodes: int, seed: int) -> list[tuple[int, str, str]]:
    """(reset seed, stroke, direction) of each evaluation episode (env.episode's
    fixed evaluation episodes, which the ROS sim runs too)."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    cases = [evaluation_episode(seed, index) for index in range(episodes)]
    return [(reset_seed, options["stroke"], options["direction"])
            for reset_seed, options in cases]


def play(env, controller: Controller, obs: np.ndarray, trace_keys: Sequence[str] = (),
         frame_callback=None) -> tuple[float, dict, dict[str, list[float]]]:
    """The one episode loop: ``controller`` on any gymnasium ``env`` from ``obs`` (just
    after a reset) to the episode's end. Returns (return, last step's info, the
    ``trace_keys`` values of every step); ``frame_callback(env, info)`` after each step."""
    unwrapped = env.unwrapped  # controllers read the env itself, under any wrapper
    controller.reset(unwrapped)
    trace: dict[str, list[float]] = {key: [] for key in trace_keys}
    total, done, info = 0.0, False, {}
    while not done:
        obs, reward, terminated, truncated, info = env.step(controller.act(obs, unwrapped))
        total += float(reward)
        done = terminated or truncated
        for key in trace:
            trace[key].append(float(info[key]))
        if frame_callback is not None:
            frame_callback(env, info)
    return total, info, trace


def run_episode(env, controller: Controller, seed: int, stroke: str, direction: str,
                keep_trace: bool = True, frame_callback=None) -> EpisodeResult:
    """One MassageEnv episode of ``controller``; ``frame_callback(env, info)`` after
    the reset and each step (for rendering)."""
    obs, info = env.reset(seed=seed, options={"stroke": stroke, "direction": direction})
    if frame_callback is not None:
        frame_callback(env, info)
    total, info, trace = play(env, controller, obs, TRACE_KEYS if keep_trace else (),
                              frame_callback)
    if "episode_metrics" not in info:
        raise RuntimeError(
            "the episode ended without MassageEnv's info['episode_metrics']: a wrapper "
            "(e.g. gymnasium.make's TimeLimit) truncated it before the env's own end; give "
            "gymnasium.make max_episode_steps=config.max_episode_steps")
    return EpisodeResult(seed, stroke, direction, total, dict(info["episode_metrics"]), trace)


def aggregate(results: Sequence[EpisodeResult]) -> dict[str, float]:
    """Mean over episodes; RMS error pooled over all steps; counts summed."""
    return aggregate_metrics([r.episode_return for r in results], [r.metrics for r in results])


def aggregate_metrics(returns: Sequence[float], metrics: Sequence[dict[str, float]]
                      ) -> dict[str, float]:
    """``aggregate`` from each episode's return and EpisodeMetrics summary."""
    steps = np.array([m["steps"] for m in metrics])
    rms = np.array([m["rms_force_error_n"] for m in metrics])
    in_band = np.array([m["in_band_fraction"] for m in metrics])
    return {
        "episodes": float(len(metrics)),
        "steps": float(steps.sum()),
        "mean_return": float(np.mean(returns)),
        "mean_force_n": float(np.sum([m["mean_force_n"] * n
                                      for m, n in zip(metrics, steps)]) / steps.sum()),
        "rms_force_error_n": float(np.sqrt(np.sum(rms ** 2 * steps) / steps.sum())),
        "in_band_percent": float(100.0 * np.sum(in_band * steps) / steps.sum()),
        "over_force_steps": float(sum(m["over_force_steps"] for m in metrics)),
        "wrong_link_steps": float(sum(m["wrong_link_steps"] for m in metrics)),
        "coverage_percent": float(100.0 * np.mean([m["coverage"] for m in metrics])),
        "terminated_episodes": float(sum(m["over_force_steps"] > 0 for m in metrics)),
    }


def evaluate(controller: Controller, episodes: int = 4, seed: int = 0,
             env_config: EnvConfig | None = None, env=None, keep_traces: bool = True
             ) -> dict:
    """Evaluate ``controller``; returns {"controller", "aggregate", "episodes"}.

    ``episodes`` cycle through ``cases``; pass ``env`` to reuse one (else one is made
    from ``env_config`` and closed at the end).
    """
    from massage_td3_ros.env.massage_env import MassageEnv

    own_env = env is None
    env = env if env is not None else MassageEnv(env_config)
    try:
        results = [run_episode(env, controller, s, stroke, direction, keep_traces)
                   for s, stroke, direction in episode_cases(episodes, seed)]
    finally:
        if own_env:
            env.close()
    return {"controller": getattr(controller, "name", type(controller).__name__),
            "aggregate": aggregate(results),
            "episodes": [vars(r) for r in results]}


def markdown_table(rows: Sequence[tuple[str, dict[str, float]]]) -> str:
    """One markdown table: a row per (label, aggregate)."""
    header = "| controller | " + " | ".join(h for _, h, _ in METRICS) + " |"
    rule = "|---|" + "---:|" * len(METRICS)
    lines = [header, rule]
    for label, values in rows:
        cells = [fmt.format(values[key]) for key, _, fmt in METRICS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
