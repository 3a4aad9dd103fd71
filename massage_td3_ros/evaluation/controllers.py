"""Controllers evaluated side by side on MassageEnv: the planned stroke alone
(``path``), a classical force controller with gains tuned on the nominal person
(``pid``) or on the training distribution of people (``pid-train``), that PID with its
setpoint taken from the previewed target (``pid-preview``) and the learned TD3 policy
(``td3``).

Every controller maps (observation, env) to an action in [-1, 1]^3, the env's
correction of the tool target relative to the planned path point.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.episode import recorded_action_meta
from massage_td3_ros.env.force_control import (
    PREVIEW_GAINS,
    TRAINING_GAINS,
    TUNED_INCREMENT_M,
    ForcePid,
    preview_setpoint_n,
)
from massage_td3_ros.env.observation import FORCE_SCALE_N, OBS_LAYOUT, observation_slices

LOG = logging.getLogger(__name__)
CONTROLLERS = ("td3", "path", "pid", "pid-train", "pid-preview")
FORCE_INDEX = observation_slices()["force"].start
# How the env reads a baseline's actions: increments of the size its gains were tuned
# with, in world axes, and no base controller under it (it drives the tool alone).
BASELINE_ACTIONS = {"action_mode": "increment", "action_increment_m": TUNED_INCREMENT_M,
                    "action_base": "none", "action_frame": "world",
                    "tangential_action_scale": 1.0}


def observed_force_n(obs: np.ndarray) -> float:
    """The net tool force carried in an observation (what every controller sees)."""
    return float(obs[FORCE_INDEX]) * FORCE_SCALE_N


class Controller(Protocol):
    """Anything that can drive MassageEnv for an episode."""

    name: str
    # EnvConfig values the controller must be scored with (how the env reads its
    # actions), or None: any (evaluation.evaluate.env_config_for applies them).
    action_settings: dict | None

    def reset(self, env) -> None:
        """Called after each env.reset(), before the first act()."""

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        """Action in [-1, 1]^3 for the current observation."""


class PathController:
    """Follow the planned stroke with no correction (the seed's "No RL" row)."""

    name = "path"
    # no base controller under it; a zero action is no correction in any mode and step
    action_settings = {"action_base": "none"}

    def reset(self, env) -> None:
        require_baseline_actions(self, env)

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        return np.zeros(3, dtype=np.float32)


class PidController(ForcePid):
    """The PID of env.force_control on the tool's depth along the surface normal: its
    depth correction is mapped to an action along the normal; no lateral correction.

    Default gains (``pid``) tuned on the nominal person with ``benchmarks/tune_pid.py``
    (``--distribution nominal``): coordinate search over kp, ki, kd and the derivative
    filter (3 rounds, 73 gain sets, from kp 2e-4, ki 2e-3, kd 0), minimising the pooled
    RMS force error of the four stroke/direction episodes of the nominal person (20 N
    target) with no over-force step allowed: 0.68 N RMS, 99.8 % of steps in the +/-5 N
    band (hand start: 1.52 N, 98.1 %). ``pid-train`` is this class with TRAINING_GAINS.
    """

    name = "pid"
    action_settings = BASELINE_ACTIONS

    def __init__(self, name: str | None = None, increment_m: float = TUNED_INCREMENT_M,
                 **gains) -> None:
        """``increment_m``: the step per unit action the gains are for (the shipped ones:
        TUNED_INCREMENT_M; benchmarks/tune_pid.py --increment-m searches others)."""
        super().__init__(**gains)
        if name is not None:
            self.name = name
        self.action_settings = {**BASELINE_ACTIONS, "action_increment_m": increment_m}

    def reset(self, env) -> None:
        require_baseline_actions(self, env)
        self.clear()

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
        return preview_setpoint_n(env.target_force_n, env.target_preview_n, env.dt_s,
                                  self.lead_s)


def require_baseline_actions(controller, env) -> None:
    """Refuse an env that reads a baseline's actions otherwise than its action_settings
    say: a base controller under it would run two controllers at once, another
    increment another loop than the one tuned."""
    differing = differing_settings(controller.action_settings, env.config)
    if differing:
        detail = "; ".join(f"env.{key} {wanted!r}, the env has {have!r}"
                           for key, (wanted, have) in differing.items())
        raise ValueError(f"controller {controller.name} needs {detail} "
                         "(baseline_env_config builds the env baselines are scored on)")


def differing_settings(settings: dict, env_config) -> dict:
    """{key: (wanted, the env's)} for each of ``settings`` the env config has otherwise."""
    return {key: (wanted, getattr(env_config, key)) for key, wanted in settings.items()
            if getattr(env_config, key) != wanted}


def baseline_env_config(config: EnvConfig | None = None) -> EnvConfig:
    """``config`` (default: EnvConfig()) reading actions as the baselines need."""
    return dataclasses.replace(config or EnvConfig(), **BASELINE_ACTIONS)


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
        self.action_meta = recorded_action_meta(self.policy.meta["config"])
        if self.action_meta is None:
            LOG.warning("%s records no action settings (trained through ROS with a sim that "
                        "did not announce them on massage/action_settings): it is scored "
                        "with the config's env.action_* values, which must be the ones its "
                        "sim ran with", self.checkpoint)
        self.action_settings = self.action_meta

    def reset(self, env) -> None:
        """Refuse an env that reads actions differently from the one trained on."""
        if self.action_meta is None:
            return
        differing = differing_settings(self.action_meta, env.config)
        if differing:
            detail = ", ".join(f"env.{k} {trained!r} in training, {now!r} here"
                               for k, (trained, now) in differing.items())
            raise ValueError(f"{self.checkpoint}: the policy was trained with other action "
                             f"settings: {detail} (pass them with --set)")

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        return np.clip(self.policy.act(obs), -1.0, 1.0).astype(np.float32)


# The tuned gains (TRAINING_GAINS, PREVIEW_GAINS) and how they were found:
# env/force_control.py, where the residual policy's base controller takes them too.


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
