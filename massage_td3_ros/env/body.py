"""The prone body as one PyBullet multibody, built from ``anatomy.part_shapes``.

The parts are joined by fixed joints, holding the prone pose; the base (pelvis) is
fixed to the table. Each part's collision and visual shape is one compound of its
primitives; segment masses are adult averages of the body mass. Every region's
stiffer core is a part of its own (invisible), so each surface has its own contact
stiffness (``set_tissue``).
"""

from __future__ import annotations

import numpy as np
import pybullet as pb

from massage_td3_ros.env.anatomy import (
    BodyGeometry,
    BodyShape,
    Part,
    Shape,
    body_geometry,
    link_indices,
    part_shapes,
)
from massage_td3_ros.env.tissue import LAYERING, Tissue

SKIN_RGBA = (0.87, 0.69, 0.57, 1.0)
CLOTH_RGBA = (0.25, 0.35, 0.55, 1.0)

# Segment mass fractions (adult averages, rounded).
MASS_FRACTION = {"pelvis": 0.142, "lumbar": 0.139, "thorax": 0.216, "shoulders": 0.0,
                 "neck": 0.012, "head": 0.069, "upper_arm": 0.028, "forearm": 0.016,
                 "hand": 0.006, "thigh": 0.10, "shank": 0.0465, "foot": 0.0145}


def _part_mass(name: str, body_mass_kg: float) -> float:
    key = name.rsplit("_", 1)[0] if name.endswith(("_left", "_right")) else name
    return max(body_mass_kg * MASS_FRACTION.get(key, 0.0), 0.1)


def body_parts(body: BodyShape) -> dict[str, Part]:
    """The parts of the multibody for a build: every part and every region's core."""
    return part_shapes(body, layers_m={r: layering.layer_m
                                       for r, layering in LAYERING.items()})


def _shape_args(shape: Shape, origin: np.ndarray) -> dict:
    """createCollisionShapeArray arguments for one primitive, relative to ``origin``."""
    center = np.asarray(shape.center) - origin
    along_x = pb.getQuaternionFromEuler((0.0, np.pi / 2, 0.0))
    along_y = pb.getQuaternionFromEuler((np.pi / 2, 0.0, 0.0))
    size = list(shape.size)
    if shape.kind == "sphere":
        return dict(shapeType=pb.GEOM_SPHERE, radius=size[0], pos=center, orn=(0, 0, 0, 1))
    if shape.kind == "box":
        return dict(shapeType=pb.GEOM_BOX, halfExtents=size, pos=center, orn=(0, 0, 0, 1))
    orn = along_x if shape.kind == "capsule_x" else along_y
    return dict(shapeType=pb.GEOM_CAPSULE, radius=size[0], length=size[1], pos=center,
                orn=orn)


def _compound(client: int, shapes: tuple[Shape, ...], origin: np.ndarray,
              rgba: tuple | None) -> tuple[int, int]:
    """One collision and one visual shape (-1 for ``rgba`` None) of a part's primitives."""
    args = [_shape_args(s, origin) for s in shapes]
    common = dict(shapeTypes=[a["shapeType"] for a in args],
                  radii=[a.get("radius", 0.0) for a in args],
                  halfExtents=[a.get("halfExtents", (0.0, 0.0, 0.0)) for a in args],
                  lengths=[a.get("length", 0.0) for a in args],
                  physicsClientId=client)
    collision = pb.createCollisionShapeArray(
        collisionFramePositions=[a["pos"] for a in args],
        collisionFrameOrientations=[a["orn"] for a in args], **common)
    if rgba is None:
        return collision, -1
    visual = pb.createVisualShapeArray(
        visualFramePositions=[a["pos"] for a in args],
        visualFrameOrientations=[a["orn"] for a in args],
        rgbaColors=[rgba] * len(args), **common)
    return collision, visual


def create_body(client: int, base_position_m, body: BodyShape, body_mass_kg: float,
                shape_cache: dict | None = None) -> tuple[int, BodyGeometry]:
    """Build the prone body of build ``body`` at ``base_position_m`` (the body origin
    in the world).

    Returns the body id (its links: ``anatomy.link_indices(body_parts(body))``) and the
    geometry. ``shape_cache`` (build -> shapes) lets rebuilds reuse shapes. Every
    part's frame sits at its first primitive's centre.
    """
    parts = body_parts(body)
    names = list(parts)
    frame = {n: np.asarray(parts[n].shapes[0].center) for n in names}
    index = link_indices(parts)  # pelvis is the base (-1)
    cache = shape_cache if shape_cache is not None else {}
    if body not in cache:
        cache[body] = {n: _compound(client, parts[n].shapes, frame[n], _colour(n, parts[n]))
                       for n in names}
    built = cache[body]
    links = names[1:]
    body_id = pb.createMultiBody(
        baseMass=0.0,  # fixed to the table
        baseCollisionShapeIndex=built["pelvis"][0],
        baseVisualShapeIndex=built["pelvis"][1],
        basePosition=np.asarray(base_position_m) + frame["pelvis"],
        linkMasses=[_part_mass(n, body_mass_kg) for n in links],
        linkCollisionShapeIndices=[built[n][0] for n in links],
        linkVisualShapeIndices=[built[n][1] for n in links],
        linkPositions=[frame[n] - frame[parts[n].parent] for n in links],
        linkOrientations=[(0, 0, 0, 1)] * len(links),
        linkInertialFramePositions=[(0, 0, 0)] * len(links),
        linkInertialFrameOrientations=[(0, 0, 0, 1)] * len(links),
        linkParentIndices=[index[parts[n].parent] + 1 for n in links],
        linkJointTypes=[pb.JOINT_FIXED] * len(links),
        linkJointAxis=[(0, 0, 1)] * len(links),
        physicsClientId=client)
    return body_id, body_geometry(body)


def _colour(name: str, part: Part) -> tuple | None:
    if part.core_of:
        return None          # inside the part it belongs to: nothing to see
    return CLOTH_RGBA if name == "pelvis" else SKIN_RGBA


def set_mass(client: int, body_id: int, body: BodyShape, body_mass_kg: float) -> None:
    """Distribute a body mass over the parts (the fixed base keeps mass 0)."""
    for name, link in link_indices(body_parts(body)).items():
        if link >= 0:
            pb.changeDynamics(body_id, link, mass=_part_mass(name, body_mass_kg),
                              physicsClientId=client)


def set_tissue(client: int, body_id: int, body: BodyShape, tissue: Tissue) -> dict[int, bool]:
    """Contact stiffness and damping of every surface of the body, per region.

    Returns link -> whether it takes contacts (the scene's collision filters).
    """
    parts = body_parts(body)
    touching = {}
    for name, link in link_indices(parts).items():
        part = parts[name]
        core = bool(part.core_of)
        stiffness = tissue.stiffness_n_per_m(part.region, core)
        pb.changeDynamics(body_id, link, contactStiffness=stiffness,
                          contactDamping=tissue.damping_n_s_per_m(stiffness, core),
                          lateralFriction=0.3, physicsClientId=client)
        touching[link] = tissue.touches(part.region, core)
    return touching


def link_regions(body: BodyShape) -> dict[int, str]:
    """Body link index -> tissue region (what the tool is pressing on)."""
    parts = body_parts(body)
    return {link: parts[name].region for name, link in link_indices(parts).items()}
