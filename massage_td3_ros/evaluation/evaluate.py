"""Run a controller on MassageEnv for fixed episodes and aggregate the metrics.

The fixed evaluation episodes cycle through the stroke/direction cases (along the
spine forward and reverse, then across the back forward and reverse), each with its
own fixed reset seed; a named suite (evaluation/suites.py: nominal, heldout) is a
fixed list of episodes too. Either way every controller meets exactly the same
episodes. Aggregates: over all episodes, by tissue region and by profile kind.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.episode import evaluation_episode
from massage_td3_ros.env.metrics import EpisodeMetrics
from massage_td3_ros.env.pressure import PROFILES
from massage_td3_ros.env.tissue import REGIONS
from massage_td3_ros.evaluation.controllers import Controller, differing_settings
from massage_td3_ros.evaluation.suites import (
    SuiteEpisode,
    person_summary,
    profile_summary,
    suite_episodes,
)

LOG = logging.getLogger("massage_td3_ros.evaluate")
TRACE_KEYS = ("force_n", "target_force_n", "in_band", "path_progress", "lateral_error_m",
              "tissue_region", "target_step")

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
# The columns a suite's tables add (absent values print as "-": an aggregate of
# episodes without a target step has no step error).
DETAIL_METRICS: tuple[tuple[str, str, str], ...] = (
    ("first_contact_overshoot_n", "overshoot [N]", "{:.2f}"),
    ("max_first_contact_overshoot_n", "max overshoot [N]", "{:.2f}"),
    ("step_error_rms_n", "step error [N]", "{:.2f}"),
    ("force_rate_rms_n_s", "force rate [N/s]", "{:.1f}"),
)
# The per-episode table: metric key, heading, format, scale.
EPISODE_COLUMNS: tuple[tuple[str, str, str, float], ...] = (
    ("rms_force_error_n", "RMS [N]", "{:.2f}", 1.0),
    ("in_band_fraction", "in band [%]", "{:.1f}", 100.0),
    ("over_force_steps", "over-force", "{:.0f}", 1.0),
    ("first_contact_overshoot_n", "overshoot [N]", "{:.2f}", 1.0),
    ("step_error_rms_n", "step error [N]", "{:.2f}", 1.0),
    ("force_rate_rms_n_s", "smoothness [N/s]", "{:.1f}", 1.0),
)


@dataclass
class EpisodeResult:
    """One evaluation episode: its case, return, env metrics and per-step trace, and
    who it was (person and profile, as short text; profile_kind for the breakdown)."""

    seed: int
    stroke: str
    direction: str
    episode_return: float
    metrics: dict[str, float]
    trace: dict[str, list[float]] = field(default_factory=dict)
    case: str = ""
    profile_kind: str = "constant"
    person: str = ""
    profile: str = ""


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


def run_case(env, controller: Controller, episode: SuiteEpisode, keep_trace: bool = True,
             frame_callback=None) -> EpisodeResult:
    """One MassageEnv episode of ``controller`` from ``episode``'s reset seed and
    options; ``frame_callback(env, info)`` after the reset and each step (for
    rendering). The metrics are rebuilt here from each step's info with the env's
    control period, so those measured in time are complete."""
    obs, info = env.reset(seed=episode.seed, options=dict(episode.options))
    if frame_callback is not None:
        frame_callback(env, info)
    unwrapped = env.unwrapped
    metrics = EpisodeMetrics(dt_s=unwrapped.dt_s)

    def on_step(env_now, step_info) -> None:
        metrics.add(step_info)
        if frame_callback is not None:
            frame_callback(env_now, step_info)

    total, info, trace = play(env, controller, obs, TRACE_KEYS if keep_trace else (), on_step)
    if "episode_metrics" not in info:
        raise RuntimeError(
            "the episode ended without MassageEnv's info['episode_metrics']: a wrapper "
            "(e.g. gymnasium.make's TimeLimit) truncated it before the env's own end; give "
            "gymnasium.make max_episode_steps=config.max_episode_steps")
    draw = unwrapped.episode
    return EpisodeResult(episode.seed, draw.stroke, draw.direction, total, metrics.summary(),
                         trace, case=episode.case, profile_kind=draw.profile.kind,
                         person=person_summary(draw), profile=profile_summary(draw.profile))


def run_episode(env, controller: Controller, seed: int, stroke: str, direction: str,
                keep_trace: bool = True, frame_callback=None) -> EpisodeResult:
    """``run_case`` for one of the fixed evaluation episodes' kind: a reset seed and
    a stroke case (the person as the env's config draws it)."""
    episode = SuiteEpisode(f"{stroke}/{direction}", seed,
                           {"stroke": stroke, "direction": direction})
    return run_case(env, controller, episode, keep_trace, frame_callback)


def aggregate(results: Sequence[EpisodeResult]) -> dict[str, float]:
    """Mean over episodes; RMS error pooled over all steps; counts summed."""
    return aggregate_metrics([r.episode_return for r in results], [r.metrics for r in results])


def aggregate_metrics(returns: Sequence[float], metrics: Sequence[dict[str, float]]
                      ) -> dict[str, float]:
    """``aggregate`` from each episode's return and EpisodeMetrics summary. The metrics
    measured in time are pooled over the episodes that have them (a summary from
    an EpisodeMetrics without dt_s has none: they are then absent)."""
    steps = np.array([m["steps"] for m in metrics])
    rms = np.array([m["rms_force_error_n"] for m in metrics])
    in_band = np.array([m["in_band_fraction"] for m in metrics])
    result = {
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
    if any("governed_steps" in m for m in metrics):
        result["governed_steps"] = float(sum(m.get("governed_steps", 0.0) for m in metrics))
    overshoots = [m["first_contact_overshoot_n"] for m in metrics
                  if "first_contact_overshoot_n" in m]
    if overshoots:
        result["first_contact_overshoot_n"] = float(np.mean(overshoots))
        result["max_first_contact_overshoot_n"] = float(np.max(overshoots))
    stepped = [m for m in metrics if "step_error_rms_n" in m]
    if stepped:
        result["step_error_rms_n"] = _pooled_rms(stepped, "step_error_rms_n",
                                                 [m["step_error_steps"] for m in stepped])
        result["step_error_episodes"] = float(len(stepped))
    rated = [m for m in metrics if "force_rate_rms_n_s" in m]
    if rated:  # n steps give n - 1 rates
        result["force_rate_rms_n_s"] = _pooled_rms(rated, "force_rate_rms_n_s",
                                                   [m["steps"] - 1 for m in rated])
    return result


def _pooled_rms(metrics: Sequence[dict[str, float]], key: str, counts: Sequence[float]
                ) -> float:
    """The RMS over all the values behind each episode's RMS ``key``."""
    values, counts = np.array([m[key] for m in metrics]), np.asarray(counts, dtype=float)
    return float(np.sqrt(np.sum(values ** 2 * counts) / max(counts.sum(), 1.0)))


def aggregate_by_region(metrics: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per tissue region the tool pressed on: its steps (and their share of all
    steps), the RMS force error and the in-band share over those steps."""
    total = max(sum(m["steps"] for m in metrics), 1.0)
    regions: dict[str, dict[str, float]] = {}
    for region in REGIONS:
        on = [m for m in metrics if f"{region}_steps" in m]
        counts = [m[f"{region}_steps"] for m in on]
        if not on:
            continue
        steps = float(sum(counts))
        regions[region] = {
            "steps": steps,
            "steps_percent": 100.0 * steps / total,
            "rms_force_error_n": _pooled_rms(on, f"{region}_rms_force_error_n", counts),
            "in_band_percent": 100.0 * float(sum(
                m[f"{region}_in_band_fraction"] * n for m, n in zip(on, counts))) / steps,
        }
    return regions


def aggregate_by_profile(results: Sequence[EpisodeResult]) -> dict[str, dict[str, float]]:
    """``aggregate`` of each profile kind's episodes (kinds without episodes left out)."""
    return {kind: aggregate([r for r in results if r.profile_kind == kind])
            for kind in PROFILES if any(r.profile_kind == kind for r in results)}


def evaluate(controller: Controller, episodes: int = 4, seed: int = 0,
             env_config: EnvConfig | None = None, env=None, keep_traces: bool = True
             ) -> dict:
    """Evaluate ``controller`` on the fixed evaluation episodes; returns {"controller",
    "aggregate", "by_region", "by_profile", "episodes"}.

    ``episodes`` cycle through ``cases``; pass ``env`` to reuse one (else one is made
    from ``env_config`` and closed at the end).
    """
    cases = [SuiteEpisode(f"{stroke}/{direction}", s, {"stroke": stroke, "direction": direction})
             for s, stroke, direction in episode_cases(episodes, seed)]
    return evaluate_cases(controller, cases, env_config, env, keep_traces)


def evaluate_suite(controller: Controller, suite: str, env_config: EnvConfig | None = None,
                   env=None, keep_traces: bool = True) -> dict:
    """``evaluate`` on the named suite (evaluation/suites.py), drawn for the env's
    config; the result also names the suite."""
    config = env.unwrapped.config if env is not None else env_config_for(controller, env_config)
    result = evaluate_cases(controller, suite_episodes(suite, config), config, env, keep_traces)
    return {"suite": suite, **result}


def env_config_for(controller: Controller, env_config: EnvConfig | None) -> EnvConfig:
    """``env_config`` with the action settings ``controller`` must be scored with: a
    baseline on plain actions of the increment it was tuned with, a TD3 policy with those
    it was trained with (from its checkpoint), so one config serves every controller."""
    config = env_config or EnvConfig()
    settings = getattr(controller, "action_settings", None) or {}
    changed = {k: wanted for k, (wanted, _) in differing_settings(settings, config).items()}
    if changed:
        LOG.info("%s: scored with %s", getattr(controller, "name", "controller"),
                 ", ".join(f"env.{k}={v!r}" for k, v in changed.items()))
    return dataclasses.replace(config, **changed) if changed else config


def evaluate_cases(controller: Controller, cases: Sequence[SuiteEpisode],
                   env_config: EnvConfig | None = None, env=None, keep_traces: bool = True
                   ) -> dict:
    """``controller`` on each of ``cases`` (reset seed + options) in order."""
    from massage_td3_ros.env.massage_env import MassageEnv

    own_env = env is None
    env = env if env is not None else MassageEnv(env_config_for(controller, env_config))
    try:
        results = [run_case(env, controller, case, keep_traces) for case in cases]
    finally:
        if own_env:
            env.close()
    return {"controller": getattr(controller, "name", type(controller).__name__),
            "aggregate": aggregate(results),
            "by_region": aggregate_by_region([r.metrics for r in results]),
            "by_profile": aggregate_by_profile(results),
            "episodes": [vars(r) for r in results]}


def markdown_table(rows: Sequence[tuple[str, dict[str, float]]],
                   columns: Sequence[tuple[str, str, str]] = METRICS,
                   label: str = "controller") -> str:
    """One markdown table: a row per (label, aggregate); a value the aggregate does not
    have prints as "-"."""
    header = f"| {label} | " + " | ".join(h for _, h, _ in columns) + " |"
    rule = "|---|" + "---:|" * len(columns)
    lines = [header, rule]
    for name, values in rows:
        cells = [fmt.format(values[key]) if key in values else "-" for key, _, fmt in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def episode_table(episodes: Sequence[dict]) -> str:
    """A row per episode (``vars`` of EpisodeResult): case, person, profile, metrics."""
    header = "| case | person | profile | " + " | ".join(
        h for _, h, _, _ in EPISODE_COLUMNS) + " |"
    lines = [header, "|---|---|---|" + "---:|" * len(EPISODE_COLUMNS)]
    for episode in episodes:
        metrics = episode["metrics"]
        cells = [fmt.format(scale * metrics[key]) if key in metrics else "-"
                 for key, _, fmt, scale in EPISODE_COLUMNS]
        lines.append(f"| {episode['case']} | {episode['person']} | {episode['profile']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def region_table(by_region: dict[str, dict[str, float]]) -> str:
    """A row per tissue region: its share of the steps, RMS error and in-band share."""
    lines = ["| region | steps | steps [%] | RMS error [N] | in band [%] |",
             "|---|---:|---:|---:|---:|"]
    for region, values in by_region.items():
        lines.append(f"| {region} | {values['steps']:.0f} | {values['steps_percent']:.1f} | "
                     f"{values['rms_force_error_n']:.2f} | {values['in_band_percent']:.1f} |")
    return "\n".join(lines)
