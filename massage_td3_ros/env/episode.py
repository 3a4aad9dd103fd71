"""What an episode is: its reset seed, the fixed evaluation episodes, and the
per-episode settings (fixed by default, drawn from the config's ranges when
randomisation is on, with the env's seeded generator; overridable by reset options).

Pure numpy: the sim node, the trainer and evaluation all take their episodes from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from massage_td3_ros.env.config import DIRECTIONS, STROKES

RESET_OPTIONS = ("target_force_n", "stroke", "direction", "start_progress")
MASSAGE_ENV_ID = "MassageEnv-v0"
# The stroke/direction cases every evaluation covers, in this order.
EVAL_CASES = (("along_spine", "forward"), ("along_spine", "reverse"),
              ("across_back", "forward"), ("across_back", "reverse"))


def episode_seed(seed: int, episode_index: int) -> int:
    """The reset seed of training episode ``episode_index``: a resumed run, the ROS sim
    and the in-process trainer all meet the same sequence of episodes."""
    return int(np.random.SeedSequence([seed, episode_index]).generate_state(1)[0])


def evaluation_episode(seed: int, index: int) -> tuple[int, dict[str, str]]:
    """(reset seed, reset options) of fixed evaluation episode ``index``: seed + index,
    cycling through EVAL_CASES (what `massage-td3 eval` and the sim's evaluation
    episodes run)."""
    stroke, direction = EVAL_CASES[index % len(EVAL_CASES)]
    return seed + index, {"stroke": stroke, "direction": direction}


def action_meta(env_config) -> dict[str, Any]:
    """How MassageEnv reads an action (kept in checkpoints, checked at evaluation)."""
    return {key: getattr(env_config, key)
            for key in ("action_mode", "action_increment_m", "action_scale_m")}


@dataclass(frozen=True)
class EpisodeDraw:
    """Everything that may change from one episode to the next."""

    body_offset_m: tuple          # (dx, dy) of the body on the table
    body_scale: float
    body_mass_kg: float
    kneading_amplitude_m: float
    kneading_frequency_hz: float
    tissue_stiffness_n_per_m: float
    target_force_n: float
    stroke: str
    direction: str
    start_progress: float = 0.0   # where on the stroke the episode starts, 0..1


def draw_episode(config, rng: np.random.Generator, options: Mapping[str, Any]) -> EpisodeDraw:
    """The episode's settings; ``options`` may set target_force_n, stroke, direction
    and start_progress (0..1 along the stroke, default 0: its start)."""
    unknown = sorted(set(options) - set(RESET_OPTIONS))
    if unknown:
        raise ValueError(f"reset options {unknown} not understood; known: {RESET_OPTIONS}")
    scale = config.body_height_m / 1.75
    values = dict(body_offset_m=(0.0, 0.0), body_scale=scale, body_mass_kg=config.body_mass_kg,
                  kneading_amplitude_m=config.kneading_amplitude_m,
                  kneading_frequency_hz=config.kneading_frequency_hz,
                  tissue_stiffness_n_per_m=config.tissue_stiffness_n_per_m,
                  target_force_n=config.target_force_n, stroke=config.stroke,
                  direction=config.stroke_direction)
    if config.randomize:
        offset = config.rand_body_offset_m
        values.update(
            body_offset_m=tuple(float(v) for v in rng.uniform(-offset, offset, 2)),
            # quantised: each distinct size builds (and keeps) its own shapes
            body_scale=round(scale * float(rng.uniform(*config.rand_body_scale)), 2),
            body_mass_kg=float(rng.uniform(*config.rand_body_mass_kg)),
            kneading_amplitude_m=float(rng.uniform(*config.rand_kneading_amplitude_m)),
            kneading_frequency_hz=float(rng.uniform(*config.rand_kneading_frequency_hz)),
            tissue_stiffness_n_per_m=float(rng.uniform(*config.rand_tissue_stiffness_n_per_m)),
            target_force_n=float(rng.uniform(*config.rand_target_force_n)))
    if values["stroke"] == "random":
        values["stroke"] = str(rng.choice(STROKES[:2]))
    if values["direction"] == "random":
        values["direction"] = str(rng.choice(DIRECTIONS[:2]))
    if "target_force_n" in options:
        force = float(options["target_force_n"])
        if not np.isfinite(force) or not 0.0 <= force < config.safety_force_limit_n:
            raise ValueError(f"reset option target_force_n={force}: must be in "
                             f"[0, safety_force_limit_n={config.safety_force_limit_n})")
        values["target_force_n"] = force
    if "stroke" in options:
        if options["stroke"] not in STROKES[:2]:
            raise ValueError(f"reset option stroke={options['stroke']!r}: expected one of "
                             f"{STROKES[:2]}")
        values["stroke"] = options["stroke"]
    if "direction" in options:
        if options["direction"] not in DIRECTIONS[:2]:
            raise ValueError(f"reset option direction={options['direction']!r}: expected "
                             f"one of {DIRECTIONS[:2]}")
        values["direction"] = options["direction"]
    if "start_progress" in options:
        start = float(options["start_progress"])
        if not 0.0 <= start <= 1.0:
            raise ValueError(f"reset option start_progress={start}: must be in [0, 1]")
        values["start_progress"] = start
    return EpisodeDraw(**values)
