"""The observation vector: layout, scaling and assembly from plain numpy values.

No PyBullet here, so a real-arm bridge can build the same vector from its own
sensors. Every entry is divided by a stated constant so it is of order 1; the
whole vector is finally clipped to +/- OBS_CLIP (a guard, not a normalisation).
"""

from __future__ import annotations

import numpy as np

N_JOINTS = 7
PREVIEW_POINTS = 3
OBS_CLIP = 5.0

# Scales (the physical value divided by these is the observation entry).
JOINT_POS_SCALE_RAD = np.pi
JOINT_VEL_SCALE_RAD_S = 2.0
POSITION_SCALE_M = 0.5          # tool position relative to the body origin
FORCE_SCALE_N = 50.0
FORCE_ERROR_SCALE_N = 5.0       # fine resolution near the target (clipped at +/- 25 N)
CORRECTION_SCALE_M = 0.03       # the default largest correction
NEAR_SCALE_M = 0.05             # contact point, signed distance, path target
PREVIEW_SCALE_M = 0.1           # preview points relative to the tool

OBS_LAYOUT: tuple[tuple[str, int], ...] = (
    ("joint_pos", N_JOINTS),          # rad / pi
    ("joint_vel", N_JOINTS),          # rad/s / 2
    ("tool_pos", 3),                  # (tool centre - body origin) m / 0.5
    ("tool_quat", 4),                 # x, y, z, w with w >= 0
    ("force", 1),                     # net normal force N / 50
    ("contact_point", 3),             # (nearest body point - tool centre) m / 0.05
    ("contact_normal", 3),            # unit normal of the body surface there
    ("signed_distance", 1),           # tool surface to body m / 0.05 (< 0 pressing in)
    ("wrong_link", 1),                # 1 if another arm link touches the body
    ("path_target", 3),               # (path point - tool centre) m / 0.05
    ("path_normal", 3),               # unit surface normal at the path point
    ("preview", 3 * PREVIEW_POINTS),  # (next path points - tool centre) m / 0.1
    ("target_force", 1),              # N / 50
    ("target_preview", 3),            # (target 5, 10, 15 steps ahead - target now) N / 5
    ("force_error", 1),               # (force - target force) N / 5
    ("correction", 3),                # current correction of the tool target m / 0.03
    ("last_action", 3),               # previous action, in [-1, 1]
)
OBS_DIM = sum(size for _, size in OBS_LAYOUT)

# The closed range every entry of a segment lies in: +/- OBS_CLIP (the final clip),
# tighter where the quantity itself is bounded (unit vectors and quaternions, flags,
# non-negative forces, actions). A consumer (the ROS agent) rejects an observation
# with an entry outside its segment's range.
OBS_BOUNDS: dict[str, tuple[float, float]] = {
    name: (-OBS_CLIP, OBS_CLIP) for name, _ in OBS_LAYOUT}
OBS_BOUNDS.update({
    "tool_quat": (-1.0, 1.0),
    "force": (0.0, OBS_CLIP),
    "contact_normal": (-1.0, 1.0),
    "wrong_link": (0.0, 1.0),
    "path_normal": (-1.0, 1.0),
    "target_force": (0.0, OBS_CLIP),
    "last_action": (-1.0, 1.0),
})


def observation_labels() -> list[str]:
    """One label per observation entry, e.g. ``joint_pos[0]``, ``force``."""
    labels = []
    for name, size in OBS_LAYOUT:
        labels.extend([name] if size == 1 else [f"{name}[{i}]" for i in range(size)])
    return labels


def observation_slices() -> dict[str, slice]:
    """Where each named segment sits in the vector."""
    out, start = {}, 0
    for name, size in OBS_LAYOUT:
        out[name] = slice(start, start + size)
        start += size
    return out


def build_observation(*, joint_pos_rad, joint_vel_rad_s, tool_pos_m, tool_quat_xyzw,
                      force_n: float, contact_point_m, contact_normal,
                      signed_distance_m: float, wrong_link: bool, path_target_m,
                      path_normal, preview_points_m, target_force_n: float,
                      target_preview_n, correction_m, last_action, origin_m) -> np.ndarray:
    """Assemble the float32 observation from world-frame values in SI units.

    ``contact_point_m`` and ``contact_normal`` may be None (nothing near): zeros.
    ``preview_points_m`` is (PREVIEW_POINTS, 3); ``target_preview_n`` the target force
    at the pressure.PREVIEW_STEPS ahead; ``origin_m`` is the body origin.
    """
    tool = np.asarray(tool_pos_m, dtype=np.float64)
    quat = np.asarray(tool_quat_xyzw, dtype=np.float64)
    if quat[3] < 0.0:  # q and -q are the same rotation: keep one
        quat = -quat
    if contact_point_m is None:
        near, normal = np.zeros(3), np.zeros(3)
    else:
        near = (np.asarray(contact_point_m) - tool) / NEAR_SCALE_M
        normal = np.asarray(contact_normal, dtype=np.float64)
    preview = np.asarray(preview_points_m, dtype=np.float64).reshape(PREVIEW_POINTS, 3)
    parts = (
        np.asarray(joint_pos_rad, dtype=np.float64) / JOINT_POS_SCALE_RAD,
        np.asarray(joint_vel_rad_s, dtype=np.float64) / JOINT_VEL_SCALE_RAD_S,
        (tool - np.asarray(origin_m)) / POSITION_SCALE_M,
        quat,
        [force_n / FORCE_SCALE_N],
        near,
        normal,
        [signed_distance_m / NEAR_SCALE_M],
        [1.0 if wrong_link else 0.0],
        (np.asarray(path_target_m) - tool) / NEAR_SCALE_M,
        np.asarray(path_normal, dtype=np.float64),
        ((preview - tool) / PREVIEW_SCALE_M).ravel(),
        [target_force_n / FORCE_SCALE_N],
        (np.asarray(target_preview_n, dtype=np.float64) - target_force_n) / FORCE_ERROR_SCALE_N,
        [(force_n - target_force_n) / FORCE_ERROR_SCALE_N],
        np.asarray(correction_m, dtype=np.float64) / CORRECTION_SCALE_M,
        np.asarray(last_action, dtype=np.float64),
    )
    obs = np.concatenate([np.ravel(p) for p in parts])
    if obs.shape != (OBS_DIM,):
        raise ValueError(f"build_observation: got {obs.shape[0]} entries, layout has "
                         f"{OBS_DIM} (check the array sizes against OBS_LAYOUT)")
    return np.clip(obs, -OBS_CLIP, OBS_CLIP).astype(np.float32)
