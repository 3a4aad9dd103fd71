"""Force against depth of the ball tool pressed straight into each tissue region.

    .venv/bin/python benchmarks/tissue_curves.py [--tissue-scale 1.0] [--depths 2 4 ...]

For each region of the reference build (layered tissue), the tool is held at a set of
depths below the point where it just touches the surface there (the arm's joint
controller holds an IK pose; after 0.5 s of physics the force is read) and the force
on the tool and the depth it actually reached are printed. The layered regions should
stiffen with depth (the soft outer layer gives way to the core).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import pybullet as pb

from massage_td3_ros.env import contact as contact_mod
from massage_td3_ros.env.anatomy import BodyShape
from massage_td3_ros.env.episode import nominal_episode
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.env.pressure import PressureProfile
from massage_td3_ros.env.tissue import DAMPING_S, REGIONS, Tissue

# A point on the back over each region (body frame x, y of the reference build) and the
# stroke that passes there.
PROBES = {"lumbar_muscle": (-0.12, -0.05), "thoracic_muscle": (0.02, -0.055),
          "spine": (0.0, 0.0), "scapula": (0.14, -0.105)}


def press_curve(env: MassageEnv, xy, depths_m) -> list[tuple[float, float, str]]:
    """(reached depth [m], force [N], region) at each commanded depth below ``xy``."""
    surface = env._surface(env.scene.body_origin_m)
    touch, normal = surface.touch(np.asarray(xy, dtype=float)[None])
    touch, normal = touch[0], normal[0]
    arm, out = env.scene.arm, []
    for depth in depths_m:
        arm.reset(arm.settle_ik(touch + 0.01 * normal, rounds=10))  # start just above
        target = touch - depth * normal
        for _ in range(int(0.5 * env.config.physics_hz)):
            arm.command(arm.solve_ik(target, 20))
            pb.stepSimulation(physicsClientId=env.client)
        reading = env._sense()["tool"]
        reached = float(np.dot(touch - arm.tool_pose()[0], normal))
        region = (REGIONS[int(env._region_under(reading))] if reading.in_contact else "none")
        out.append((reached, reading.force_n, region))
    return out


def press_through(env: MassageEnv, xy, speed_m_s: float, depth_m: float
                  ) -> list[tuple[float, float]]:
    """(reached depth [m], summed normal force [N]) at every physics substep while the
    tool target moves from 1 mm above the surface at ``xy`` to ``depth_m`` below it at
    ``speed_m_s``, straight in: what meeting each layer at that speed costs."""
    surface = env._surface(env.scene.body_origin_m)
    touch, normal = surface.touch(np.asarray(xy, dtype=float)[None])
    touch, normal = touch[0], normal[0]
    arm, out = env.scene.arm, []
    arm.reset(arm.settle_ik(touch + 0.001 * normal, rounds=10))
    step_m = speed_m_s / env.config.physics_hz
    for i in range(int((depth_m + 0.001) / step_m)):
        arm.command(arm.solve_ik(touch + (0.001 - (i + 1) * step_m) * normal, 20))
        pb.stepSimulation(physicsClientId=env.client)
        forces = contact_mod.arm_body_normal_forces(env.client, arm.body_id,
                                                    env.scene.body_id)
        reached = float(np.dot(touch - arm.tool_pose()[0], normal))
        out.append((reached, float(sum(force for _, _, force in forces))))
    return out


def reference_env(tissue_scale: float = 1.0, core_damping_s: float = DAMPING_S) -> MassageEnv:
    """An env reset to the reference build with layered tissue (no safety stop below
    200 N), for pressing probes."""
    env = MassageEnv(randomize=False, safety_force_limit_n=200.0)
    episode = replace(nominal_episode(env.config), body=BodyShape(),
                      tissue=Tissue(scale=tissue_scale, core_damping_s=core_damping_s),
                      profile=PressureProfile("constant", 10.0), stroke="along_spine",
                      direction="forward")
    env.reset(seed=0, options={"episode": episode})
    return env


def region_curves(tissue_scale: float = 1.0, depths_mm=(2, 4, 6, 8, 10, 12, 14, 16),
                  core_damping_s: float = DAMPING_S):
    """region -> [(reached depth m, force N, region under the tool)]."""
    env = reference_env(tissue_scale, core_damping_s)
    curves = {region: press_curve(env, xy, [d / 1000 for d in depths_mm])
              for region, xy in PROBES.items()}
    env.close()
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tissue-scale", type=float, default=1.0)
    parser.add_argument("--depths", type=float, nargs="+", default=[2, 4, 6, 8, 10, 12, 14, 16],
                        help="commanded depths [mm]")
    args = parser.parse_args()
    for region, rows in region_curves(args.tissue_scale, args.depths).items():
        print(f"{region}:")
        for (reached, force, under), wanted in zip(rows, args.depths):
            print(f"  commanded {wanted:5.1f} mm  reached {reached * 1000:5.1f} mm  "
                  f"force {force:6.1f} N  on {under}")


if __name__ == "__main__":
    main()
