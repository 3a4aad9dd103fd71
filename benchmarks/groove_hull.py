"""The thorax's two muscle capsules against their convex hull, for the ball tool.

    .venv/bin/python benchmarks/groove_hull.py [--repeats 3000]

The thorax's collision shape is two capsules along the spine (the left and right
muscles) that meet at the midline, leaving the spine's groove between them. A ball
over the groove touches both, and PyBullet makes each contact point a full spring.
The alternative is one convex hull of the two capsules (the groove filled): one
contact point everywhere, at a cost. For the reference build this sweeps the tool
ball (its radius from EnvConfig) across the back, pressed straight down by a few depths
from where it touches, and prints for each shape where the ball touches at two points,
the depths it reads and how long one collision test takes. PyBullet gives a hull a
collision margin, which the hull here is shrunk by (``--margin``): beyond the groove,
where the shapes agree, the ball should touch both at the same height.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pybullet as pb

from massage_td3_ros.env import EnvConfig
from massage_td3_ros.env.anatomy import part_shapes
from massage_td3_ros.env.body import _compound


def hull_points(radius: float, length: float, half_gap: float, segments: int,
                rings: int) -> np.ndarray:
    """Points on two parallel capsules along x (axes at y = +/-half_gap, z = 0), their
    inner halves left out (inside the hull anyway): latitude rings on each end cap,
    ``segments`` points around a full ring."""
    points = [(0.0, 0.0, -radius)]
    for side in (-1.0, 1.0):
        for end in (-1.0, 1.0):
            for ring in range(rings + 1):
                latitude = np.pi / 2 * ring / rings
                count = max(int(round(segments * np.cos(latitude))), 1)
                for k in range(count):
                    angle = 2 * np.pi * k / count
                    if side * np.cos(angle) < -0.5:
                        continue
                    r = radius * np.cos(latitude)
                    points.append((end * (length / 2 + radius * np.sin(latitude)),
                                   side * half_gap + r * np.cos(angle), r * np.sin(angle)))
    return np.array(points)


def touch_z(client: int, tool: int, body: int, y: float) -> float:
    """Height of the ball centre, straight above ``y``, at which it just touches."""
    z = 1.0
    for _ in range(200):
        pb.resetBasePositionAndOrientation(tool, (0.0, y, z), (0, 0, 0, 1),
                                           physicsClientId=client)
        nearest = pb.getClosestPoints(tool, body, 2.0, physicsClientId=client)
        gap = min(p[8] for p in nearest)
        if gap < 1e-7:
            break
        z -= gap   # never past the touch: the distance bounds the vertical gap
    return z


def sweep(client: int, shape: int, ball: int, press: float,
          ys: np.ndarray) -> list[tuple[float, int, float]]:
    """(touch height [m], contact points, deepest penetration [m]) with the ball straight
    above each y, ``press`` below the height where it touches."""
    body = pb.createMultiBody(0, shape, physicsClientId=client)
    tool = pb.createMultiBody(1.0, ball, basePosition=(0, 0, 1), physicsClientId=client)
    out = []
    for y in ys:
        z = touch_z(client, tool, body, y)
        pb.resetBasePositionAndOrientation(tool, (0.0, y, z - press), (0, 0, 0, 1),
                                           physicsClientId=client)
        pb.performCollisionDetection(physicsClientId=client)
        points = pb.getContactPoints(tool, body, physicsClientId=client)
        out.append((z, len(points), min((p[8] for p in points), default=np.nan)))
    pb.removeBody(tool, physicsClientId=client)
    pb.removeBody(body, physicsClientId=client)
    return out


def time_test(client: int, shape: int, ball: int, z: float, repeats: int) -> float:
    """Microseconds per collision test of the ball, moving over the top of ``shape``."""
    body = pb.createMultiBody(0, shape, physicsClientId=client)
    tool = pb.createMultiBody(1.0, ball, basePosition=(0, 0, z), physicsClientId=client)
    start = time.perf_counter()
    for i in range(repeats):
        pb.resetBasePositionAndOrientation(tool, (0.0, 0.03 * np.sin(i / 50), z), (0, 0, 0, 1),
                                           physicsClientId=client)
        pb.performCollisionDetection(physicsClientId=client)
    elapsed = time.perf_counter() - start
    pb.removeBody(tool, physicsClientId=client)
    pb.removeBody(body, physicsClientId=client)
    return elapsed / repeats * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3000, help="collision tests timed")
    parser.add_argument("--press", type=float, nargs="+", default=[2.0, 5.0, 10.0],
                        help="depths pressed from touching [mm]")
    parser.add_argument("--margin", type=float, default=0.001,
                        help="PyBullet's collision margin of a hull [m]")
    args = parser.parse_args()
    left, right = part_shapes()["thorax"].shapes
    radius, length = left.size
    half_gap = abs(right.center[1] - left.center[1]) / 2
    tool_radius = EnvConfig().tool_radius_m
    client = pb.connect(pb.DIRECT)
    ball = pb.createCollisionShape(pb.GEOM_SPHERE, radius=tool_radius, physicsClientId=client)
    # The env's own collision shape of the thorax, framed at the middle of the two axes.
    middle = (np.asarray(left.center) + np.asarray(right.center)) / 2
    capsules, _ = _compound(client, (left, right), middle, None)
    shapes = {"two capsules (today)": capsules}
    for segments, rings in ((64, 6), (96, 8), (128, 12)):
        points = hull_points(radius - args.margin, length, half_gap, segments, rings)
        shapes[f"hull, {len(points)} points"] = pb.createCollisionShape(
            pb.GEOM_MESH, vertices=points.tolist(), physicsClientId=client)
    ys = np.linspace(-0.12, 0.12, 241)
    outside = np.abs(ys) > half_gap + 0.01          # beyond the groove: the shapes agree
    print(f"thorax of the reference build: capsules r {radius * 1000:.0f} mm, axes at "
          f"y +/-{half_gap * 1000:.0f} mm; ball r {tool_radius * 1000:.0f} mm, pressed "
          f"straight down from touching, at {len(ys)} places across y +/-120 mm")
    print(f"{'shape':<24}{'us/test':>9}{'pressed':>9}{'2 points at':>14}"
          f"{'depth min/max [mm]':>20}{'touch vs capsules, |y|>65 mm [mm]':>36}")
    reference = None
    for name, shape in shapes.items():
        cost = time_test(client, shape, ball, radius + tool_radius - 0.002, args.repeats)
        for press_mm in args.press:
            rows = sweep(client, shape, ball, press_mm / 1000, ys)
            touch = np.array([z for z, _, _ in rows])
            reference = touch if reference is None else reference
            doubles = ys[[count > 1 for _, count, _ in rows]]
            span = (f"|y| < {np.abs(doubles).max() * 1000:.0f} mm" if len(doubles)
                    else "nowhere")
            depths = -np.array([d for _, _, d in rows]) * 1000
            offset = (touch - reference)[outside] * 1000
            print(f"{name:<24}{cost:>9.1f}{press_mm:>7.1f}mm{span:>14}"
                  f"{np.nanmin(depths):>12.2f} / {np.nanmax(depths):.2f}"
                  f"{offset.min():>24.3f} to {offset.max():.3f}")
    pb.disconnect(client)


if __name__ == "__main__":
    main()
