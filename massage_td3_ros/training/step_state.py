"""StepState: what the agent sees after one control step (or a reset).

Pure numpy, so the ROS state message (which extends it) and the sim node that sends
it import no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass
class StepState:
    """What the agent sees after one control step (or a reset)."""

    obs: np.ndarray                 # float32 (obs_dim,)
    episode: int                    # episode counter of the producer (sim)
    step: int                       # 0 for the first state of an episode
    first: bool                     # True right after a reset
    reward: float = 0.0             # outcome of the step that produced this state
    terminated: bool = False
    truncated: bool = False
    info: Mapping[str, float] = field(default_factory=dict)  # the STEP_INFO_KEYS values

    @property
    def last(self) -> bool:
        """The episode ended with this state (terminated or truncated)."""
        return self.terminated or self.truncated
