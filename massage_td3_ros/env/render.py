"""Off-screen frames with PyBullet's TinyRenderer (no display needed)."""

from __future__ import annotations

import numpy as np
import pybullet as pb


def render_rgb(client: int, scene, width: int, height: int) -> np.ndarray:
    """An (height, width, 3) uint8 frame looking at the back from the arm's side."""
    origin = scene.body_origin_m
    eye = origin + np.array([0.75, -1.2, 0.75])
    look = origin + np.array([0.0, -0.1, 0.15])
    view = pb.computeViewMatrix(eye.tolist(), look.tolist(), (0, 0, 1))
    projection = pb.computeProjectionMatrixFOV(45.0, width / height, 0.05, 10.0)
    _, _, rgba, _, _ = pb.getCameraImage(width, height, view, projection,
                                         renderer=pb.ER_TINY_RENDERER,
                                         physicsClientId=client)
    return np.reshape(np.asarray(rgba, dtype=np.uint8), (height, width, 4))[:, :, :3].copy()
