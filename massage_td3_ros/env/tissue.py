"""Soft tissue by body region: how hard each part of the back pushes back.

Pure numbers (no PyBullet). Each region has a soft outer layer and, under it, a
stiffer core (muscle over bone, skin and fat over muscle): pressing through the outer
layer reaches the core and the force grows faster than linearly with depth. PyBullet's
contact is a linear spring-damper per contact surface, so the layers are separate
surfaces (``anatomy.part_shapes(layers_m=...)``) whose forces add.

Nominal values: over the spine's bony ridge and the shoulder blades the tissue is
thin and stiff; the lumbar and thoracic paraspinal muscles are soft with a deep
layer. They are of the order reported for indentation of the back by a round probe
(a few N/mm, the muscle softer than over bone); a per-person scale (``tissue_scale``)
spreads them over people.
"""

from __future__ import annotations

from dataclasses import dataclass

REGIONS = ("lumbar_muscle", "thoracic_muscle", "spine", "scapula", "other")
NO_REGION = -1.0   # the tissue_region reading when the tool touches nothing
DAMPING_S = 0.01   # contact damping = stiffness x this (the reference: 2000 N/m, 20 N s/m)
# (the cores' is a setting, env.tissue_core_damping_s: docs/env.md, "Contact damping")


@dataclass(frozen=True)
class Layering:
    """A region's outer layer, its thickness and the core under it."""

    outer_n_per_m: float
    layer_m: float
    core_n_per_m: float


# Per region at tissue_scale 1 (stiffness in N/m: 1000 N/m = 1 N/mm).
LAYERING: dict[str, Layering] = {
    "lumbar_muscle": Layering(outer_n_per_m=1500.0, layer_m=0.014, core_n_per_m=4500.0),
    "thoracic_muscle": Layering(outer_n_per_m=2000.0, layer_m=0.012, core_n_per_m=5000.0),
    "spine": Layering(outer_n_per_m=3000.0, layer_m=0.005, core_n_per_m=12000.0),
    "scapula": Layering(outer_n_per_m=2500.0, layer_m=0.006, core_n_per_m=10000.0),
}
OTHER_N_PER_M = 2000.0  # the rest of the body: one layer


@dataclass(frozen=True)
class Tissue:
    """The contact stiffness of every surface of one person's body.

    ``uniform_n_per_m`` > 0: the nominal person, one stiffness everywhere and no cores
    (the spine's ridge and the cores then take no contacts).
    """

    scale: float = 1.0
    uniform_n_per_m: float = 0.0
    uniform_damping_n_s_per_m: float = 20.0
    core_damping_s: float = DAMPING_S   # a core's damping per unit of its stiffness

    @property
    def layered(self) -> bool:
        return self.uniform_n_per_m <= 0.0

    def layers_m(self) -> dict[str, float]:
        """Region -> outer-layer thickness, for the body's core parts."""
        return {region: layering.layer_m for region, layering in LAYERING.items()}

    def stiffness_n_per_m(self, region: str, core: bool) -> float:
        """Contact stiffness of a region's outer surface or core."""
        if not self.layered:
            return self.uniform_n_per_m
        if region not in LAYERING:
            return self.scale * OTHER_N_PER_M
        layering = LAYERING[region]
        return self.scale * (layering.core_n_per_m if core else layering.outer_n_per_m)

    def damping_n_s_per_m(self, stiffness_n_per_m: float, core: bool = False) -> float:
        """Contact damping of an outer surface or core of that stiffness."""
        if not self.layered:
            return self.uniform_damping_n_s_per_m
        return (self.core_damping_s if core else DAMPING_S) * stiffness_n_per_m

    def touches(self, region: str, core: bool) -> bool:
        """Whether the surface takes contacts at all (not the ridge or cores of the
        uniform nominal body, which is the body of earlier versions)."""
        return self.layered or not (core or region == "spine")


def max_outer_stiffness_n_per_m() -> float:
    """The stiffest outer surface at tissue_scale 1 (what a zero action presses into)."""
    return max([OTHER_N_PER_M] + [layering.outer_n_per_m for layering in LAYERING.values()])
