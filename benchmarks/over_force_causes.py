"""What the held-out over-force steps are made of (a diagnostic for issue 14).

The safety limit (env.safety_force_limit_n, 45 N) watches the sum of the normal forces
of every arm-body contact point at every physics substep; a controller sees the tool's
net force once per control step. For each controller's over-force episodes on the
held-out suite this prints, at the peak substep of the step that crossed the limit:
the surfaces the arm touched (body link and tissue region, force on each), which of them
the tool was not touching at the end of the step before (a surface entered within the
step), the summed force and the net force the controller read a step earlier, and
the target then.

    .venv/bin/python benchmarks/over_force_causes.py [--checkpoint F ...] [--set G.N=V ...]
        [--substeps]

``--substeps`` also prints the crossing step substep by substep: each arm contact's
depth, normal force, the spring part k d and the speed part (c + k dt) v of PyBullet's
soft contact (stiffness k, damping c, substep dt, v the speed the tool moves in along
the normal), which is where a jump within one substep comes from.

Baselines run on the plain 4 mm steps they were tuned with, a policy on the action
settings its checkpoint records (as `massage-td3 eval` scores them).
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pybullet as pb

from massage_td3_ros.cli import add_overrides
from massage_td3_ros.config import load_config
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.evaluation.controllers import make_controller
from massage_td3_ros.evaluation.evaluate import env_config_for
from massage_td3_ros.evaluation.suites import heldout_episodes
from massage_td3_ros.td3.cpu import cpu_label


@dataclasses.dataclass
class Crossing:
    """The step of an episode that crossed the safety limit."""

    case: str
    step: int
    target_n: float
    read_before_n: float            # the tool's net force the controller last read
    sum_before_n: float             # the summed normal force then (what the limit watches)
    peak_sum_n: float               # summed normal force at the peak substep
    surfaces: dict[str, float]      # "region (link)": force at the peak substep
    entered: list[str]              # of those, surfaces untouched at the step's start
    substep_rise_n: float           # largest rise of the summed force in one substep,
                                    # from the step before's last substep to the peak
    trace: list[str] = dataclasses.field(default_factory=list)  # with --substeps


def touching(env: MassageEnv) -> tuple[set[int], float]:
    """(body links the tool touches, summed normal force of every arm contact) now."""
    contacts = env._contacts()
    tool = env.scene.arm.tool_link
    return ({c.body_link for c in contacts if c.arm_link == tool},
            float(sum(c.normal_force_n for c in contacts)))


class SubstepTrace:
    """Each substep of the current step: the tool's contacts with the spring and the
    speed part of each one's normal force (MassageEnv.on_substep)."""

    def __init__(self, env: MassageEnv) -> None:
        self.env, self.lines = env, []
        env.on_substep = self.record

    def record(self, substep: int) -> None:
        env = self.env
        arm, body, dt = env.scene.arm, env.scene.body_id, 1.0 / env.config.physics_hz
        state = pb.getLinkState(arm.body_id, arm.tool_link, computeLinkVelocity=1,
                                physicsClientId=env.client)
        velocity = np.asarray(state[6])
        parts, total = [], 0.0
        for c in env._contacts():
            info = pb.getDynamicsInfo(body, c.body_link, physicsClientId=env.client)
            damping, stiffness = info[8], info[9]
            speed = float(np.dot(velocity, -np.asarray(c.normal)))  # > 0: moving in
            total += c.normal_force_n
            parts.append(f"{env.scene.region_of(c.body_link)} ({c.body_link}) depth "
                         f"{-c.distance_m * 1000:+.2f} mm F {c.normal_force_n:.1f} N = kd "
                         f"{-c.distance_m * stiffness:.1f} + speed part "
                         f"{(damping + stiffness * dt) * speed:.1f} at {speed * 100:+.1f} cm/s")
        self.lines.append(f"  substep {substep}: sum {total:.1f} N, tool "
                          f"{np.linalg.norm(velocity) * 100:.1f} cm/s; " + "; ".join(parts))


def crossings(controller, env: MassageEnv, cases, substeps: bool = False) -> list[Crossing]:
    found, recorder = [], SubstepTrace(env) if substeps else None
    for case in cases:
        obs, info = env.reset(seed=case.seed, options=dict(case.options))
        controller.reset(env)
        (before, summed), read, done = touching(env), info["force_n"], False
        while not done:
            if recorder is not None:
                recorder.lines = []
            obs, _, terminated, truncated, info = env.step(controller.act(obs, env))
            done = terminated or truncated
            if info["over_force"]:
                trace = [summed, *env.substep_forces_n]
                top = max(range(len(trace)), key=trace.__getitem__)
                rise = max(b - a for a, b in zip(trace[:top], trace[1:top + 1]))
                peak = sorted(env.peak_contacts.items(), key=lambda item: -item[1])
                name = {body: f"{env.scene.region_of(body)} ({body})" for (_, body), _ in peak}
                found.append(Crossing(
                    case.case, env._step, env.target_force_n, read, summed,
                    round(sum(force for _, force in peak), 1),
                    {name[body]: round(force, 1) for (_, body), force in peak},
                    sorted(name[body] for (_, body), force in peak
                           if body not in before and force > 0.0), round(rise, 1),
                    list(recorder.lines) if recorder is not None else []))
            (before, summed), read = touching(env), info["force_n"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", action="append", default=[],
                        help="a TD3 checkpoint to diagnose too (repeatable)")
    add_overrides(parser, "a config value for every controller's env (e.g. "
                          "env.force_governor_n=38); repeatable")
    parser.add_argument("--substeps", action="store_true",
                        help="print each crossing step substep by substep")
    args = parser.parse_args()
    controllers = [make_controller("pid-preview")] + [
        make_controller("td3", path) for path in args.checkpoint]
    env_config = load_config(None, args.overrides).env
    print(f"{cpu_label()}{''.join(' --set ' + o for o in args.overrides)}\n")
    for controller in controllers:
        env = MassageEnv(env_config_for(controller, env_config))
        cases = heldout_episodes(env.config)
        found = crossings(controller, env, cases, args.substeps)
        env.close()
        label = getattr(controller, "checkpoint", controller.name)
        with_new = sum(bool(c.entered) for c in found)
        several = sum(len(c.surfaces) > 1 for c in found)
        print(f"## {label}: {len(found)} over-force episodes of {len(cases)}; a surface "
              f"entered within the crossing step in {with_new}, more than one surface "
              f"touched in {several}\n")
        for c in found:
            print(f"- {c.case}, step {c.step}: target {c.target_n:.1f} N; a step before "
                  f"read {c.read_before_n:.1f} N, summed {c.sum_before_n:.1f} N; peak sum "
                  f"{c.peak_sum_n:.1f} N (largest rise in one substep {c.substep_rise_n} N) "
                  f"over {c.surfaces}; entered {c.entered or 'none'}")
            if c.trace:
                print("\n".join(c.trace))
        print()


if __name__ == "__main__":
    main()
