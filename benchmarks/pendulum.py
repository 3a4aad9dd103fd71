"""Correctness anchor: TD3 through the in-process trainer on gymnasium's Pendulum-v1.

20,000 env steps per seed, then the deterministic policy's mean return over 10
episodes. Goal: >= -200 for every seed and >= -165 averaged (RL Baselines3 Zoo: TD3
-152 +/- 90 at 20k steps). Prints a markdown table. Takes minutes; not a CI test.

    .venv/bin/python benchmarks/pendulum.py [--steps 20000] [--seeds 0 1 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml

from massage_td3_ros.config import Config
from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.checkpoint import checkpoint_path, load_checkpoint
from massage_td3_ros.training.trainer import evaluate, train

ENV_ID = "Pendulum-v1"
SEED_GOAL, MEAN_GOAL = -200.0, -165.0

# Pendulum settings in the spirit of the RL Zoo's TD3 entry (gamma 0.98, lr 1e-3,
# 400-300 networks, Gaussian noise 0.1) with a 1000-step random warm-up; the massage
# specific exploration (smoothing, oscillation) is off. Interleaved evaluation (5
# deterministic episodes every 10, not counted in the budget) only picks `best`.
PENDULUM = {
    "td3": {"lr_actor": 1e-3, "lr_critic": 1e-3, "gamma": 0.98, "torch_threads": 1},
    "exploration": {"gaussian": True, "noise_std": 0.1, "smoothing": False,
                    "oscillation": False},
    "train": {"warmup_steps": 1000, "buffer_size": 200_000, "eval_every_episodes": 10,
              "eval_episodes": 5,
              "plot_every_episodes": 0, "checkpoint_every_steps": 0,
              "log_tensorboard": False, "save_replay_buffer": False, "resume": False},
}


def _score(run_dir: Path, name: str, config: Config, episodes: int, seed: int
           ) -> tuple[float, float]:
    """Mean and std return of checkpoint ``name``'s deterministic policy."""
    env = gym.make(ENV_ID)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    agent = TD3(obs_dim, act_dim, config.td3)
    agent.load_state_dict(load_checkpoint(checkpoint_path(run_dir, name),
                                          obs_dim, act_dim)["agent"])
    returns = evaluate(agent.select_action, env, episodes, seed=seed)
    env.close()
    return float(np.mean(returns)), float(np.std(returns))


def settings(overrides: list[str]) -> dict[str, dict[str, Any]]:
    """PENDULUM with ``group.name=value`` overrides (values parsed as YAML scalars)."""
    groups = {group: dict(values) for group, values in PENDULUM.items()}
    for item in overrides:
        key, _, text = item.partition("=")
        group, _, name = key.partition(".")
        if not text or not name:
            raise ValueError(f"--set {item!r}: expected group.name=value")
        groups.setdefault(group, {})[name] = _parse(text)
    return groups


def _parse(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return yaml.safe_load(text)


def run_seed(seed: int, steps: int, episodes: int, out: Path, verbose: bool = False,
             overrides: tuple[str, ...] = (), eval_only: bool = False
             ) -> tuple[int, float, float, float, float]:
    """Train one seed (unless ``eval_only``: score the run folder's checkpoints again);
    returns (seed, final mean, final std, best mean, seconds)."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format=f"[seed {seed}] %(message)s")
    start = time.monotonic()
    config = Config().replace(**settings(list(overrides)))
    run_dir = out / f"seed{seed}"
    if not eval_only:
        run_dir = train(config, steps=steps, seed=seed, out=run_dir, env_id=ENV_ID)
    final_mean, final_std = _score(run_dir, "final", config, episodes, seed)
    best_mean, _ = _score(run_dir, "best", config, episodes, seed)
    seconds = time.monotonic() - start
    print(f"seed {seed}: final {final_mean:.1f} +/- {final_std:.1f}, best {best_mean:.1f} "
          f"({seconds:.0f} s)", flush=True)
    return seed, final_mean, final_std, best_mean, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None, help="run folders (default: temp)")
    parser.add_argument("--verbose", action="store_true", help="per-episode progress")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="GROUP.NAME=VALUE", help="change a Pendulum setting, "
                        "e.g. --set td3.lr_actor=3e-4 (repeatable)")
    parser.add_argument("--eval-only", action="store_true",
                        help="score the checkpoints already in --out (e.g. with more episodes)")
    parser.add_argument("--parallel", type=int, default=1,
                        help="seeds trained at once (one process each, one torch thread)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="pendulum-td3-"))
    job = partial(run_seed, steps=args.steps, episodes=args.episodes, out=out,
                  verbose=args.verbose, overrides=tuple(args.overrides), eval_only=args.eval_only)
    Config().replace(**settings(args.overrides))  # fail early on a malformed --set
    if args.parallel > 1:
        with multiprocessing.get_context("spawn").Pool(args.parallel) as pool:
            rows = pool.map(job, args.seeds)
    else:
        rows = [job(seed) for seed in args.seeds]
    overall = float(np.mean([row[1] for row in rows]))
    passed = all(row[1] >= SEED_GOAL for row in rows) and overall >= MEAN_GOAL
    print(f"\nTD3 on {ENV_ID}, {args.steps} env steps, {args.episodes} deterministic "
          f"evaluation episodes per seed (run folders: {out})")
    print(f"settings: {settings(args.overrides)}\n")
    print("| seed | final policy: mean return | std | `best` checkpoint: mean return "
          "| wall time [s] |")
    print("|---:|---:|---:|---:|---:|")
    for seed, mean, std, best, seconds in rows:
        print(f"| {seed} | {mean:.1f} | {std:.1f} | {best:.1f} | {seconds:.0f} |")
    best_overall = float(np.mean([row[3] for row in rows]))
    print(f"| **mean** | **{overall:.1f}** | | {best_overall:.1f} | |")
    print(f"\ngoal (final policy): every seed >= {SEED_GOAL:.0f}, mean >= {MEAN_GOAL:.0f}: "
          f"{'PASS' if passed else 'FAIL'}")


if __name__ == "__main__":
    main()
