"""Where the tool meets one body part at two points at once (a diagnostic for issue 14).

Runs pid-preview on the held-out suite and, after every step, groups the tool's contact
points by body part; for each part holding two or more, it finds which primitive of the
part's compound collision shape each point lies on (the one whose surface is nearest).
Each point is its own soft-contact spring, so two points on one part press with about
twice the force one tissue surface would at that depth: the force steps that no
controller can foresee (README, Results).

    .venv/bin/python benchmarks/contact_children.py
"""

from __future__ import annotations

import collections

import numpy as np
import pybullet as pb

from massage_td3_ros.env.anatomy import Shape, link_indices
from massage_td3_ros.env.body import body_parts
from massage_td3_ros.env.force_control import PREVIEW_GAINS
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.evaluation.controllers import PreviewPidController, baseline_env_config
from massage_td3_ros.evaluation.suites import heldout_episodes
from massage_td3_ros.td3.cpu import cpu_label

AXES = {"capsule_x": np.array([1.0, 0.0, 0.0]), "capsule_y": np.array([0.0, 1.0, 0.0])}


def surface_distance_m(point: np.ndarray, shape: Shape, origin_m: np.ndarray) -> float:
    """Signed distance from ``point`` (world) to a sphere's or capsule's surface."""
    centre = origin_m + np.asarray(shape.center)
    if shape.kind == "sphere":
        return float(np.linalg.norm(point - centre) - shape.size[0])
    if shape.kind in AXES:
        axis, half = AXES[shape.kind], shape.size[1] / 2
        along = np.clip((point - centre) @ axis, -half, half)
        return float(np.linalg.norm(point - (centre + along * axis)) - shape.size[0])
    return float("nan")   # boxes: hands and feet, never under the tool


def nearest_primitive(point: np.ndarray, shapes: tuple[Shape, ...],
                      origin_m: np.ndarray) -> int:
    """Index of the primitive whose surface ``point`` lies on (the nearest)."""
    return int(np.nanargmin([abs(surface_distance_m(point, shape, origin_m))
                             for shape in shapes]))


def main() -> None:
    config = baseline_env_config()
    cases = heldout_episodes(config)
    env = MassageEnv(config)
    controller = PreviewPidController(**PREVIEW_GAINS)
    steps, shared = 0, collections.Counter()
    forces: dict[str, list[float]] = collections.defaultdict(list)
    for case in cases:
        obs, _ = env.reset(seed=case.seed, options=dict(case.options))
        controller.reset(env)
        scene = env.scene
        parts = body_parts(scene.body)
        names = {link: name for name, link in link_indices(parts).items()}
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(controller.act(obs, env))
            done = terminated or truncated
            steps += 1
            points = pb.getContactPoints(bodyA=scene.arm.body_id, bodyB=scene.body_id,
                                         linkIndexA=scene.arm.tool_link,
                                         physicsClientId=env.client)
            by_part = collections.defaultdict(list)
            for point in points:
                by_part[names.get(point[4], str(point[4]))].append(point)
            for name, on_part in by_part.items():
                if len(on_part) < 2:
                    continue
                children = {nearest_primitive(np.asarray(p[6]), parts[name].shapes,
                                              scene.body_origin_m) for p in on_part}
                kind = "different primitives" if len(children) == len(on_part) else "one primitive"
                shared[(name, kind)] += 1
                normal = sorted((p[9] for p in on_part), reverse=True)
                forces[name].append(normal[1] / max(sum(normal), 1e-9))
    env.close()
    print(f"{cpu_label()}; pid-preview on {len(cases)} held-out episodes, "
          f"{steps} steps\n")
    print("| part | points on | steps | % of steps | second point's share of the force, "
          "mean / max |")
    print("|---|---|---:|---:|---|")
    for (name, kind), count in sorted(shared.items()):
        share = np.asarray(forces[name])
        print(f"| {name} | {kind} | {count} | {100 * count / steps:.1f} | "
              f"{share.mean():.2f} / {share.max():.2f} |")


if __name__ == "__main__":
    main()
