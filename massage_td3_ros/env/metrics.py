"""Per-step values every massage step reports, and the episode metrics built from them.

Pure numpy: the env fills these from PyBullet, the ROS agent rebuilds the same
metrics from the values carried in /massage/state, a real-arm bridge from its sensors.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# Scalars in every step's info (and in /massage/state), in this order.
STEP_INFO_KEYS: tuple[str, ...] = (
    "force_n",             # net normal force of the body on the tool [N]
    "target_force_n",      # the episode's target force [N]
    "in_band",             # 1 if |force - target| <= band, else 0
    "over_force",          # 1 if force > the hard safety limit, else 0
    "wrong_link_contact",  # 1 if an arm link other than the tool touches the body
    "contact_lost",        # 1 if the tool lost contact mid-stroke
    "path_progress",       # fraction of the stroke covered so far [0, 1]
    "tool_z_cmd_m",        # commanded tool-centre height [m, world z]
    "tool_z_m",            # actual tool-centre height [m, world z]
    "lateral_error_m",     # sideways distance of the tool from the path [m]
    "contact_link",        # arm link on the body: index; -1 none, -2 tool, -3 base
    "tissue_region",       # index in tissue.REGIONS of the surface under the tool; -1 none
    "target_step",         # 1 on the step where a step profile changes the target
)


class EpisodeMetrics:
    """Accumulates STEP_INFO_KEYS values over one episode."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._force: list[float] = []
        self._target: list[float] = []
        self._in_band = 0
        self._over_force = 0
        self._wrong_link = 0
        self._progress = 0.0

    def add(self, step_info: Mapping[str, float]) -> None:
        self._force.append(float(step_info["force_n"]))
        self._target.append(float(step_info["target_force_n"]))
        self._in_band += int(step_info["in_band"] > 0.5)
        self._over_force += int(step_info["over_force"] > 0.5)
        self._wrong_link += int(step_info["wrong_link_contact"] > 0.5)
        self._progress = max(self._progress, float(step_info["path_progress"]))

    @property
    def steps(self) -> int:
        return len(self._force)

    def summary(self) -> dict[str, float]:
        """mean_force_n, rms_force_error_n, in_band_fraction, over_force_steps,
        wrong_link_steps, coverage (all 0 for an empty episode)."""
        n = self.steps
        if n == 0:
            return {"mean_force_n": 0.0, "rms_force_error_n": 0.0, "in_band_fraction": 0.0,
                    "over_force_steps": 0.0, "wrong_link_steps": 0.0, "coverage": 0.0,
                    "steps": 0.0}
        force = np.asarray(self._force)
        error = force - np.asarray(self._target)
        return {
            "mean_force_n": float(force.mean()),
            "rms_force_error_n": float(np.sqrt(np.mean(error ** 2))),
            "in_band_fraction": self._in_band / n,
            "over_force_steps": float(self._over_force),
            "wrong_link_steps": float(self._wrong_link),
            "coverage": self._progress,
            "steps": float(n),
        }
