"""Gradient updates per second of TD3 at the default sizes on this machine.

Default TD3Config (400-300 actor and critics, batch 256), a replay buffer filled with
random transitions of the massage env's sizes; each update = one sample + agent.train.
Also a row of ``benchmarks/bench.py``.

    .venv/bin/python benchmarks/bench_updates.py [--obs-dim 49] [--updates 1000] [--threads N]
                                                 [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.td3.replay_buffer import ReplayBuffer

# --quick: tiny counts (a smoke test, not a figure); bench.py --quick uses them too.
QUICK = {"updates": 20, "warmup": 2, "buffer_rows": 512}


def updates_per_second(updates: int = 1000, obs_dim: int | None = None, act_dim: int = 3,
                       warmup: int = 50, buffer_rows: int = 10_000) -> dict[str, float]:
    """TD3 gradient updates/s at the default TD3Config sizes; each update is one batch
    sample from a replay buffer of random transitions plus ``agent.train``."""
    if obs_dim is None:
        from massage_td3_ros.env.observation import OBS_DIM
        obs_dim = OBS_DIM
    config = TD3Config()
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(buffer_rows, obs_dim, act_dim, rng)
    for _ in range(buffer_rows):
        buffer.add(rng.normal(size=obs_dim), rng.uniform(-1, 1, act_dim), rng.normal(),
                   rng.normal(size=obs_dim), False)
    agent = TD3(obs_dim, act_dim, config)
    for _ in range(warmup):
        agent.train(buffer.sample(config.batch_size))
    start = time.perf_counter()
    for _ in range(updates):
        agent.train(buffer.sample(config.batch_size))
    elapsed = time.perf_counter() - start
    return {"updates": float(updates), "seconds": elapsed, "updates_per_s": updates / elapsed,
            "batch_size": float(config.batch_size), "torch_threads": float(torch.get_num_threads()),
            "obs_dim": float(obs_dim)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--obs-dim", type=int, default=None,
                        help="observation size (default: MassageEnv's OBS_DIM)")
    parser.add_argument("--act-dim", type=int, default=3)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--quick", action="store_true", help="tiny counts (a smoke test)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    counts = QUICK if args.quick else {"updates": args.updates}
    result = updates_per_second(obs_dim=args.obs_dim, act_dim=args.act_dim, **counts)
    config = TD3Config()
    rate = result["updates_per_s"]
    print(f"TD3 {config.actor_hidden}/{config.critic_hidden} batch {config.batch_size}, "
          f"obs {result['obs_dim']:.0f} act {args.act_dim}, torch {torch.__version__} "
          f"{torch.get_num_threads()} thread(s): {rate:.0f} gradient updates/s "
          f"({1000 / rate:.2f} ms each)")


if __name__ == "__main__":
    main()
