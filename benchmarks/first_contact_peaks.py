"""When a controller's first-contact overshoots peak on the held-out people (a diagnostic).

Runs a checkpoint's deterministic policy (or a baseline) through the first second of
each held-out case and, for every case whose first-contact overshoot (metrics.py: the
force's largest excess over the target in the first second of contact) is above
``--threshold``, prints the step of the peak, the force of each step up to just after
it and the actions of the steps leading into it. The last line says how many peaks
come within the first ``--early`` steps and how saturated the actions were there. It
scores nothing: the held-out tables come from benchmarks/heldout.py.

    .venv/bin/python benchmarks/first_contact_peaks.py CHECKPOINT|pid-preview [--threshold 3]
"""

from __future__ import annotations

import argparse

import numpy as np

from massage_td3_ros.config import load_config
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.env.metrics import tool_touches
from massage_td3_ros.evaluation.controllers import make_controller
from massage_td3_ros.evaluation.evaluate import env_config_for
from massage_td3_ros.evaluation.suites import suite_episodes
from massage_td3_ros.td3.cpu import cpu_label

LEAD_IN = 3  # actions printed before the peak


def first_second(env: MassageEnv, controller, episode) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """Force, target and action of every step of the episode's first second of contact."""
    obs, _ = env.reset(seed=episode.seed, options=dict(episode.options))
    controller.reset(env)
    window = int(round(1.0 / env.dt_s))
    forces, targets, actions, touched = [], [], [], None
    for step in range(env.config.max_episode_steps):
        action = np.asarray(controller.act(obs, env), dtype=np.float64)
        obs, _, terminated, truncated, info = env.step(action)
        forces.append(info["force_n"])
        targets.append(info["target_force_n"])
        actions.append(action)
        if touched is None and tool_touches(info):
            touched = step
        if terminated or truncated or (touched is not None and step >= touched + window):
            break
    start = touched or 0
    return (np.asarray(forces)[start:], np.asarray(targets)[start:],
            np.asarray(actions)[start:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("controller", help="a checkpoint, or a baseline's name")
    parser.add_argument("--threshold", type=float, default=3.0)
    parser.add_argument("--early", type=int, default=3, help="steps counted as 'early'")
    args = parser.parse_args()
    is_checkpoint = args.controller.endswith(".pt")
    controller = make_controller("td3" if is_checkpoint else args.controller,
                                 args.controller if is_checkpoint else None)
    env = MassageEnv(env_config_for(controller, load_config().env))
    print(f"{cpu_label()}; {args.controller}; held-out suite")
    peaks = []
    try:
        for episode in suite_episodes("heldout", env.config):
            force, target, action = first_second(env, controller, episode)
            error = force - target
            peak = int(np.argmax(error))
            if error[peak] <= args.threshold:
                continue
            saturation = float(np.abs(action[max(0, peak - LEAD_IN + 1):peak + 1]).max())
            peaks.append((peak, error[peak], saturation))
            print(f"\ncase {episode.case}: overshoot {error[peak]:.1f} N at step "
                  f"{peak} of contact, target {target[peak]:.1f} N")
            print("  force [N]: " + " ".join(f"{f:.0f}" for f in force[:peak + 2]))
            for i in range(max(0, peak - LEAD_IN + 1), peak + 1):
                print(f"  action at step {i}: " + " ".join(f"{a:+.2f}" for a in action[i]))
    finally:
        env.close()
    if not peaks:
        print(f"\nno case above {args.threshold:g} N")
        return
    table = np.asarray(peaks)
    early = table[:, 0] < args.early

    def mean(column: int, rows: np.ndarray) -> float:
        return float(table[rows, column].mean()) if rows.any() else 0.0

    print(f"\n{len(peaks)} cases above {args.threshold:g} N; {int(early.sum())} peak in the "
          f"first {args.early} steps of contact (mean {mean(1, early):.1f} N, largest action "
          f"entry up to the peak {mean(2, early):.2f} on average), {int((~early).sum())} "
          f"later (mean {mean(1, ~early):.1f} N)")


if __name__ == "__main__":
    main()
