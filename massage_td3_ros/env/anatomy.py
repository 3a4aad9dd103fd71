"""The prone adult human's proportions and primitive shapes, as plain numbers (no PyBullet).

Body frame: origin on the table top under the middle of the back, x towards the
head, y across the body (-y is the person's right side, where the arm stands), z up.
Proportions are fractions of the standing height (1.75 m reference), so a size
scale changes every dimension together. The parts form a tree (pelvis -> lumbar ->
thorax -> shoulders -> arms / neck -> head, pelvis -> legs). The back is curved:
paired paraspinal capsules leave a shallow groove with the spine's ridge in it, the
shoulder blades bulge, and the lumbar region sits lower than the thorax. Every part
belongs to a tissue region (``tissue.REGIONS``); a region may get a stiffer core
under a soft outer layer, as separate parts, so that each is its own contact surface.

``body.py`` builds the PyBullet multibody from these shapes; ``robot_description``
places the arm from ``body_geometry`` without importing PyBullet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REFERENCE_HEIGHT_M = 1.75

# Landmarks along the body, as fractions of standing height measured from the soles,
# and the fraction at which the body origin sits (middle of the back).
HIP, T12, SHOULDER, KNEE, ANKLE = 0.53, 0.64, 0.818, 0.285, 0.039
ORIGIN = 0.675


@dataclass(frozen=True)
class Shape:
    """One primitive of a part, in the body frame [m]."""

    kind: str                 # "capsule_x", "capsule_y", "sphere", "box"
    center: tuple             # (x, y, z) [m]
    size: tuple               # capsule: (radius, length); sphere: (radius,); box: half extents


@dataclass(frozen=True)
class BodyShape:
    """The body's build: what varies from one person to the next.

    ``height_m`` scales every dimension together; ``width_scale`` the sideways
    places of the back's muscles, shoulder blades and arms (shoulder width);
    ``curvature`` the depth of the lumbar hollow (lordosis) relative to the reference
    person (0: a flat back, 1: the reference, 2: twice as deep).
    """

    height_m: float = REFERENCE_HEIGHT_M
    width_scale: float = 1.0
    curvature: float = 1.0

    @property
    def scale(self) -> float:
        return self.height_m / REFERENCE_HEIGHT_M


@dataclass(frozen=True)
class Part:
    """One link of the body: its parent part, tissue region and primitives."""

    parent: str
    region: str
    shapes: tuple[Shape, ...]
    core_of: str = ""         # a stiffer inner layer of that part (same region)


@dataclass(frozen=True)
class BodyGeometry:
    """Where the massageable back is, in the body frame (scaled) [m]."""

    back_x_range_m: tuple     # along the spine: (lower back, upper back)
    back_half_width_m: float  # usable half-width of the back
    length_m: float           # extent along x (for the table)
    x_min_m: float


LUMBAR_HOLLOW_M = 0.015   # lumbar back surface drop per unit of curvature
RIDGE_RADIUS_M = 0.012    # the spinous processes as a rod in the groove between muscles
THORAX_START_M = 0.07    # thoracic capsules' straight part begins this far above T12
RIDGE_HEIGHT = 0.3        # ridge top as a fraction of the groove's depth above its bottom


def _x(fraction: float) -> float:
    return (fraction - ORIGIN) * REFERENCE_HEIGHT_M


def _scaled(shape: Shape, s: float, w: float) -> Shape:
    """``shape`` with every length times ``s`` and sideways places times ``w``."""
    x, y, z = shape.center
    size = tuple(v * s for v in shape.size)
    if shape.kind == "capsule_y":
        size = (size[0], size[1] * w)
    return Shape(shape.kind, (x * s, y * s * w, z * s), size)


def _ridge(x_lo: float, x_hi: float, muscle_y: float, muscle_z: float,
           muscle_r: float) -> Shape:
    """The spine between two paraspinal capsules (axes at +/-muscle_y, muscle_z)."""
    bottom = muscle_z + np.sqrt(max(muscle_r ** 2 - muscle_y ** 2, 0.0))  # groove bottom
    top = bottom + RIDGE_HEIGHT * (muscle_z + muscle_r - bottom)
    return Shape("capsule_x", ((x_lo + x_hi) / 2, 0.0, top - RIDGE_RADIUS_M),
                 (RIDGE_RADIUS_M, x_hi - x_lo))


def core_shape(shape: Shape, layer_m: float) -> Shape:
    """The primitive shrunk by a soft layer of ``layer_m`` (the stiffer tissue under it)."""
    if shape.kind == "box":
        return Shape("box", shape.center, tuple(max(v - layer_m, 1e-3) for v in shape.size))
    return Shape(shape.kind, shape.center,
                 (max(shape.size[0] - layer_m, 1e-3), *shape.size[1:]))


def part_shapes(body: BodyShape | None = None,
                layers_m: dict[str, float] | None = None) -> dict[str, Part]:
    """Every part of a person of build ``body`` (default: the reference person).

    ``layers_m`` (region -> soft-layer thickness) adds, for each region named, a core
    part under every part of that region; without it the body has no cores.
    """
    body = body or BodyShape()
    s, w = body.scale, body.width_scale
    hip, t12, sh, knee, ankle = _x(HIP), _x(T12), _x(SHOULDER), _x(KNEE), _x(ANKLE)
    lumbar_z = 0.092 - LUMBAR_HOLLOW_M * (body.curvature - 1.0)
    raw: dict[str, tuple[str, str, list[Shape]]] = {
        "pelvis": ("", "other", [Shape("sphere", (hip + 0.02, k * 0.075, 0.108), (0.108,))
                                 for k in (-1, 1)]),
        "lumbar": ("pelvis", "lumbar_muscle", [
            Shape("capsule_x", ((hip + 0.06 + t12) / 2, k * 0.05, lumbar_z),
                  (0.092, t12 - hip - 0.06)) for k in (-1, 1)]),
        # The thorax's capsules start above T12 so that their rounded ends leave the
        # lumbar muscles below T12 to the lumbar capsules.
        "thorax": ("lumbar", "thoracic_muscle", [
            Shape("capsule_x", ((t12 + THORAX_START_M + sh - 0.05) / 2, k * 0.055, 0.105),
                  (0.105, sh - 0.05 - t12 - THORAX_START_M)) for k in (-1, 1)]),
        "scapula_left": ("thorax", "scapula", [Shape("sphere", (sh - 0.11, -0.105, 0.146),
                                                     (0.07,))]),
        "scapula_right": ("thorax", "scapula", [Shape("sphere", (sh - 0.11, 0.105, 0.146),
                                                      (0.07,))]),
        "shoulders": ("thorax", "other", [Shape("capsule_y", (sh - 0.03, 0.0, 0.08),
                                                (0.07, 0.34))]),
        "neck": ("shoulders", "other", [Shape("capsule_x", (sh + 0.04, 0.0, 0.10),
                                              (0.05, 0.12))]),
        "head": ("neck", "other", [Shape("sphere", (sh + 0.2, 0.0, 0.10), (0.10,))]),
    }
    for side, k in (("left", -1), ("right", 1)):
        raw[f"upper_arm_{side}"] = ("shoulders", "other", [Shape(
            "capsule_x", (sh - 0.17, k * 0.225, 0.045), (0.045, 0.26))])
        raw[f"forearm_{side}"] = (f"upper_arm_{side}", "other", [Shape(
            "capsule_x", (sh - 0.44, k * 0.235, 0.036), (0.036, 0.24))])
        raw[f"hand_{side}"] = (f"forearm_{side}", "other", [Shape(
            "box", (sh - 0.66, k * 0.235, 0.016), (0.08, 0.04, 0.016))])
        raw[f"thigh_{side}"] = ("pelvis", "other", [Shape(
            "capsule_x", ((hip + knee) / 2, k * 0.09, 0.08), (0.08, hip - knee))])
        raw[f"shank_{side}"] = (f"thigh_{side}", "other", [Shape(
            "capsule_x", ((knee + ankle) / 2, k * 0.09, 0.055), (0.055, knee - ankle))])
        raw[f"foot_{side}"] = (f"shank_{side}", "other", [Shape(
            "box", (ankle - 0.04, k * 0.09, 0.09), (0.035, 0.045, 0.09))])
    parts = {name: Part(parent, region, tuple(_scaled(x, s, w) for x in shapes))
             for name, (parent, region, shapes) in raw.items()}
    # The spine: a rod in the groove between the (scaled) paraspinal capsules.
    lumbar, thorax = parts["lumbar"].shapes[1], parts["thorax"].shapes[1]
    parts["spine"] = Part("lumbar", "spine", (
        _ridge(s * (hip + 0.03), s * t12, lumbar.center[1], lumbar.center[2], lumbar.size[0]),
        _ridge(s * t12, s * (sh - 0.05), thorax.center[1], thorax.center[2], thorax.size[0])))
    for name, part in list(parts.items()):
        layer = (layers_m or {}).get(part.region)
        if layer:
            parts[f"{name}_core"] = Part(name, part.region,
                                         tuple(core_shape(x, layer) for x in part.shapes),
                                         core_of=name)
    return _depth_first(parts)


def _depth_first(parts: dict[str, Part]) -> dict[str, Part]:
    """The parts in depth-first order from the pelvis, children in the order given:
    the order in which PyBullet numbers the links of a multibody."""
    children: dict[str, list[str]] = {name: [] for name in parts}
    for name, part in parts.items():
        if part.parent:
            children[part.parent].append(name)
    order: list[str] = []
    stack = ["pelvis"]
    while stack:
        name = stack.pop()
        order.append(name)
        stack.extend(reversed(children[name]))
    return {name: parts[name] for name in order}


def body_geometry(body: BodyShape) -> BodyGeometry:
    """The back region and overall extent of a person of build ``body``."""
    scale = body.scale
    return BodyGeometry(back_x_range_m=(scale * (_x(HIP) + 0.12), scale * (_x(SHOULDER) - 0.08)),
                        back_half_width_m=scale * body.width_scale * 0.14,
                        length_m=scale * REFERENCE_HEIGHT_M * 1.02,
                        x_min_m=scale * (_x(ANKLE) - 0.09))


def pelvis_offset_m(body: BodyShape) -> np.ndarray:
    """Body-frame position of the base (pelvis) frame: world base = origin + this."""
    return np.asarray(part_shapes(body)["pelvis"].shapes[0].center)


def link_indices(parts: dict[str, Part]) -> dict[str, int]:
    """Part name -> link index (the pelvis is the base, -1)."""
    return {n: i - 1 for i, n in enumerate(parts)}
