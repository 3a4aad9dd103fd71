"""Correctness anchor: TD3 through the in-process trainer on gymnasium's Pendulum-v1.

20,000 env steps per seed, then the deterministic policy's mean return over 10
episodes. Goal: >= -200 for every seed and >= -165 averaged (RL Baselines3 Zoo: TD3
-152 +/- 90 at 20k steps). Prints a markdown table. Takes minutes; not a CI test.

    .venv/bin/python benchmarks/pendulum.py [--steps 20000] [--seeds 0 1 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from massage_td3_ros.config import Config
from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.checkpoint import checkpoint_path, load_checkpoint
from massage_td3_ros.training.trainer import evaluate, train

ENV_ID = "Pendulum-v1"
SEED_GOAL, MEAN_GOAL = -200.0, -165.0

# Pendulum settings in the spirit of the RL Zoo's TD3 entry (gamma 0.98, lr 1e-3,
# 400-300 networks, Gaussian noise 0.1) with a 1000-step random warm-up; the massage
# specific exploration (smoothing, oscillation) is off.
PENDULUM = {
    "td3": {"lr_actor": 1e-3, "lr_critic": 1e-3, "gamma": 0.98},
    "exploration": {"gaussian": True, "noise_std": 0.1, "smoothing": False,
                    "oscillation": False},
    "train": {"warmup_steps": 1000, "buffer_size": 200_000, "eval_every_episodes": 0,
              "plot_every_episodes": 0, "checkpoint_every_steps": 0,
              "log_tensorboard": False, "save_replay_buffer": False, "resume": False},
}


def run_seed(seed: int, steps: int, episodes: int, out: Path) -> tuple[float, float, float]:
    """Train one seed; returns (mean, std) of the evaluation returns and seconds taken."""
    start = time.monotonic()
    config = Config().replace(**PENDULUM)
    run_dir = train(config, steps=steps, seed=seed, out=out / f"seed{seed}", env_id=ENV_ID)
    env = gym.make(ENV_ID)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    agent = TD3(obs_dim, act_dim, config.td3)
    agent.load_state_dict(load_checkpoint(checkpoint_path(run_dir, "final"),
                                          obs_dim, act_dim)["agent"])
    returns = evaluate(agent.select_action, env, episodes, seed=seed)
    env.close()
    return float(np.mean(returns)), float(np.std(returns)), time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None, help="run folders (default: temp)")
    parser.add_argument("--verbose", action="store_true", help="per-episode progress")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(message)s")
    out = args.out or Path(tempfile.mkdtemp(prefix="pendulum-td3-"))
    rows = []
    for seed in args.seeds:
        mean, std, seconds = run_seed(seed, args.steps, args.episodes, out)
        rows.append((seed, mean, std, seconds))
        print(f"seed {seed}: {mean:.1f} +/- {std:.1f} ({seconds:.0f} s)", flush=True)
    overall = float(np.mean([row[1] for row in rows]))
    passed = all(row[1] >= SEED_GOAL for row in rows) and overall >= MEAN_GOAL
    print(f"\nTD3 on {ENV_ID}, {args.steps} env steps, {args.episodes} deterministic "
          f"evaluation episodes per seed (run folders: {out})\n")
    print("| seed | mean return | std | wall time [s] |")
    print("|---:|---:|---:|---:|")
    for seed, mean, std, seconds in rows:
        print(f"| {seed} | {mean:.1f} | {std:.1f} | {seconds:.0f} |")
    print(f"| **mean** | **{overall:.1f}** | | |")
    print(f"\ngoal: every seed >= {SEED_GOAL:.0f}, mean >= {MEAN_GOAL:.0f}: "
          f"{'PASS' if passed else 'FAIL'}")


if __name__ == "__main__":
    main()
