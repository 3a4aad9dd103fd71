"""The pressure a person asks for over an episode: constant, a step change, or a rhythm.

Pure numpy. The env turns a profile into one target force per control step at reset;
the observation carries the current target and a short preview of the next ones, so a
policy can anticipate a change that a feedback controller can only react to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROFILES = ("constant", "step", "rhythmic")
PREVIEW_STEPS = (5, 10, 15)   # the targets previewed, control steps ahead (0.17, 0.33, 0.5 s)


@dataclass(frozen=True)
class PressureProfile:
    """Target force over time: ``base_n``, changed per ``kind``.

    step: times (1 + change) from ``change_time_s`` on ("a bit firmer": change > 0);
    rhythmic: times (1 + change * sin(2 pi frequency_hz t + phase_rad)) (kneading).
    """

    kind: str = "constant"
    base_n: float = 20.0
    change: float = 0.0
    change_time_s: float = 0.0
    frequency_hz: float = 0.0
    phase_rad: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in PROFILES:
            raise ValueError(f"pressure profile {self.kind!r}: expected one of {PROFILES}")

    def targets_n(self, steps: int, dt_s: float) -> np.ndarray:
        """The target force at control steps 0..steps-1."""
        t = np.arange(steps) * dt_s
        if self.kind == "step":
            return np.where(t >= self.change_time_s, self.base_n * (1.0 + self.change),
                            self.base_n)
        if self.kind == "rhythmic":
            return self.base_n * (1.0 + self.change * np.sin(
                2 * np.pi * self.frequency_hz * t + self.phase_rad))
        return np.full(steps, self.base_n)

    @property
    def peak_n(self) -> float:
        """The largest target the profile asks for."""
        if self.kind == "step":
            return self.base_n * (1.0 + max(self.change, 0.0))
        if self.kind == "rhythmic":
            return self.base_n * (1.0 + abs(self.change))
        return self.base_n


def draw_profile(rng: np.random.Generator, kinds, base_range_n, step_change: float,
                 step_time_range_s, rhythm_change: float, rhythm_hz_range,
                 ) -> PressureProfile:
    """One profile: kind uniform over ``kinds``, base uniform in ``base_range_n``; a step
    of up to +/-step_change at a uniform time; a rhythm of up to rhythm_change."""
    kind = str(rng.choice(list(kinds)))
    base = float(rng.uniform(*base_range_n))
    if kind == "step":
        # at least a quarter of the largest change, up or down
        size = float(rng.uniform(0.25, 1.0)) * step_change
        return PressureProfile("step", base, size if rng.random() < 0.5 else -size,
                               change_time_s=float(rng.uniform(*step_time_range_s)))
    if kind == "rhythmic":
        return PressureProfile("rhythmic", base, float(rng.uniform(0.25, 1.0)) * rhythm_change,
                               frequency_hz=float(rng.uniform(*rhythm_hz_range)),
                               phase_rad=float(rng.uniform(0.0, 2 * np.pi)))
    return PressureProfile("constant", base)
