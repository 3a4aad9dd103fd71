"""The massage room: floor, table, the prone body and the arm on its pedestal.

Collision filtering: only arm links and body links are tested against each other
(arm-floor, arm-table, body-table and so on are never needed: the body is fixed to
the table and the arm stands clear of it), which keeps each physics step cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pybullet as pb

from massage_td3_ros.env.anatomy import BodyGeometry, BodyShape, pelvis_offset_m
from massage_td3_ros.env.arm import Arm, ArmModel, load_arm
from massage_td3_ros.env.body import create_body, link_regions, set_mass, set_tissue
from massage_td3_ros.env.robot_description import arm_base_pose, nominal_body
from massage_td3_ros.env.tissue import Tissue

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
    body: BodyShape
    tissue: Tissue
    body_mass_kg: float
    regions: dict[int, str] = field(default_factory=dict)  # body link -> tissue region
    filters: dict[int, tuple[int, int]] = field(default_factory=dict)  # arm link -> group/mask
    body_filters: dict[int, tuple[int, int]] = field(default_factory=dict)
    shape_cache: dict = field(default_factory=dict)   # body build -> shape ids

    def place_body(self, origin_m) -> None:
        """Move the (fixed) body so its frame origin is at ``origin_m``."""
        self.body_origin_m = np.asarray(origin_m, dtype=float)
        pb.resetBasePositionAndOrientation(
            self.body_id, self.body_origin_m + pelvis_offset_m(self.body),
            (0, 0, 0, 1), physicsClientId=self.client)

    def set_person(self, body: BodyShape, mass_kg: float, tissue: Tissue) -> None:
        """Make the body this person's: rebuilt for another build, else only the
        changed mass and tissue set (same origin).

        Shapes are cached per build (PyBullet cannot free shapes still referenced),
        so callers should quantise the build to keep the cache small."""
        if body != self.body:
            pb.removeBody(self.body_id, physicsClientId=self.client)
            self.body_id, self.geometry = create_body(
                self.client, self.body_origin_m, body, mass_kg, self.shape_cache)
            self.body, self.regions = body, link_regions(body)
            self.body_mass_kg, self.tissue = mass_kg, None
        if mass_kg != self.body_mass_kg:
            set_mass(self.client, self.body_id, body, mass_kg)
            self.body_mass_kg = mass_kg
        if tissue != self.tissue:
            touching = set_tissue(self.client, self.body_id, body, tissue)
            self.body_filters = _filter_body(self.client, self.body_id, touching)
            self.tissue = tissue

    def region_of(self, body_link: int) -> str:
        return self.regions.get(body_link, "other")


def _filter_body(client: int, body_id: int, touching: dict[int, bool]) -> dict[int, tuple]:
    """Body links collide with the arm only; surfaces that take no contact with nothing."""
    out = {}
    for link, touches in touching.items():
        group, mask = (BODY_GROUP, ARM_GROUP) if touches else (0, 0)
        pb.setCollisionFilterGroupMask(body_id, link, group, mask, physicsClientId=client)
        out[link] = (group, mask)
    return out


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


def connect_world(config, gui: bool = False) -> int:
    """A PyBullet client with the massage world's physics (gravity, time step, solver),
    for the env and for anything that must behave as it does (the arm_sim driver)."""
    client = pb.connect(pb.GUI if gui else pb.DIRECT)
    pb.setGravity(0, 0, -9.81, physicsClientId=client)
    # Sorted overlapping pairs: the solver's constraint order (and so the result) does
    # not depend on which bodies were created or removed before.
    pb.setPhysicsEngineParameter(fixedTimeStep=1.0 / config.physics_hz,
                                 numSolverIterations=config.solver_iterations,
                                 deterministicOverlappingPairs=1, physicsClientId=client)
    return client


def build_scene(client: int, config, arm_model: ArmModel | None = None) -> Scene:
    """Build the whole scene for an EnvConfig (body at its nominal place and size), with
    the package's arm or ``arm_model``'s."""
    top = config.table_height_m
    origin = np.array([0.0, 0.0, top])
    body = nominal_body(config)
    shape_cache: dict = {}
    body_id, geometry = create_body(client, origin, body, config.body_mass_kg, shape_cache)

    _static_box(client, (2.0, 2.0, 0.01), (0.0, 0.0, -0.01), FLOOR_RGBA)  # floor
    length = geometry.length_m + 0.25
    _static_box(client, (length / 2, TABLE_HALF_WIDTH_M, top / 2),  # table
                (geometry.x_min_m - 0.05 + length / 2, 0.0, top / 2), TABLE_RGBA)
    (base_x, base_y, base_z), base_yaw = arm_base_pose(config)  # pedestal top
    _static_box(client, (0.15, 0.15, base_z / 2), (base_x, base_y, base_z / 2),  # pedestal
                (0.3, 0.3, 0.32, 1.0))
    arm = load_arm(client, (base_x, base_y, base_z), base_yaw, config.tool_radius_m,
                   config.tool_mass_kg, config.arm_position_gain, config.arm_velocity_gain,
                   config.arm_force_scale, arm_model)
    filters = _filter_all(client, arm.body_id, ARM_GROUP, BODY_GROUP)
    scene = Scene(client=client, arm=arm, body_id=body_id, geometry=geometry,
                  body_origin_m=origin, body=body, tissue=None, body_mass_kg=config.body_mass_kg,
                  regions=link_regions(body), filters=filters, shape_cache=shape_cache)
    scene.set_person(body, config.body_mass_kg, nominal_tissue(config))
    return scene


def nominal_tissue(config) -> Tissue:
    """The fixed person's tissue: one stiffness everywhere (the body of earlier versions)."""
    return Tissue(uniform_n_per_m=config.tissue_stiffness_n_per_m,
                  uniform_damping_n_s_per_m=config.tissue_damping_n_s_per_m)
