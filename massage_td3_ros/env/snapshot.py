"""Small read-only views of the env's state for baselines and the ROS sim node."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from massage_td3_ros.env.contact import Contact


@dataclass(frozen=True)
class ArmSnapshot:
    """The arm and its contacts after the last step (world frame, SI units)."""

    time_s: float                    # simulated time since reset
    dt_s: float                      # control period
    joint_names: tuple[str, ...]
    joint_pos_rad: np.ndarray        # (7,)
    joint_vel_rad_s: np.ndarray      # (7,)
    joint_effort_nm: np.ndarray      # (7,) applied motor torques
    tool_pos_m: np.ndarray           # (3,) tool-ball centre
    tool_quat_xyzw: np.ndarray       # (4,)
    force_n: float                   # net normal force of the body on the tool
    contacts: tuple[Contact, ...]    # every arm-body contact point (any arm link)
    tool_link: int                   # the tool's link index in ``contacts``


@dataclass(frozen=True)
class PathReference:
    """The current path point, for a force controller along the surface normal."""

    target_m: np.ndarray             # path target (touching point pushed in nominally)
    touch_m: np.ndarray              # tool centre when just touching the surface here
    normal: np.ndarray               # outward unit surface normal
    tangent: np.ndarray              # unit stroke direction (horizontal)
    progress: float                  # position along the stroke, 0..1
    action_scale_m: float            # largest correction per axis (offset mode: per unit action)
