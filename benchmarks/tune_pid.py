"""Tune the PID baseline's gains on MassageEnv by coordinate search.

Objective: pooled RMS force error over the four stroke/direction cases (one
episode each, default env config), any over-force step disqualifying. Starting from
a hand guess, each round tries every value of one gain's grid with the others held,
keeps the best, and moves to the next gain; rounds repeat until nothing improves.

    .venv/bin/python benchmarks/tune_pid.py [--rounds 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time

from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.evaluation.controllers import PidController
from massage_td3_ros.evaluation.evaluate import evaluate

GRIDS = {
    "kp_m_per_n": (0.0, 1e-4, 2e-4, 3e-4, 4e-4, 6e-4, 8e-4, 1.2e-3, 1.6e-3),
    "ki_m_per_n_s": (1e-3, 2e-3, 4e-3, 8e-3, 1.2e-2, 1.6e-2, 2.4e-2, 3.2e-2, 4.8e-2),
    "kd_m_s_per_n": (0.0, 2e-6, 5e-6, 1e-5, 2e-5, 4e-5),
    "derivative_filter": (0.0, 0.3, 0.5, 0.7),
}
START = {"kp_m_per_n": 2e-4, "ki_m_per_n_s": 2e-3, "kd_m_s_per_n": 0.0,
         "derivative_filter": 0.5}


def score(env: MassageEnv, gains: dict[str, float]) -> tuple[float, dict[str, float]]:
    """(objective, aggregate metrics) of one gain set; inf if any step over-forces."""
    result = evaluate(PidController(**gains), episodes=4, seed=0, env=env, keep_traces=False)
    metrics = result["aggregate"]
    if metrics["over_force_steps"] > 0 or metrics["terminated_episodes"] > 0:
        return float("inf"), metrics
    return metrics["rms_force_error_n"], metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=None, help="write the best gains and metrics here")
    args = parser.parse_args()
    env = MassageEnv()
    start_s = time.perf_counter()
    best = dict(START)
    best_score, best_metrics = score(env, best)
    print(f"start {best}: RMS {best_score:.3f} N")
    trials = 1
    for round_index in range(args.rounds):
        improved = False
        for name, grid in GRIDS.items():
            for value in grid:
                if value == best[name]:
                    continue
                trial = {**best, name: value}
                value_score, metrics = score(env, trial)
                trials += 1
                if value_score < best_score - 1e-4:
                    best, best_score, best_metrics, improved = trial, value_score, metrics, True
            print(f"round {round_index + 1} {name}: best {best[name]:g} -> RMS "
                  f"{best_score:.3f} N, in band {best_metrics['in_band_percent']:.1f} %")
        if not improved:
            break
    env.close()
    print(f"{trials} gain sets in {time.perf_counter() - start_s:.0f} s; best {best}: "
          f"RMS {best_score:.3f} N, in band {best_metrics['in_band_percent']:.1f} %, "
          f"mean force {best_metrics['mean_force_n']:.2f} N")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"gains": best, "metrics": best_metrics}, handle, indent=2)


if __name__ == "__main__":
    main()
