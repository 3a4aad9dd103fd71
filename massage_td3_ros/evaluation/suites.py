"""Named evaluation suites: fixed lists of episodes (reset seed + reset options) that
every controller meets alike.

- ``nominal``: the fixed nominal person (one tissue stiffness everywhere, the config's
  constant target_force_n, its stroke settings) over the four stroke/direction cases.
- ``heldout``: people the training never meets: each profile kind x stroke x
  direction x PEOPLE_PER_CASE, drawn like ``draw_person`` from the config's ranges
  (the profile kind forced per case) on a seed stream of their own (below).
  docs/heldout.md lists them; regenerate its table with

      .venv/bin/python -m massage_td3_ros.evaluation.suites

Why training can never draw a held-out episode: a training episode's generator is
gymnasium's ``np_random(seed)``, ``PCG64(SeedSequence(seed))`` with an empty spawn
key, and its reset seeds are ``episode_seed(seed, i)``: 32-bit integers. Held-out
case i uses ``SeedSequence(entropy=HELDOUT_ENTROPY, spawn_key=(i,))``: numpy pads the
entropy to 4 32-bit words and appends the spawn key, 5 words that only an integer
seed of 2**128 or more could also give (HELDOUT_ENTROPY + i * 2**128), never a
32-bit one; so the streams differ for every training seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.episode import (
    EVAL_CASES,
    EpisodeDraw,
    draw_person,
    episode_seed,
    nominal_episode,
)
from massage_td3_ros.env.pressure import PROFILES, PressureProfile

SUITES = ("nominal", "heldout")
# The held-out stream's entropy: "HELDOUT" in ASCII (wider than the 32-bit reset seeds
# training uses, though the spawn key alone already separates the streams).
HELDOUT_ENTROPY = 0x48454C444F5554
PEOPLE_PER_CASE = 2


@dataclass(frozen=True)
class SuiteEpisode:
    """One episode of a suite: a label, the reset seed and the reset options."""

    case: str
    seed: int
    options: Mapping[str, Any] = field(default_factory=dict)


def heldout_generator(index: int) -> np.random.Generator:
    """The generator of held-out case ``index`` (its own stream, see the module doc)."""
    sequence = np.random.SeedSequence(entropy=HELDOUT_ENTROPY, spawn_key=(index,))
    return np.random.Generator(np.random.PCG64(sequence))


def heldout_episodes(config: EnvConfig) -> list[SuiteEpisode]:
    """The held-out suite: profile kind x stroke/direction case x PEOPLE_PER_CASE."""
    episodes: list[SuiteEpisode] = []
    for kind in PROFILES:
        one_kind = replace(config, rand_profiles=kind)
        for stroke, direction in EVAL_CASES:
            for person in range(PEOPLE_PER_CASE):
                index = len(episodes)
                draw = replace(draw_person(one_kind, heldout_generator(index)),
                               stroke=stroke, direction=direction)
                # The seed draws nothing here (the episode is explicit): a label only.
                episodes.append(SuiteEpisode(f"{kind}/{stroke}/{direction}/{person + 1}",
                                             index, {"episode": draw}))
    return episodes


def nominal_episodes(config: EnvConfig) -> list[SuiteEpisode]:
    """The nominal suite: the nominal person over the four stroke/direction cases."""
    person = nominal_episode(config)
    return [SuiteEpisode(f"nominal/{stroke}/{direction}", index,
                         {"episode": replace(person, stroke=stroke, direction=direction)})
            for index, (stroke, direction) in enumerate(EVAL_CASES)]


def suite_episodes(name: str, config: EnvConfig | None = None) -> list[SuiteEpisode]:
    """The episodes of suite ``name`` for ``config`` (default: EnvConfig())."""
    config = config or EnvConfig()
    if name == "nominal":
        return nominal_episodes(config)
    if name == "heldout":
        return heldout_episodes(config)
    raise ValueError(f"unknown suite {name!r}; expected one of {SUITES}")


def training_episodes(count: int, seed: int = 0) -> list[SuiteEpisode]:
    """The first ``count`` training episodes of a run with ``seed``: their reset seeds
    and no options, so the env draws them as training does (for tuning baselines on
    the training distribution; never a suite above)."""
    return [SuiteEpisode(f"train/{index}", episode_seed(seed, index)) for index in range(count)]


def person_summary(draw: EpisodeDraw) -> str:
    """Height, width, lumbar hollow, mass and tissue of a person, in one short line."""
    body = draw.body
    tissue = f"tissue x{draw.tissue.scale:.2f}" if draw.tissue.layered else \
        f"uniform {draw.tissue.uniform_n_per_m:.0f} N/m"
    return (f"{body.height_m:.2f} m w{body.width_scale:.2f} h{body.curvature:.1f} "
            f"{draw.body_mass_kg:.0f} kg {tissue}")


def profile_summary(profile: PressureProfile) -> str:
    """A pressure profile in one short line."""
    if profile.kind == "step":
        return (f"step {profile.base_n:.1f} -> {profile.base_n * (1 + profile.change):.1f} N "
                f"at {profile.change_time_s:.1f} s")
    if profile.kind == "rhythmic":
        return (f"rhythmic {profile.base_n:.1f} N +/-{100 * profile.change:.0f} % "
                f"at {profile.frequency_hz:.2f} Hz")
    return f"constant {profile.base_n:.1f} N"


def heldout_table(config: EnvConfig | None = None) -> str:
    """The held-out suite as a markdown table (docs/heldout.md holds it for the
    default config)."""
    lines = ["| # | case | height [m] | width | hollow | mass [kg] | tissue | place "
             "dx, dy [cm] | profile | stroke speed [cm/s] | spine offset [cm] | "
             "kneading [cm, Hz] |",
             "|---:|---|---:|---:|---:|---:|---:|---|---|---:|---:|---|"]
    for episode in heldout_episodes(config or EnvConfig()):
        draw: EpisodeDraw = episode.options["episode"]
        dx, dy = (100 * v for v in draw.body_offset_m)
        lines.append(
            f"| {episode.seed} | {episode.case} | {draw.body.height_m:.2f} | "
            f"{draw.body.width_scale:.2f} | {draw.body.curvature:.1f} | "
            f"{draw.body_mass_kg:.1f} | {draw.tissue.scale:.2f} | {dx:+.1f}, {dy:+.1f} | "
            f"{profile_summary(draw.profile)} | {100 * draw.stroke_speed_m_s:.1f} | "
            f"{100 * draw.spine_offset_m:.1f} | {100 * draw.kneading_amplitude_m:.1f}, "
            f"{draw.kneading_frequency_hz:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(heldout_table())
