"""Env steps per second with the full scene in DIRECT mode (resets included).

    .venv/bin/python benchmarks/bench_env.py [--steps 6000] [--randomize]

The actions press gently with some noise (a plausible early-training policy), so
episodes run to the time limit rather than ending at once on over-force.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from massage_td3_ros.env.massage_env import MassageEnv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--randomize", action="store_true")
    args = parser.parse_args()
    env = MassageEnv(randomize=args.randomize)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(100):  # warm-up (caches, first contacts)
        env.step(np.array([0.0, 0.0, -0.2]))
    steps = resets = 0
    start = time.perf_counter()
    while steps < args.steps:
        action = np.clip(np.array([0.0, 0.0, -0.2]) + rng.normal(0.0, 0.3, 3), -1, 1)
        _, _, terminated, truncated, _ = env.step(action)
        steps += 1
        if terminated or truncated:
            env.reset()
            resets += 1
    elapsed = time.perf_counter() - start
    env.close()
    print(f"{steps} env steps ({env.config.substeps} physics steps each, {resets} resets) "
          f"in {elapsed:.2f} s: {steps / elapsed:.0f} env steps/s")


if __name__ == "__main__":
    main()
