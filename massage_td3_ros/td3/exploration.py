"""Training-time action shaping: Gaussian noise, x-axis oscillation, exponential smoothing."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from massage_td3_ros.td3.config import ExplorationConfig


class Exploration:
    """Turns the policy's (or a random) action into the action sent during training.

    Order: Gaussian noise, then the oscillation offset on axis 0, then the blend with
    the previous sent action, then clipping to [-max_action, max_action].
    """

    def __init__(self, config: ExplorationConfig, act_dim: int, max_action: float = 1.0,
                 rng: np.random.Generator | None = None) -> None:
        self.config = config
        self.act_dim = int(act_dim)
        self.max_action = float(max_action)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.previous: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the previous action (call at the start of every episode)."""
        self.previous = None

    def oscillation_offset(self, episode_step: int, env_steps: int) -> float:
        """Sinusoidal offset of axis 0 at this step (0 when switched off or decayed)."""
        cfg = self.config
        if not cfg.oscillation:
            return 0.0
        amplitude = cfg.oscillation_amplitude
        if cfg.oscillation_decay_steps > 0:
            amplitude *= max(0.0, 1.0 - env_steps / cfg.oscillation_decay_steps)
        return amplitude * math.sin(2.0 * math.pi * episode_step / cfg.oscillation_period_steps)

    def apply(self, action: np.ndarray, episode_step: int, env_steps: int,
              add_noise: bool = True) -> np.ndarray:
        """The action to send; ``add_noise=False`` for actions already random (warm-up)."""
        cfg = self.config
        out = np.asarray(action, dtype=np.float64).copy()
        if cfg.gaussian and add_noise and cfg.noise_std > 0:
            out += self.rng.normal(0.0, cfg.noise_std * self.max_action, size=self.act_dim)
        out[0] += self.oscillation_offset(episode_step, env_steps)
        if cfg.smoothing and self.previous is not None:
            out = cfg.smoothing_factor * self.previous + (1.0 - cfg.smoothing_factor) * out
        out = np.clip(out, -self.max_action, self.max_action).astype(np.float32)
        self.previous = out.astype(np.float64)
        return out

    def get_state(self) -> dict[str, Any]:
        """JSON-friendly state for checkpoints (previous action and RNG state)."""
        return {"previous": None if self.previous is None else self.previous.tolist(),
                "rng": self.rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        previous = state["previous"]
        self.previous = None if previous is None else np.asarray(previous, dtype=np.float64)
        self.rng.bit_generator.state = state["rng"]
