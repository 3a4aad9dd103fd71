"""Per-step values every massage step reports, and the episode metrics built from them.

Pure numpy: the env fills these from PyBullet, the ROS agent rebuilds the same
metrics from the values carried in /massage/state, a real-arm bridge from its sensors.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from massage_td3_ros.env.tissue import REGIONS

WINDOW_S = 1.0  # the first-contact overshoot and the error after a target step: over 1 s
# The summary keys of every episode (a training log's fixed columns); the per-region
# keys (``<region>_steps`` ...) come on top, only for the regions an episode touched.
SUMMARY_KEYS = ("mean_force_n", "rms_force_error_n", "in_band_fraction", "over_force_steps",
                "wrong_link_steps", "coverage", "steps", "first_contact_overshoot_n",
                "step_error_rms_n", "step_error_steps", "force_rate_rms_n_s")

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


def tool_touches(step_info: Mapping[str, float]) -> bool:
    """Whether the tool touches the body at this step (a tissue region under it, or the
    tool as the touching link): what the first-contact overshoot counts from."""
    region = int(round(float(step_info.get("tissue_region", -1.0))))
    return region >= 0 or float(step_info.get("contact_link", -1.0)) == -2.0


class EpisodeMetrics:
    """Accumulates STEP_INFO_KEYS values over one episode.

    ``dt_s`` is the control period: the metrics measured in time (first-contact
    overshoot, error after a profile change, force rate) need it and are left out of
    the summary without it (the per-step info carries no clock).
    """

    def __init__(self, dt_s: float | None = None) -> None:
        if dt_s is not None and not dt_s > 0.0:
            raise ValueError(f"dt_s must be > 0, got {dt_s}")
        self.dt_s = dt_s
        self.reset()

    def reset(self) -> None:
        self._force: list[float] = []
        self._target: list[float] = []
        self._in_band: list[bool] = []
        self._region: list[int] = []
        self._contact: list[bool] = []
        self._target_steps: list[int] = []   # step indices where the target stepped
        self._over_force = 0
        self._governed: int | None = None  # None: no step said (a sender without the key)
        self._wrong_link = 0
        self._progress = 0.0

    def add(self, step_info: Mapping[str, float]) -> None:
        self._force.append(float(step_info["force_n"]))
        self._target.append(float(step_info["target_force_n"]))
        self._in_band.append(step_info["in_band"] > 0.5)
        # Older senders (and hand-made infos) may lack the newer keys: no region, no step.
        region = int(round(float(step_info.get("tissue_region", -1.0))))
        self._region.append(region)
        self._contact.append(tool_touches(step_info))
        if float(step_info.get("target_step", 0.0)) > 0.5:
            self._target_steps.append(len(self._force) - 1)
        self._over_force += int(step_info["over_force"] > 0.5)
        if "governed" in step_info:  # the env's info (not /massage/state) carries it
            self._governed = (self._governed or 0) + int(step_info["governed"] > 0.5)
        self._wrong_link += int(step_info["wrong_link_contact"] > 0.5)
        self._progress = max(self._progress, float(step_info["path_progress"]))

    @property
    def steps(self) -> int:
        return len(self._force)

    def summary(self) -> dict[str, float]:
        """mean_force_n, rms_force_error_n, in_band_fraction, over_force_steps,
        wrong_link_steps, coverage, steps (all 0 for an empty episode); then, for each
        tissue region the tool pressed on, ``<region>_steps``,
        ``<region>_rms_force_error_n`` and ``<region>_in_band_fraction``; and with
        ``dt_s`` known: first_contact_overshoot_n (if the tool touched),
        step_error_rms_n and step_error_steps (if the target stepped) and
        force_rate_rms_n_s (from 2 steps on); governed_steps if the steps said whether
        the force governor acted (env.force_governor_n). A key is absent, not 0, when its steps
        do not exist, so that an aggregate can pool only the episodes that have them."""
        n = self.steps
        if n == 0:
            return {"mean_force_n": 0.0, "rms_force_error_n": 0.0, "in_band_fraction": 0.0,
                    "over_force_steps": 0.0, "wrong_link_steps": 0.0, "coverage": 0.0,
                    "steps": 0.0}
        force = np.asarray(self._force)
        error = force - np.asarray(self._target)
        in_band = np.asarray(self._in_band)
        summary = {
            "mean_force_n": float(force.mean()),
            "rms_force_error_n": _rms(error),
            "in_band_fraction": float(in_band.mean()),
            "over_force_steps": float(self._over_force),
            "wrong_link_steps": float(self._wrong_link),
            "coverage": self._progress,
            "steps": float(n),
        }
        region = np.asarray(self._region)
        for index, name in enumerate(REGIONS):
            on = region == index
            if on.any():
                summary[f"{name}_steps"] = float(on.sum())
                summary[f"{name}_rms_force_error_n"] = _rms(error[on])
                summary[f"{name}_in_band_fraction"] = float(in_band[on].mean())
        if self._governed is not None:
            summary["governed_steps"] = float(self._governed)
        if self.dt_s is not None:
            summary.update(self._timed(force, error))
        return summary

    def _timed(self, force: np.ndarray, error: np.ndarray) -> dict[str, float]:
        """The metrics that need the control period."""
        window = max(1, int(round(WINDOW_S / self.dt_s)))
        timed: dict[str, float] = {}
        touched = np.flatnonzero(self._contact)
        if touched.size:
            first = touched[0]
            timed["first_contact_overshoot_n"] = max(0.0, float(error[first:first + window].max()))
        if self._target_steps:
            after = np.zeros(len(error), dtype=bool)   # a union: overlapping windows count once
            for start in self._target_steps:
                after[start:start + window] = True
            timed["step_error_rms_n"] = _rms(error[after])
            timed["step_error_steps"] = float(after.sum())
        if len(force) >= 2:
            timed["force_rate_rms_n_s"] = _rms(np.diff(force) / self.dt_s)
        return timed


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values))))
