"""Gradient updates per second of TD3 at the default sizes on this machine.

Default TD3Config (400-300 actor and critics, batch 256), a replay buffer filled with
random transitions of the massage env's sizes; each update = one sample + agent.train.
The measurement lives in massage_td3_ros.evaluation.bench (also ``massage-td3 bench``).

    .venv/bin/python benchmarks/bench_updates.py [--obs-dim 49] [--updates 1000] [--threads N]
"""

from __future__ import annotations

import argparse

import torch

from massage_td3_ros.evaluation.bench import updates_per_second
from massage_td3_ros.td3.config import TD3Config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--obs-dim", type=int, default=None,
                        help="observation size (default: MassageEnv's OBS_DIM)")
    parser.add_argument("--act-dim", type=int, default=3)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = updates_per_second(args.updates, obs_dim=args.obs_dim, act_dim=args.act_dim)
    config = TD3Config()
    rate = result["updates_per_s"]
    print(f"TD3 {config.actor_hidden}/{config.critic_hidden} batch {config.batch_size}, "
          f"obs {result['obs_dim']:.0f} act {args.act_dim}, torch {torch.__version__} "
          f"{torch.get_num_threads()} thread(s): {rate:.0f} gradient updates/s "
          f"({1000 / rate:.2f} ms each)")


if __name__ == "__main__":
    main()
