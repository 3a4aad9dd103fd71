"""How far the force goes above the hard safety limit before the arm backs off.

    .venv/bin/python benchmarks/safety_overshoot.py [--episodes 24]

Each episode presses straight down (action z = -1, every other axis 0) until the safety
limit ends it, in both action modes, on randomised people (size, tissue stiffness,
target force, stroke and direction drawn per episode). For each episode it prints the
peak summed normal force seen in the step that crossed the limit, and the overshoot
above the limit. The protocol is fixed: seeds 0..episodes-1 per action mode.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def overshoots(action_mode: str, episodes: int) -> list[dict[str, float]]:
    from massage_td3_ros.env.massage_env import MassageEnv

    env = MassageEnv(randomize=True, action_mode=action_mode)
    rows = []
    try:
        for seed in range(episodes):
            env.reset(seed=seed)
            press = np.array([0.0, 0.0, -1.0], dtype=np.float32)
            for step in range(1, env.config.max_episode_steps + 1):  # noqa: B007 - read after the loop
                _, _, terminated, truncated, info = env.step(press)
                if terminated or truncated:
                    break
            limit = env.config.safety_force_limit_n
            rows.append({"seed": seed, "step": step, "terminated": bool(terminated),
                         "peak_force_n": float(info["peak_force_n"]),
                         "overshoot_n": float(info["peak_force_n"]) - limit})
    finally:
        env.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    report = {}
    for mode in ("increment", "offset"):
        rows = overshoots(mode, args.episodes)
        over = np.array([row["overshoot_n"] for row in rows if row["terminated"]])
        report[mode] = {"episodes": len(rows), "ended_by_the_limit": int(len(over)),
                        "worst_overshoot_n": float(over.max()) if len(over) else float("nan"),
                        "mean_overshoot_n": float(over.mean()) if len(over) else float("nan"),
                        "rows": rows}
        print(f"{mode:9s}: {len(over)}/{len(rows)} episodes ended by the limit; overshoot "
              f"above it: worst {report[mode]['worst_overshoot_n']:.2f} N, mean "
              f"{report[mode]['mean_overshoot_n']:.2f} N")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
