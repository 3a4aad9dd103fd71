"""The prone adult human's proportions and primitive shapes, as plain numbers (no PyBullet).

Body frame: origin on the table top under the middle of the back, x towards the
head, y across the body (-y is the person's right side, where the arm stands), z up.
Proportions are fractions of the standing height (1.75 m reference), so a size
scale changes every dimension together. The parts form a tree (pelvis -> lumbar ->
thorax -> shoulders -> arms / neck -> head, pelvis -> legs). The back is curved:
paired paraspinal capsules leave a shallow groove over the spine, the shoulder
blades bulge, and the lumbar region sits lower than the thorax.

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
    """One primitive of a part, in the body frame at the reference height."""

    kind: str                 # "capsule_x", "capsule_y", "sphere", "box"
    center: tuple             # (x, y, z) [m]
    size: tuple               # capsule: (radius, length); sphere: (radius,); box: half extents


@dataclass(frozen=True)
class BodyGeometry:
    """Where the massageable back is, in the body frame (scaled) [m]."""

    back_x_range_m: tuple     # along the spine: (lower back, upper back)
    back_half_width_m: float  # usable half-width of the back
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
                        back_half_width_m=scale * 0.14,
                        length_m=scale * REFERENCE_HEIGHT_M * 1.02,
                        x_min_m=scale * (_x(ANKLE) - 0.09))


def pelvis_offset_m(scale: float) -> np.ndarray:
    """Body-frame position of the base (pelvis) frame: world base = origin + this."""
    return scale * np.asarray(part_shapes()["pelvis"][1][0].center)


def link_indices() -> dict[str, int]:
    """Part name -> link index (the pelvis is the base, -1)."""
    return {n: i - 1 for i, n in enumerate(part_shapes())}
