"""A prone adult human built from capsules, spheres and boxes (our own geometry).

Body frame: origin on the table top under the middle of the back, x towards the
head, y across the body (-y is the person's right side, where the arm stands), z up.
Proportions are fractions of the standing height (1.75 m reference), so a size
scale changes every dimension together. The parts form a tree of fixed joints
(pelvis -> lumbar -> thorax -> shoulders -> arms / neck -> head, pelvis -> legs),
holding the prone pose; the base is fixed to the table. The back is curved:
paired paraspinal capsules leave a shallow groove over the spine, the shoulder
blades bulge, and the lumbar region sits lower than the thorax.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as pb

REFERENCE_HEIGHT_M = 1.75
SKIN_RGBA = (0.87, 0.69, 0.57, 1.0)
CLOTH_RGBA = (0.25, 0.35, 0.55, 1.0)

# Landmarks along the body, as fractions of standing height measured from the soles,
# and the fraction at which the body origin sits (middle of the back).
HIP, T12, SHOULDER, KNEE, ANKLE = 0.53, 0.64, 0.818, 0.285, 0.039
ORIGIN = 0.675

# Segment mass fractions (adult averages, rounded).
MASS_FRACTION = {"pelvis": 0.142, "lumbar": 0.139, "thorax": 0.216, "shoulders": 0.0,
                 "neck": 0.012, "head": 0.069, "upper_arm": 0.028, "forearm": 0.016,
                 "hand": 0.006, "thigh": 0.10, "shank": 0.0465, "foot": 0.0145}


@dataclass(frozen=True)
class Shape:
    """One primitive of a part, in the body frame at the reference height."""

    kind: str                 # "capsule_x", "capsule_y", "sphere", "box"
    center: tuple             # (x, y, z) [m]
    size: tuple               # capsule: (radius, length); sphere: (radius,); box: half extents


@dataclass(frozen=True)
class BodyGeometry:
    """Where the massageable back is, in the body frame (scaled) [m]."""

    back_x_range_m: tuple     # along the spine: (lower back, upper back)
    back_half_width_m: float  # usable half-width of the back
    back_top_z_m: float       # highest point of the back above the table
    length_m: float           # extent along x (for the table)
    x_min_m: float


def _x(fraction: float) -> float:
    return (fraction - ORIGIN) * REFERENCE_HEIGHT_M


def part_shapes() -> dict[str, tuple[str, list[Shape]]]:
    """Every part (name -> (parent, shapes)) at the reference height."""
    hip, t12, sh, knee, ankle = _x(HIP), _x(T12), _x(SHOULDER), _x(KNEE), _x(ANKLE)
    parts: dict[str, tuple[str, list[Shape]]] = {
        "pelvis": ("", [Shape("sphere", (hip + 0.02, s * 0.075, 0.108), (0.108,))
                        for s in (-1, 1)]),
        "lumbar": ("pelvis", [Shape("capsule_x", ((hip + 0.06 + t12) / 2, s * 0.05, 0.092),
                                    (0.092, t12 - hip - 0.06)) for s in (-1, 1)]),
        "thorax": ("lumbar", [Shape("capsule_x", ((t12 + sh - 0.05) / 2, s * 0.055, 0.105),
                                    (0.105, sh - 0.05 - t12)) for s in (-1, 1)]
                   + [Shape("sphere", (sh - 0.11, s * 0.105, 0.146), (0.07,))
                      for s in (-1, 1)]),
        "shoulders": ("thorax", [Shape("capsule_y", (sh - 0.03, 0.0, 0.08), (0.07, 0.34))]),
        "neck": ("shoulders", [Shape("capsule_x", (sh + 0.04, 0.0, 0.10), (0.05, 0.12))]),
        "head": ("neck", [Shape("sphere", (sh + 0.2, 0.0, 0.10), (0.10,))]),
    }
    for side, s in (("left", -1), ("right", 1)):
        parts[f"upper_arm_{side}"] = ("shoulders", [Shape(
            "capsule_x", (sh - 0.17, s * 0.225, 0.045), (0.045, 0.26))])
        parts[f"forearm_{side}"] = (f"upper_arm_{side}", [Shape(
            "capsule_x", (sh - 0.44, s * 0.235, 0.036), (0.036, 0.24))])
        parts[f"hand_{side}"] = (f"forearm_{side}", [Shape(
            "box", (sh - 0.66, s * 0.235, 0.016), (0.08, 0.04, 0.016))])
        parts[f"thigh_{side}"] = ("pelvis", [Shape(
            "capsule_x", ((hip + knee) / 2, s * 0.09, 0.08), (0.08, hip - knee))])
        parts[f"shank_{side}"] = (f"thigh_{side}", [Shape(
            "capsule_x", ((knee + ankle) / 2, s * 0.09, 0.055), (0.055, knee - ankle))])
        parts[f"foot_{side}"] = (f"shank_{side}", [Shape(
            "box", (ankle - 0.04, s * 0.09, 0.09), (0.035, 0.045, 0.09))])
    return parts


def body_geometry(scale: float) -> BodyGeometry:
    """The back region and overall extent for a size scale."""
    return BodyGeometry(back_x_range_m=(scale * (_x(HIP) + 0.12), scale * (_x(SHOULDER) - 0.08)),
                        back_half_width_m=scale * 0.14, back_top_z_m=scale * 0.216,
                        length_m=scale * REFERENCE_HEIGHT_M * 1.02,
                        x_min_m=scale * (_x(ANKLE) - 0.09))


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
                shape_cache: dict | None = None) -> tuple[int, dict[str, int], BodyGeometry]:
    """Build the prone body at ``base_position_m`` (the body origin in the world).

    Returns the body id, link name -> link index (-1 for the pelvis base) and the
    scaled geometry. ``shape_cache`` (scale -> shapes) lets rebuilds reuse
    shapes. Every part's frame sits at its first primitive's centre.
    """
    parts = part_shapes()
    names = list(parts)
    frame = {n: scale * np.asarray(parts[n][1][0].center) for n in names}
    index = {n: i - 1 for i, n in enumerate(names)}  # pelvis is the base (-1)
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
    return body_id, index, body_geometry(scale)


def pelvis_offset_m(scale: float) -> np.ndarray:
    """Body-frame position of the base (pelvis) frame: world base = origin + this."""
    return scale * np.asarray(part_shapes()["pelvis"][1][0].center)


def set_mass(client: int, body_id: int, body_mass_kg: float) -> None:
    """Distribute a body mass over the parts (the fixed base keeps mass 0)."""
    for name, link in link_indices().items():
        if link >= 0:
            pb.changeDynamics(body_id, link, mass=_part_mass(name, body_mass_kg),
                              physicsClientId=client)


def link_indices() -> dict[str, int]:
    """Part name -> link index (the pelvis is the base, -1)."""
    return {n: i - 1 for i, n in enumerate(part_shapes())}


def set_tissue(client: int, body_id: int, stiffness_n_per_m: float,
               damping_n_s_per_m: float) -> None:
    """Soft-tissue contact on every part of the body."""
    for link in range(-1, pb.getNumJoints(body_id, physicsClientId=client)):
        pb.changeDynamics(body_id, link, contactStiffness=stiffness_n_per_m,
                          contactDamping=damping_n_s_per_m, lateralFriction=0.3,
                          physicsClientId=client)
