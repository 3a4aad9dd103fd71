"""The massage room: floor, table, the prone body and the arm on its pedestal.

Collision filtering: only arm links and body links are tested against each other
(arm-floor, arm-table, body-table and so on are never needed: the body is fixed to
the table and the arm stands clear of it), which keeps each physics step cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pybullet as pb

from massage_td3_ros.env.anatomy import BodyGeometry, pelvis_offset_m
from massage_td3_ros.env.arm import Arm, load_arm
from massage_td3_ros.env.body import create_body, set_tissue
from massage_td3_ros.env.robot_description import arm_base_pose, nominal_body_scale

ARM_GROUP, BODY_GROUP, STATIC_GROUP = 1, 2, 4
TABLE_HALF_WIDTH_M = 0.35
TABLE_RGBA = (0.55, 0.4, 0.3, 1.0)
FLOOR_RGBA = (0.8, 0.8, 0.78, 1.0)


@dataclass
class Scene:
    """The ids the env works with in one PyBullet client, and where the body sits."""

    client: int
    arm: Arm
    body_id: int
    geometry: BodyGeometry
    body_origin_m: np.ndarray          # body frame origin in the world
    body_scale: float
    filters: dict[int, tuple[int, int]] = field(default_factory=dict)  # arm link -> group/mask
    body_filters: dict[int, tuple[int, int]] = field(default_factory=dict)
    shape_cache: dict = field(default_factory=dict)   # body scale -> shape ids

    def place_body(self, origin_m) -> None:
        """Move the (fixed) body so its frame origin is at ``origin_m``."""
        self.body_origin_m = np.asarray(origin_m, dtype=float)
        pb.resetBasePositionAndOrientation(
            self.body_id, self.body_origin_m + pelvis_offset_m(self.body_scale),
            (0, 0, 0, 1), physicsClientId=self.client)

    def rebuild_body(self, scale: float, mass_kg: float, stiffness_n_per_m: float,
                     damping_n_s_per_m: float) -> None:
        """Replace the body with one of another size (same origin).

        Shapes are cached per scale (PyBullet cannot free shapes still referenced),
        so callers should quantise the scale to keep the cache small."""
        pb.removeBody(self.body_id, physicsClientId=self.client)
        self.body_scale = scale
        self.body_id, self.geometry = create_body(
            self.client, self.body_origin_m, scale, mass_kg, self.shape_cache)
        set_tissue(self.client, self.body_id, stiffness_n_per_m, damping_n_s_per_m)
        self.body_filters = _filter_all(self.client, self.body_id, BODY_GROUP, ARM_GROUP)


def _filter_all(client: int, body_id: int, group: int, mask: int) -> dict[int, tuple]:
    out = {}
    for link in range(-1, pb.getNumJoints(body_id, physicsClientId=client)):
        pb.setCollisionFilterGroupMask(body_id, link, group, mask, physicsClientId=client)
        out[link] = (group, mask)
    return out


def _static_box(client: int, half_extents, position, rgba) -> None:
    collision = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=half_extents,
                                        physicsClientId=client)
    visual = pb.createVisualShape(pb.GEOM_BOX, halfExtents=half_extents, rgbaColor=rgba,
                                  physicsClientId=client)
    body = pb.createMultiBody(0.0, collision, visual, basePosition=position,
                              physicsClientId=client)
    _filter_all(client, body, STATIC_GROUP, 0)


def build_scene(client: int, config) -> Scene:
    """Build the whole scene for an EnvConfig (body at its nominal place and size)."""
    top = config.table_height_m
    origin = np.array([0.0, 0.0, top])
    scale = nominal_body_scale(config)
    shape_cache: dict = {}
    body_id, geometry = create_body(client, origin, scale, config.body_mass_kg, shape_cache)
    set_tissue(client, body_id, config.tissue_stiffness_n_per_m,
               config.tissue_damping_n_s_per_m)
    body_filters = _filter_all(client, body_id, BODY_GROUP, ARM_GROUP)

    _static_box(client, (2.0, 2.0, 0.01), (0.0, 0.0, -0.01), FLOOR_RGBA)  # floor
    length = geometry.length_m + 0.25
    _static_box(client, (length / 2, TABLE_HALF_WIDTH_M, top / 2),  # table
                (geometry.x_min_m - 0.05 + length / 2, 0.0, top / 2), TABLE_RGBA)
    (base_x, base_y, base_z), base_yaw = arm_base_pose(config)  # pedestal top
    _static_box(client, (0.15, 0.15, base_z / 2), (base_x, base_y, base_z / 2),  # pedestal
                (0.3, 0.3, 0.32, 1.0))
    arm = load_arm(client, (base_x, base_y, base_z), base_yaw, config.tool_radius_m,
                   config.tool_mass_kg, config.arm_position_gain, config.arm_velocity_gain,
                   config.arm_force_scale)
    filters = _filter_all(client, arm.body_id, ARM_GROUP, BODY_GROUP)
    return Scene(client=client, arm=arm, body_id=body_id, geometry=geometry,
                 body_origin_m=origin, body_scale=scale, filters=filters,
                 body_filters=body_filters, shape_cache=shape_cache)
