"""Env steps per second with the full scene in DIRECT mode (resets included), and the
time of a reset to a new person.

    .venv/bin/python benchmarks/bench_env.py [--steps 6000] [--randomize] [--quick]

Gentle noisy pressing, so episodes run to the time limit. Also a row of
``benchmarks/bench.py``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

# --quick: tiny counts (a smoke test, not a figure); bench.py --quick uses them too.
QUICK = {"steps": 200, "warmup": 10}


def env_steps_per_second(steps: int = 6000, randomize: bool = False, warmup: int = 100,
                         seed: int = 0) -> dict[str, float]:
    """Steps/s of MassageEnv in DIRECT mode, resets included.

    The actions hold the tool 6 mm deeper than the path with some noise (a plausible
    early-training policy, in either action mode), so episodes run to the time limit
    rather than ending at once on over-force.
    """
    from massage_td3_ros.env.massage_env import MassageEnv

    env = MassageEnv(randomize=randomize)
    rng = np.random.default_rng(seed)
    deeper = np.array([0.0, 0.0, -0.006])
    try:
        env.reset(seed=seed)
        for _ in range(warmup):  # caches, first contacts
            env.step(env.action_toward(deeper))
        done_steps = resets = 0
        start = time.perf_counter()
        while done_steps < steps:
            action = np.clip(env.action_toward(deeper) + rng.normal(0.0, 0.3, 3), -1, 1)
            _, _, terminated, truncated, _ = env.step(action)
            done_steps += 1
            if terminated or truncated:
                env.reset()
                resets += 1
        elapsed = time.perf_counter() - start
        substeps = env.config.substeps
    finally:
        env.close()
    return {"steps": float(done_steps), "resets": float(resets), "seconds": elapsed,
            "steps_per_s": done_steps / elapsed, "physics_substeps": float(substeps)}


def reset_ms(resets: int = 20, seed: int = 1000) -> dict[str, float]:
    """Milliseconds per reset to a new person (no surface map cached), with the surface
    map's rays on one thread and on RAY_THREADS, interleaved person by person."""
    from massage_td3_ros.env import strokes
    from massage_td3_ros.env.massage_env import MassageEnv

    threaded = strokes.RAY_THREADS
    env = MassageEnv()
    times: dict[int, list[float]] = {1: [], threaded: []}
    try:
        env.reset(seed=seed)   # the scene built once
        for i in range(resets):
            for threads in times:
                strokes.RAY_THREADS = threads
                start = time.perf_counter()
                env.reset(seed=seed + 1 + 2 * i + (threads != 1))   # always a new person
                times[threads].append(time.perf_counter() - start)
    finally:
        strokes.RAY_THREADS = threaded
        env.close()
    return {"threads": float(threaded), "ms": 1e3 * float(np.median(times[threaded])),
            "ms_one_thread": 1e3 * float(np.median(times[1])), "resets": float(resets)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--randomize", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny counts (a smoke test)")
    args = parser.parse_args()
    counts = QUICK if args.quick else {"steps": args.steps}
    result = env_steps_per_second(randomize=args.randomize, **counts)
    print(f"{result['steps']:.0f} env steps ({result['physics_substeps']:.0f} physics steps "
          f"each, {result['resets']:.0f} resets) in {result['seconds']:.2f} s: "
          f"{result['steps_per_s']:.0f} env steps/s")
    reset = reset_ms(**({"resets": 2} if args.quick else {}))
    print(f"reset to a new person: {reset['ms']:.1f} ms with the surface map's rays on "
          f"{reset['threads']:.0f} threads, {reset['ms_one_thread']:.1f} ms on one (median "
          f"of {reset['resets']:.0f} each)")


if __name__ == "__main__":
    main()
