"""Small read-only views of the env's state for baselines and the ROS sim node.

Plain values, no PyBullet: the sim node builds its sensor and visualisation
messages from an ``ArmSnapshot``, and a real-arm bridge can fill one from its sensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Contact:
    """One contact point between an arm link and a body link."""

    arm_link: int
    body_link: int
    position_on_body_m: tuple
    normal: tuple            # unit, from the body towards the arm (outward)
    distance_m: float        # negative: penetration
    normal_force_n: float


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
    force_vector_n: np.ndarray       # (3,) net force of the body on the tool
    contacts: tuple[Contact, ...]    # every arm-body contact point (any arm link)
    tool_link: int                   # the tool's link index in ``contacts``

    @property
    def force_n(self) -> float:
        """The net tool force's magnitude (what the observation and info carry)."""
        return float(np.linalg.norm(self.force_vector_n))


@dataclass(frozen=True)
class PathReference:
    """The current path point, for a force controller along the surface normal."""

    target_m: np.ndarray             # path target (touching point pushed in nominally)
    touch_m: np.ndarray              # tool centre when just touching the surface here
    normal: np.ndarray               # outward unit surface normal
    tangent: np.ndarray              # unit stroke direction (horizontal)
    progress: float                  # position along the stroke, 0..1
    action_scale_m: float            # largest correction per axis (offset mode: per unit action)
