"""Arm-body contacts: the one place raw PyBullet contact tuples are unpacked.

Also the three debug helpers (tool contacts, collision-filter state of each arm
link against the body, contacts of every arm link); each returns structured data
and prints it when asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as pb

from massage_td3_ros.env.snapshot import Contact

NEAR_RANGE_M = 0.1   # beyond this the tool is reported as this far from the body


@dataclass(frozen=True)
class ToolReading:
    """What a wrist force sensor and a proximity model would report for the tool."""

    force_vector_n: np.ndarray  # sum of the contact forces (each along its normal)
    in_contact: bool
    contact_point_m: np.ndarray | None   # force-weighted contact point, else nearest point
    normal: np.ndarray | None
    signed_distance_m: float  # tool surface to body (negative when pressing in)
    body_links: tuple = ()    # body links touched, the one bearing most force first

    @property
    def force_n(self) -> float:
        """|force_vector_n| (all contact points)."""
        return float(np.linalg.norm(self.force_vector_n))


def arm_body_contacts(client: int, arm_id: int, body_id: int) -> list[Contact]:
    """Every current contact point between any arm link and the body."""
    points = pb.getContactPoints(bodyA=arm_id, bodyB=body_id, physicsClientId=client)
    return [Contact(arm_link=p[3], body_link=p[4], position_on_body_m=p[6], normal=p[7],
                    distance_m=p[8], normal_force_n=p[9]) for p in points]


def arm_body_normal_forces(client: int, arm_id: int, body_id: int
                           ) -> list[tuple[int, int, float]]:
    """(arm link, body link, normal force) of every arm-body contact point."""
    return [(p[3], p[4], p[9]) for p in
            pb.getContactPoints(bodyA=arm_id, bodyB=body_id, physicsClientId=client)]


def by_link_pair(points: list[tuple[int, int, float]]) -> dict[tuple[int, int], float]:
    """{(arm link, body link): summed normal force} of ``points``."""
    forces: dict[tuple[int, int], float] = {}
    for arm_link, body_link, force in points:
        forces[arm_link, body_link] = forces.get((arm_link, body_link), 0.0) + force
    return forces


def tool_reading(client: int, arm_id: int, body_id: int, tool_link: int,
                 contacts: list[Contact]) -> ToolReading:
    """Net force, contact point/normal and signed distance of the tool."""
    on_tool = [c for c in contacts if c.arm_link == tool_link]
    if on_tool:
        forces = np.array([c.normal_force_n for c in on_tool])
        normals = np.array([c.normal for c in on_tool])
        positions = np.array([c.position_on_body_m for c in on_tool])
        net = (forces[:, None] * normals).sum(axis=0)
        weights = forces / forces.sum() if forces.sum() > 0 else np.full(len(forces),
                                                                          1 / len(forces))
        normal = net / np.linalg.norm(net) if np.linalg.norm(net) > 0 else normals[0]
        by_link: dict[int, float] = {}
        for c in on_tool:
            by_link[c.body_link] = by_link.get(c.body_link, 0.0) + c.normal_force_n
        return ToolReading(force_vector_n=net, in_contact=True,
                           contact_point_m=weights @ positions, normal=np.asarray(normal),
                           signed_distance_m=float(min(c.distance_m for c in on_tool)),
                           body_links=tuple(sorted(by_link, key=lambda k: -by_link[k])))
    nearest = pb.getClosestPoints(arm_id, body_id, NEAR_RANGE_M, linkIndexA=tool_link,
                                  physicsClientId=client)
    if not nearest:
        return ToolReading(np.zeros(3), False, None, None, NEAR_RANGE_M)
    best = min(nearest, key=lambda p: p[8])
    return ToolReading(np.zeros(3), False, np.asarray(best[6]), np.asarray(best[7]),
                       float(best[8]))


# --- debug helpers ---------------------------------------------------------------

def debug_tool_contacts(contacts: list[Contact], tool_link: int,
                        verbose: bool = False) -> list[Contact]:
    """The contacts on the tool (and print them if ``verbose``)."""
    on_tool = [c for c in contacts if c.arm_link == tool_link]
    if verbose:
        print(f"tool contacts: {len(on_tool)}, total normal force "
              f"{sum(c.normal_force_n for c in on_tool):.2f} N")
        for c in on_tool:
            print(f"  body link {c.body_link:3d}  force {c.normal_force_n:7.2f} N  "
                  f"depth {-c.distance_m * 1000:6.2f} mm  at {np.round(c.position_on_body_m, 3)}")
    return on_tool


@dataclass(frozen=True)
class LinkFilter:
    """Collision-filter state of one arm link against the body."""

    arm_link: int
    name: str
    group: int
    mask: int
    collides_with_body: bool


def debug_collision_filters(arm_filters: dict[int, tuple[int, int]],
                            body_filters: dict[int, tuple[int, int]],
                            link_names: tuple[str, ...],
                            verbose: bool = False) -> list[LinkFilter]:
    """Whether each arm link can collide with the body (group/mask test against
    every body link; true if it can touch any of them)."""
    out = []
    for link, (group, mask) in sorted(arm_filters.items()):
        collides = any((group & b_mask) and (b_group & mask)
                       for b_group, b_mask in body_filters.values())
        name = "base" if link < 0 else link_names[link]
        out.append(LinkFilter(link, name, group, mask, bool(collides)))
    if verbose:
        for f in out:
            print(f"arm link {f.arm_link:3d} {f.name:18s} group {f.group} mask {f.mask} "
                  f"-> {'collides' if f.collides_with_body else 'IGNORED'} with body")
    return out


def debug_arm_link_contacts(contacts: list[Contact], n_links: int,
                            verbose: bool = False) -> dict[int, list[Contact]]:
    """Contacts of every arm link with the body, by link index (-1 = base)."""
    out: dict[int, list[Contact]] = {link: [] for link in range(-1, n_links)}
    for c in contacts:
        out[c.arm_link].append(c)
    if verbose:
        for link, items in out.items():
            force = sum(c.normal_force_n for c in items)
            print(f"arm link {link:3d}: {len(items)} contacts, {force:.2f} N")
    return out
