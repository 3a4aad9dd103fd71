"""Gradient updates per second of TD3 at the default sizes on this machine.

Default TD3Config (400-300 actor and critics, batch 256), a replay buffer filled with
random transitions of the massage env's sizes; each update = one sample + agent.train.

    .venv/bin/python benchmarks/bench_updates.py [--obs-dim 39] [--updates 1000] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.td3.replay_buffer import ReplayBuffer


def updates_per_second(obs_dim: int, act_dim: int, updates: int, warmup: int = 50) -> float:
    config = TD3Config()
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(10_000, obs_dim, act_dim, rng)
    for _ in range(10_000):
        buffer.add(rng.normal(size=obs_dim), rng.uniform(-1, 1, act_dim), rng.normal(),
                   rng.normal(size=obs_dim), False, False)
    agent = TD3(obs_dim, act_dim, config)
    for _ in range(warmup):
        agent.train(buffer.sample(config.batch_size))
    start = time.perf_counter()
    for _ in range(updates):
        agent.train(buffer.sample(config.batch_size))
    return updates / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--obs-dim", type=int, default=None,
                        help="observation size (default: MassageEnv's OBS_DIM)")
    parser.add_argument("--act-dim", type=int, default=3)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    obs_dim = args.obs_dim
    if obs_dim is None:
        from massage_td3_ros.env.observation import OBS_DIM
        obs_dim = OBS_DIM
    if args.threads:
        torch.set_num_threads(args.threads)
    rate = updates_per_second(obs_dim, args.act_dim, args.updates)
    config = TD3Config()
    print(f"TD3 {config.actor_hidden}/{config.critic_hidden} batch {config.batch_size}, "
          f"obs {obs_dim} act {args.act_dim}, torch {torch.__version__} "
          f"{torch.get_num_threads()} thread(s): {rate:.0f} gradient updates/s "
          f"({1000 / rate:.2f} ms each)")


if __name__ == "__main__":
    main()
