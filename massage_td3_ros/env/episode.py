"""What an episode is: its reset seed, the fixed evaluation episodes, and the
per-episode settings: a person, a pressure profile and a stroke, drawn from the
config's ranges with the env's seeded generator (randomize, the default), or the
fixed nominal person; overridable by reset options.

Pure numpy: the sim node, the trainer and evaluation all take their episodes from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from massage_td3_ros.env.anatomy import BodyShape
from massage_td3_ros.env.config import DIRECTIONS, STROKES
from massage_td3_ros.env.pressure import PROFILES, PressureProfile, draw_profile
from massage_td3_ros.env.tissue import Tissue

RESET_OPTIONS = ("episode", "target_force_n", "stroke", "direction", "start_progress")
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
            for key in ("action_mode", "action_increment_m", "action_scale_m", "action_base",
                        "residual_scale", "action_frame", "tangential_action_scale")}


def recorded_action_meta(checkpoint_config: dict[str, Any]) -> dict[str, Any] | None:
    """The action settings a checkpoint's config records (None: not recorded); those
    written before residual actions or the surface frame existed read actions plainly,
    in world axes."""
    recorded = checkpoint_config.get("action")
    if recorded is None:
        return None
    return {"action_base": "none", "residual_scale": 1.0, "action_frame": "world",
            "tangential_action_scale": 1.0, **recorded}


@dataclass(frozen=True)
class EpisodeDraw:
    """Everything that may change from one episode to the next: the person, the
    pressure they ask for, and the stroke."""

    body: BodyShape
    body_offset_m: tuple          # (dx, dy) of the body on the table
    body_mass_kg: float
    tissue: Tissue
    profile: PressureProfile
    stroke: str
    direction: str
    stroke_speed_m_s: float
    spine_offset_m: float
    kneading_amplitude_m: float
    kneading_frequency_hz: float
    start_progress: float = 0.0   # where on the stroke the episode starts, 0..1

    @property
    def target_force_n(self) -> float:
        """The base target force of the episode's pressure profile."""
        return self.profile.base_n


def nominal_episode(config) -> EpisodeDraw:
    """The fixed nominal person of ``config`` (randomize off), stroke settings as set
    (``random`` ones still to be drawn)."""
    return EpisodeDraw(
        body=BodyShape(height_m=config.body_height_m), body_offset_m=(0.0, 0.0),
        body_mass_kg=config.body_mass_kg,
        tissue=Tissue(uniform_n_per_m=config.tissue_stiffness_n_per_m,
                      uniform_damping_n_s_per_m=config.tissue_damping_n_s_per_m),
        profile=PressureProfile("constant", config.target_force_n),
        stroke=config.stroke, direction=config.stroke_direction,
        stroke_speed_m_s=config.stroke_speed_m_s, spine_offset_m=config.spine_offset_m,
        kneading_amplitude_m=config.kneading_amplitude_m,
        kneading_frequency_hz=config.kneading_frequency_hz)


def _quantised(rng: np.random.Generator, bounds, step: float) -> float:
    """Uniform in ``bounds``, rounded to ``step`` (each distinct build keeps its own
    PyBullet shapes, so builds come from a finite set)."""
    return round(round(float(rng.uniform(*bounds)) / step) * step, 6)


def draw_person(config, rng: np.random.Generator) -> EpisodeDraw:
    """A person, a pressure profile and stroke settings from the config's ranges."""
    offset = config.rand_body_offset_m
    kinds = PROFILES if config.rand_profiles == "all" else (config.rand_profiles,)
    return EpisodeDraw(
        body=BodyShape(height_m=_quantised(rng, config.rand_body_height_m, 0.02),
                       width_scale=_quantised(rng, config.rand_width_scale, 0.05),
                       curvature=_quantised(rng, config.rand_back_curvature, 0.2)),
        body_offset_m=tuple(float(v) for v in rng.uniform(-offset, offset, 2)),
        body_mass_kg=float(rng.uniform(*config.rand_body_mass_kg)),
        tissue=Tissue(scale=float(rng.uniform(*config.rand_tissue_scale)),
                      core_damping_s=config.tissue_core_damping_s),
        profile=draw_profile(rng, kinds, config.rand_target_force_n, config.rand_step_change,
                             config.rand_step_time_s, config.rand_rhythm_change,
                             config.rand_rhythm_hz),
        stroke=config.stroke, direction=config.stroke_direction,
        stroke_speed_m_s=float(rng.uniform(*config.rand_stroke_speed_m_s)),
        spine_offset_m=float(rng.uniform(*config.rand_spine_offset_m)),
        kneading_amplitude_m=float(rng.uniform(*config.rand_kneading_amplitude_m)),
        kneading_frequency_hz=float(rng.uniform(*config.rand_kneading_frequency_hz)))


def draw_episode(config, rng: np.random.Generator, options: Mapping[str, Any]) -> EpisodeDraw:
    """The episode's settings; ``options`` may give a whole ``episode`` (an EpisodeDraw:
    a held-out case), or set target_force_n (a constant target), stroke, direction and
    start_progress (0..1 along the stroke, default 0: its start)."""
    unknown = sorted(set(options) - set(RESET_OPTIONS))
    if unknown:
        raise ValueError(f"reset options {unknown} not understood; known: {RESET_OPTIONS}")
    if "episode" in options:
        draw = options["episode"]
        if not isinstance(draw, EpisodeDraw):
            raise ValueError(f"reset option episode: expected an EpisodeDraw, got "
                             f"{type(draw).__name__}")
    else:
        draw = draw_person(config, rng) if config.randomize else nominal_episode(config)
    values: dict[str, Any] = {}
    if draw.stroke == "random":
        values["stroke"] = str(rng.choice(STROKES[:2]))
    if draw.direction == "random":
        values["direction"] = str(rng.choice(DIRECTIONS[:2]))
    if "target_force_n" in options:
        force = float(options["target_force_n"])
        if not np.isfinite(force) or not 0.0 <= force < config.safety_force_limit_n:
            raise ValueError(f"reset option target_force_n={force}: must be in "
                             f"[0, safety_force_limit_n={config.safety_force_limit_n})")
        values["profile"] = PressureProfile("constant", force)
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
    draw = replace(draw, **values)
    if draw.stroke not in STROKES[:2] or draw.direction not in DIRECTIONS[:2]:
        raise ValueError(f"episode stroke {draw.stroke!r} / direction {draw.direction!r}: "
                         f"expected one of {STROKES[:2]} / {DIRECTIONS[:2]}")
    if draw.profile.peak_n >= config.safety_force_limit_n:
        raise ValueError(f"episode target up to {draw.profile.peak_n:g} N is not below "
                         f"safety_force_limit_n={config.safety_force_limit_n:g} N")
    return draw
