"""Env steps per second with the full scene in DIRECT mode (resets included).

    .venv/bin/python benchmarks/bench_env.py [--steps 6000] [--randomize]

The measurement lives in massage_td3_ros.evaluation.bench (also used by
``massage-td3 bench``): gentle noisy pressing, so episodes run to the time limit.
"""

from __future__ import annotations

import argparse

from massage_td3_ros.evaluation.bench import env_steps_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--randomize", action="store_true")
    args = parser.parse_args()
    result = env_steps_per_second(steps=args.steps, randomize=args.randomize)
    print(f"{result['steps']:.0f} env steps ({result['physics_substeps']:.0f} physics steps "
          f"each, {result['resets']:.0f} resets) in {result['seconds']:.2f} s: "
          f"{result['steps_per_s']:.0f} env steps/s")


if __name__ == "__main__":
    main()
