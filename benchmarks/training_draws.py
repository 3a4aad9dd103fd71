"""A baseline on the first training draws, under plant settings (a diagnostic for issue 14).

Plant changes (a force governor, the tissue's damping, ...) are chosen on the draws
training meets, never on the held-out people. This runs a baseline controller (its
shipped gains) on the first ``--episodes`` training episodes of seed 0 (reset seeds
``episode_seed(0, i)``, as `benchmarks/tune_pid.py --distribution training` reads them)
once per ``--candidate`` (a comma-separated list of ``group.name=value`` settings; an
empty one is the default plant) and prints one row per candidate: episodes ended by
over-force, pooled RMS force error, steps in band, wall time.

    .venv/bin/python benchmarks/training_draws.py [--controller pid-preview]
        [--episodes 200] [--jobs 2] --candidate "" --candidate env.force_governor_n=38,...
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

from massage_td3_ros.config import load_config
from massage_td3_ros.evaluation.controllers import make_controller
from massage_td3_ros.evaluation.evaluate import env_config_for, evaluate_cases
from massage_td3_ros.evaluation.suites import training_episodes
from massage_td3_ros.td3.cpu import cpu_label


def overrides_of(candidate: str) -> list[str]:
    """``"a.b=1,c.d=2"`` -> ``["a.b=1", "c.d=2"]``; ``""`` -> the default plant."""
    return [item.strip() for item in candidate.split(",") if item.strip()]


def run(controller_name: str, candidate: str, episodes: int) -> tuple[str, dict, float]:
    controller = make_controller(controller_name)
    config = env_config_for(controller, load_config(None, overrides_of(candidate)).env)
    start = time.perf_counter()
    result = evaluate_cases(controller, training_episodes(episodes, seed=0), config,
                            keep_traces=False)
    return candidate, result["aggregate"], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--controller", default="pid-preview")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--candidate", action="append", default=[],
                        help="comma-separated group.name=value settings (so no list "
                             "values); repeatable; an empty string is the default plant")
    args = parser.parse_args()
    candidates = args.candidate or [""]
    for candidate in candidates:  # refuse a bad setting before any run
        load_config(None, overrides_of(candidate))
    print(f"{args.controller} on the first {args.episodes} training draws of seed 0; "
          f"{cpu_label()}, {args.jobs} job(s)\n")
    print("| candidate | over-force episodes | RMS [N] | in band [%] | time [s] |")
    print("|---|---:|---:|---:|---:|")
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        jobs = [pool.submit(run, args.controller, c, args.episodes) for c in candidates]
        for job in jobs:
            candidate, aggregate, seconds = job.result()
            print(f"| {candidate or '(default)'} | {aggregate['terminated_episodes']:.0f} | "
                  f"{aggregate['rms_force_error_n']:.3f} | {aggregate['in_band_percent']:.1f}"
                  f" | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
