"""Controllers evaluated side by side on MassageEnv: the planned stroke alone
(``path``), a classical force controller with gains tuned on the nominal person
(``pid``) or on the training distribution of people (``pid-train``), that PID with its
setpoint taken from the previewed target (``pid-preview``) and the learned TD3 policy
(``td3``).

Every controller maps (observation, env) to an action in [-1, 1]^3, the env's
correction of the tool target relative to the planned path point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from massage_td3_ros.env.observation import FORCE_SCALE_N, OBS_LAYOUT, observation_slices
from massage_td3_ros.env.pressure import PREVIEW_STEPS

CONTROLLERS = ("td3", "path", "pid", "pid-train", "pid-preview")
FORCE_INDEX = observation_slices()["force"].start


def observed_force_n(obs: np.ndarray) -> float:
    """The net tool force carried in an observation (what every controller sees)."""
    return float(obs[FORCE_INDEX]) * FORCE_SCALE_N


class Controller(Protocol):
    """Anything that can drive MassageEnv for an episode."""

    name: str

    def reset(self, env) -> None:
        """Called after each env.reset(), before the first act()."""

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        """Action in [-1, 1]^3 for the current observation."""


class PathController:
    """Follow the planned stroke with no correction (the seed's "No RL" row)."""

    name = "path"

    def reset(self, env) -> None:
        pass

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        return np.zeros(3, dtype=np.float32)


class PidController:
    """PID on the tool's depth along the surface normal, regulating the tool force.

    error = target - measured force; the output is a depth correction [m] (positive:
    deeper, against the outward normal) mapped to an action along the normal; no
    lateral correction. Derivative on the (low-pass filtered) measurement, so a
    target change gives no kick; anti-windup by clamping: the integral only grows
    while the output is not saturated in the same direction.

    Default gains (``pid``) tuned on the nominal person with ``benchmarks/tune_pid.py``
    (``--distribution nominal``): coordinate search over kp, ki, kd and the derivative
    filter (3 rounds, 73 gain sets, from kp 2e-4, ki 2e-3, kd 0), minimising the pooled
    RMS force error of the four stroke/direction episodes of the nominal person (20 N
    target) with no over-force step allowed: 0.68 N RMS, 99.8 % of steps in the +/-5 N
    band (hand start: 1.52 N, 98.1 %). ``pid-train`` is this class with TRAINING_GAINS.
    """

    name = "pid"

    def __init__(self, kp_m_per_n: float = 4.0e-4, ki_m_per_n_s: float = 1.6e-2,
                 kd_m_s_per_n: float = 1.0e-5, derivative_filter: float = 0.7,
                 max_depth_correction_m: float = 0.02, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        if not 0.0 <= derivative_filter < 1.0:
            raise ValueError(f"derivative_filter must be in [0, 1), got {derivative_filter}")
        if max_depth_correction_m <= 0.0:
            raise ValueError("max_depth_correction_m must be > 0")
        self.kp_m_per_n = float(kp_m_per_n)
        self.ki_m_per_n_s = float(ki_m_per_n_s)
        self.kd_m_s_per_n = float(kd_m_s_per_n)
        self.derivative_filter = float(derivative_filter)
        self.max_depth_correction_m = float(max_depth_correction_m)
        self._integral_m = 0.0
        self._filtered_force_n: float | None = None

    def reset(self, env) -> None:
        self._integral_m = 0.0
        self._filtered_force_n = None

    def depth_correction_m(self, force_n: float, target_force_n: float, dt_s: float) -> float:
        """One PID step: the depth correction for this measured force."""
        error_n = target_force_n - force_n
        previous = self._filtered_force_n
        alpha = self.derivative_filter
        filtered = force_n if previous is None else alpha * previous + (1 - alpha) * force_n
        self._filtered_force_n = filtered
        rate_n_s = 0.0 if previous is None else (filtered - previous) / dt_s
        unclamped = (self.kp_m_per_n * error_n + self._integral_m
                     - self.kd_m_s_per_n * rate_n_s)
        limit = self.max_depth_correction_m
        output = float(np.clip(unclamped, -limit, limit))
        candidate = self._integral_m + self.ki_m_per_n_s * error_n * dt_s
        saturated_same_way = (unclamped >= limit and error_n > 0) or \
            (unclamped <= -limit and error_n < 0)
        if not saturated_same_way:
            self._integral_m = float(np.clip(candidate, -limit, limit))
        return output

    def setpoint_n(self, env) -> float:
        """The force the PID regulates to this step: the current target."""
        return env.target_force_n

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        reference = env.path_reference()
        depth_m = self.depth_correction_m(observed_force_n(obs), self.setpoint_n(env), env.dt_s)
        return env.action_toward(-reference.normal * depth_m)  # deeper: against the normal


class PreviewPidController(PidController):
    """The PID regulating to the target ``lead_s`` ahead instead of the current one.

    The force follows a depth command late (the arm's position loop, the PID's own
    integral), so a feedback controller meets a target change after it has come. The
    person's coming targets are previewed (env.target_preview_n, PREVIEW_STEPS
    steps ahead; linear between them, the current target at 0): regulating to the
    one ``lead_s`` ahead starts the change early by about the loop's lag, so a step
    is met on time and a rhythm loses its phase lag. A constant target is unchanged:
    then it is the PID. ``lead_s`` is tuned with the gains (benchmarks/tune_pid.py).
    """

    name = "pid-preview"

    def __init__(self, lead_s: float = 0.05, **gains) -> None:
        super().__init__(**gains)
        self.lead_s = float(lead_s)
        if self.lead_s < 0.0:
            raise ValueError(f"lead_s must be >= 0, got {lead_s}")

    def setpoint_n(self, env) -> float:
        ahead = [0.0] + [k * env.dt_s for k in PREVIEW_STEPS]
        targets = [env.target_force_n, *env.target_preview_n]
        if self.lead_s > ahead[-1]:
            raise ValueError(f"lead_s={self.lead_s:g} s is beyond the preview "
                             f"({ahead[-1]:g} s at this control rate)")
        return float(np.interp(self.lead_s, ahead, targets))


class PolicyController:
    """The deterministic TD3 policy of a checkpoint (td3.policy.Policy)."""

    name = "td3"

    def __init__(self, checkpoint: str | Path, device: str = "cpu") -> None:
        from massage_td3_ros.env.observation import OBS_DIM
        from massage_td3_ros.td3.agent import use_torch_threads
        from massage_td3_ros.td3.policy import Policy

        self.checkpoint = Path(checkpoint)
        # The network widths live in the checkpoint; Policy checks sizes and layout.
        self.policy = Policy.load(self.checkpoint, OBS_DIM, 3, list(OBS_LAYOUT), device=device)
        use_torch_threads(self.policy.config.torch_threads)  # as it was trained
        self.action_meta = self.policy.meta["config"].get("action")  # None: not recorded (ROS runs)

    def reset(self, env) -> None:
        """Refuse an env that reads actions differently from the one trained on."""
        from massage_td3_ros.env.episode import action_meta

        if self.action_meta is None:
            return
        here = action_meta(env.config)
        differing = {k: (v, here.get(k)) for k, v in self.action_meta.items()
                     if here.get(k) != v}
        if differing:
            detail = ", ".join(f"env.{k} {trained!r} in training, {now!r} here"
                               for k, (trained, now) in differing.items())
            raise ValueError(f"{self.checkpoint}: the policy was trained with other action "
                             f"settings: {detail} (pass them with --set)")

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        return np.clip(self.policy.act(obs), -1.0, 1.0).astype(np.float32)


# pid-train: the PID's gains tuned on the training distribution, the first 16 training
# episodes (people, profiles, strokes) of seed 0, with the same grids and start as the
# nominal tuning: `.venv/bin/python benchmarks/tune_pid.py --distribution training`
# (49 gain sets, converged in 2 rounds, 173 s CPU): objective 11.339 = pooled RMS
# 1.339 N + 10 N for its one over-force step (an episode ending at first contact; none
# of the gain sets tried avoids every over-force), 98.6 % of steps in band. Against
# the nominal gains: half kp and ki, a fifth of kd (softer: stiffer people and higher
# targets make the nominal gains overshoot into the safety limit).
TRAINING_GAINS: dict[str, float] = {"kp_m_per_n": 2.0e-4, "ki_m_per_n_s": 8.0e-3,
                                    "kd_m_s_per_n": 2.0e-6, "derivative_filter": 0.5}
# pid-preview: the gains and the lead tuned together, same episodes, grids and start
# (lead from 0 s): `.venv/bin/python benchmarks/tune_pid.py --distribution training
# --controller pid-preview` (63 gain sets, converged in 2 rounds, 251 s CPU): the same
# gains as pid-train and a lead of 0.05 s (the grid: 0-0.5 s); objective 11.312 =
# pooled RMS 1.312 N + 10 N for the same one over-force step, 98.7 % in band; RMS error
# in the 1 s after a target step 1.25 N (pid-train: 1.65 N).
PREVIEW_GAINS: dict[str, float] = {**TRAINING_GAINS, "lead_s": 0.05}


def make_controller(name: str, checkpoint: str | Path | None = None) -> Controller:
    """A controller by name: ``td3`` (needs ``checkpoint``), ``path``, ``pid``,
    ``pid-train`` or ``pid-preview``."""
    if name == "td3":
        if checkpoint is None:
            raise ValueError("the td3 controller needs a checkpoint (--checkpoint PATH)")
        return PolicyController(checkpoint)
    if name == "path":
        return PathController()
    if name == "pid":
        return PidController()
    if name == "pid-train":
        return PidController(**TRAINING_GAINS, name="pid-train")
    if name == "pid-preview":
        return PreviewPidController(**PREVIEW_GAINS)
    raise ValueError(f"unknown controller {name!r}; expected one of {CONTROLLERS}")
