"""How a policy moves the tool: along the surface normal, or along the surface (a diagnostic).

Runs the deterministic policy of a checkpoint on the first ``--episodes`` training
draws of ``--draw-seed`` (never the held-out people) and prints, per episode, how far
its correction of the tool target spreads along the path point's normal and along the
surface (the stroke's direction and sideways: the standard deviation over the episode)
and its mean |action| along each, in the surface frame. With ``--masked`` it also
scores the policy with the part of each action along the surface removed (in the
world axes it was trained in: x and y zeroed, or the action projected on the
normal), which says how much the force it holds depends on those moves, and how much
of its first-contact overshoot comes from them. A policy trained in the surface frame
(env.action_frame: surface) is read in that frame. It also prints how far the three
axes of the surface frame turn from one control step to the next (the median angle
over the episode): a surface-frame action means the same move from step to step only
as far as they hold still.

    .venv/bin/python benchmarks/action_axes.py CHECKPOINT [--episodes 40] [--masked]
"""

from __future__ import annotations

import argparse

import numpy as np

from massage_td3_ros.config import load_config
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.evaluation.controllers import PolicyController
from massage_td3_ros.evaluation.evaluate import env_config_for, evaluate_cases
from massage_td3_ros.evaluation.suites import training_episodes
from massage_td3_ros.td3.cpu import cpu_label

MASKS = ("as trained", "x and y zeroed", "normal part only")


def surface_axes(env: MassageEnv) -> np.ndarray:
    """Rows: the stroke's direction along the surface, sideways, the outward normal."""
    ref = env.path_reference()
    along = ref.tangent - np.dot(ref.tangent, ref.normal) * ref.normal
    along /= np.linalg.norm(along)
    return np.stack([along, np.cross(ref.normal, along), ref.normal])


class MaskedPolicy(PolicyController):
    """The checkpoint's policy with a part of each (world-axis) action removed."""

    def __init__(self, checkpoint: str, mask: str) -> None:
        super().__init__(checkpoint)
        self.mask = self.name = mask

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        action = super().act(obs, env).astype(np.float64)
        if self.mask == MASKS[1]:
            action[:2] = 0.0
        elif self.mask == MASKS[2]:
            normal = env.path_reference().normal
            action = np.dot(action, normal) * normal
        return np.clip(action, -1.0, 1.0).astype(np.float32)


def turn_deg(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Angle between each row of two sets of unit axes, degrees."""
    return np.degrees(np.arccos(np.clip(np.sum(before * after, axis=1), -1.0, 1.0)))


def spread(env: MassageEnv, controller: PolicyController, episode) -> np.ndarray:
    """Rows: the std of the correction, the mean |action| and the median turn of the axes
    per step (degrees), each along, sideways and normal: 3 x 3."""
    obs, _ = env.reset(seed=episode.seed, options=dict(episode.options))
    controller.reset(env)
    world = env.config.action_frame == "world"
    corrections, actions, turns, done, previous = [], [], [], False, None
    while not done:
        action = controller.act(obs, env)
        axes = surface_axes(env)
        if previous is not None:
            turns.append(turn_deg(previous, axes))
        previous = axes
        actions.append(axes @ action if world else action)  # in the surface frame
        obs, _, terminated, truncated, _ = env.step(action)
        corrections.append(axes @ env.correction_m)
        done = terminated or truncated
    return np.stack([np.std(corrections, axis=0), np.mean(np.abs(actions), axis=0),
                     np.median(turns, axis=0)])


def row_text(row: np.ndarray) -> str:
    spread_mm, action, turn = row
    return (f"{' / '.join(f'{v * 1e3:.1f}' for v in spread_mm)} | "
            f"{' / '.join(f'{v:.2f}' for v in action)} | "
            f"{' / '.join(f'{v:.2f}' for v in turn)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--draw-seed", type=int, default=0)
    parser.add_argument("--masked", action="store_true",
                        help="also score the policy with its moves along the surface removed")
    args = parser.parse_args()
    controller = PolicyController(args.checkpoint)
    env = MassageEnv(env_config_for(controller, load_config().env))
    cases = training_episodes(args.episodes, args.draw_seed)
    print(f"{cpu_label()}; {args.checkpoint}; {len(cases)} training draws of seed "
          f"{args.draw_seed}\n")
    print("| draw | correction std along / sideways / normal [mm] | mean abs action along / "
          "sideways / normal | axes' turn per step along / sideways / normal [deg] |")
    print("|---|---|---|---|")
    rows = []
    for case in cases:
        row = spread(env, controller, case)
        rows.append(row)
        print(f"| {case.case} | {row_text(row)} |", flush=True)
    print(f"| median | {row_text(np.median(rows, axis=0))} |")
    env.close()
    if not args.masked:
        return
    if controller.action_settings and controller.action_settings.get("action_frame") != "world":
        raise SystemExit("--masked removes world-axis parts: the policy must act in world axes")
    print("\n| policy | RMS [N] | in band [%] | over-force episodes | overshoot mean / max [N] "
          "| above 3 N | force rate [N/s] |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for mask in MASKS:
        masked = MaskedPolicy(args.checkpoint, mask)
        env = MassageEnv(env_config_for(masked, load_config().env))
        result = evaluate_cases(masked, cases, env=env, keep_traces=False)
        env.close()
        m = result["aggregate"]
        overshoot = [e["metrics"].get("first_contact_overshoot_n", 0.0)
                     for e in result["episodes"]]
        print(f"| {mask} | {m['rms_force_error_n']:.2f} | {m['in_band_percent']:.1f} | "
              f"{m['terminated_episodes']:.0f} | {np.mean(overshoot):.2f} / "
              f"{np.max(overshoot):.1f} | {sum(o > 3.0 for o in overshoot)} | "
              f"{m['force_rate_rms_n_s']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
