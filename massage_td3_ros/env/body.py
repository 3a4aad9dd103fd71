"""The prone body as one PyBullet multibody, built from ``anatomy.part_shapes``.

The parts are joined by fixed joints, holding the prone pose; the base (pelvis) is
fixed to the table. Each part's collision and visual shape is one compound of its
primitives; segment masses are adult averages of the body mass.
"""

from __future__ import annotations

import numpy as np
import pybullet as pb

from massage_td3_ros.env.anatomy import (
    BodyGeometry,
    Shape,
    body_geometry,
    link_indices,
    part_shapes,
)

SKIN_RGBA = (0.87, 0.69, 0.57, 1.0)
CLOTH_RGBA = (0.25, 0.35, 0.55, 1.0)

# Segment mass fractions (adult averages, rounded).
MASS_FRACTION = {"pelvis": 0.142, "lumbar": 0.139, "thorax": 0.216, "shoulders": 0.0,
                 "neck": 0.012, "head": 0.069, "upper_arm": 0.028, "forearm": 0.016,
                 "hand": 0.006, "thigh": 0.10, "shank": 0.0465, "foot": 0.0145}


def _part_mass(name: str, body_mass_kg: float) -> float:
    key = name.rsplit("_", 1)[0] if name.endswith(("_left", "_right")) else name
    return max(body_mass_kg * MASS_FRACTION[key], 0.1)


def _shape_args(shape: Shape, scale: float, origin: np.ndarray) -> dict:
    """createCollisionShapeArray arguments for one primitive, relative to ``origin``."""
    center = scale * np.asarray(shape.center) - origin
    along_x = pb.getQuaternionFromEuler((0.0, np.pi / 2, 0.0))
    along_y = pb.getQuaternionFromEuler((np.pi / 2, 0.0, 0.0))
    size = [scale * v for v in shape.size]
    if shape.kind == "sphere":
        return dict(shapeType=pb.GEOM_SPHERE, radius=size[0], pos=center, orn=(0, 0, 0, 1))
    if shape.kind == "box":
        return dict(shapeType=pb.GEOM_BOX, halfExtents=size, pos=center, orn=(0, 0, 0, 1))
    orn = along_x if shape.kind == "capsule_x" else along_y
    return dict(shapeType=pb.GEOM_CAPSULE, radius=size[0], length=size[1], pos=center,
                orn=orn)


def _compound(client: int, shapes: list[Shape], scale: float, origin: np.ndarray,
              rgba: tuple) -> tuple[int, int]:
    """One collision and one visual shape holding all primitives of a part."""
    args = [_shape_args(s, scale, origin) for s in shapes]
    common = dict(shapeTypes=[a["shapeType"] for a in args],
                  radii=[a.get("radius", 0.0) for a in args],
                  halfExtents=[a.get("halfExtents", (0.0, 0.0, 0.0)) for a in args],
                  lengths=[a.get("length", 0.0) for a in args],
                  physicsClientId=client)
    collision = pb.createCollisionShapeArray(
        collisionFramePositions=[a["pos"] for a in args],
        collisionFrameOrientations=[a["orn"] for a in args], **common)
    visual = pb.createVisualShapeArray(
        visualFramePositions=[a["pos"] for a in args],
        visualFrameOrientations=[a["orn"] for a in args],
        rgbaColors=[rgba] * len(args), **common)
    return collision, visual


def create_body(client: int, base_position_m, scale: float, body_mass_kg: float,
                shape_cache: dict | None = None) -> tuple[int, BodyGeometry]:
    """Build the prone body at ``base_position_m`` (the body origin in the world).

    Returns the body id (its links: ``anatomy.link_indices``) and the scaled
    geometry. ``shape_cache`` (scale -> shapes) lets rebuilds reuse
    shapes. Every part's frame sits at its first primitive's centre.
    """
    parts = part_shapes()
    names = list(parts)
    frame = {n: scale * np.asarray(parts[n][1][0].center) for n in names}
    index = link_indices()  # pelvis is the base (-1)
    cache = shape_cache if shape_cache is not None else {}
    if scale not in cache:
        cache[scale] = {n: _compound(client, parts[n][1], scale, frame[n],
                                     CLOTH_RGBA if n == "pelvis" else SKIN_RGBA)
                        for n in names}
    built = cache[scale]
    links = names[1:]
    body_id = pb.createMultiBody(
        baseMass=0.0,  # fixed to the table
        baseCollisionShapeIndex=built["pelvis"][0],
        baseVisualShapeIndex=built["pelvis"][1],
        basePosition=np.asarray(base_position_m) + frame["pelvis"],
        linkMasses=[_part_mass(n, body_mass_kg) for n in links],
        linkCollisionShapeIndices=[built[n][0] for n in links],
        linkVisualShapeIndices=[built[n][1] for n in links],
        linkPositions=[frame[n] - frame[parts[n][0]] for n in links],
        linkOrientations=[(0, 0, 0, 1)] * len(links),
        linkInertialFramePositions=[(0, 0, 0)] * len(links),
        linkInertialFrameOrientations=[(0, 0, 0, 1)] * len(links),
        linkParentIndices=[index[parts[n][0]] + 1 for n in links],
        linkJointTypes=[pb.JOINT_FIXED] * len(links),
        linkJointAxis=[(0, 0, 1)] * len(links),
        physicsClientId=client)
    return body_id, body_geometry(scale)


def set_mass(client: int, body_id: int, body_mass_kg: float) -> None:
    """Distribute a body mass over the parts (the fixed base keeps mass 0)."""
    for name, link in link_indices().items():
        if link >= 0:
            pb.changeDynamics(body_id, link, mass=_part_mass(name, body_mass_kg),
                              physicsClientId=client)


def set_tissue(client: int, body_id: int, stiffness_n_per_m: float,
               damping_n_s_per_m: float) -> None:
    """Soft-tissue contact on every part of the body."""
    for link in range(-1, pb.getNumJoints(body_id, physicsClientId=client)):
        pb.changeDynamics(body_id, link, contactStiffness=stiffness_n_per_m,
                          contactDamping=damping_n_s_per_m, lateralFriction=0.3,
                          physicsClientId=client)
