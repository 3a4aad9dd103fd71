"""A diagnostic bound, not a baseline: how low could fixed-structure feedback go on the
held-out people if its gains were chosen for each person with hindsight?

Runs the pid-preview controller with every gain set of a small grid on the held-out
suite and reports (1) the best single gain set chosen on the test set itself and (2)
the best gain set chosen per episode (an oracle gain schedule: per person and
profile, the gains with no over-force step and the lowest RMS error). Both look at the
test set, so neither may ever be a baseline or tune anything; they only say how much
of issue 14's goal (TD3 at 0.6x the best baseline's RMS error) lies within reach of
feedback of this kind at this control rate and actuation.

    .venv/bin/python benchmarks/heldout_gain_bound.py [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np

from massage_td3_ros.env.force_control import PREVIEW_GAINS
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.evaluation.controllers import PreviewPidController, baseline_env_config
from massage_td3_ros.evaluation.evaluate import aggregate_metrics, evaluate_cases
from massage_td3_ros.evaluation.suites import heldout_episodes
from massage_td3_ros.td3.cpu import cpu_label

KP = (1e-4, 2e-4, 4e-4, 8e-4)          # m/N: pid-preview's 2e-4 and 2x either side
KI = (4e-3, 8e-3, 1.6e-2, 3.2e-2)      # m/(N s): pid-preview's 8e-3 and 2x either side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    config = baseline_env_config()
    cases = heldout_episodes(config)
    env = MassageEnv(config)
    start = time.perf_counter()
    runs = {}   # (kp, ki) -> per-episode metrics
    for kp, ki in itertools.product(KP, KI):
        gains = {**PREVIEW_GAINS, "kp_m_per_n": kp, "ki_m_per_n_s": ki}
        result = evaluate_cases(PreviewPidController(**gains), cases, env=env,
                                keep_traces=False)
        runs[(kp, ki)] = [(e["episode_return"], e["metrics"]) for e in result["episodes"]]
        print(f"kp {kp:g} ki {ki:g}: RMS {result['aggregate']['rms_force_error_n']:.3f} N, "
              f"over-force episodes {result['aggregate']['terminated_episodes']:.0f}",
              flush=True)
    env.close()

    def summary(chosen: list[tuple[float, dict]]) -> dict[str, float]:
        return aggregate_metrics([r for r, _ in chosen], [m for _, m in chosen])

    def key(item):  # no over-force first, then the lowest RMS error
        _, metrics = item
        return (metrics["over_force_steps"] > 0, metrics["rms_force_error_n"])

    nominal_gains = (PREVIEW_GAINS["kp_m_per_n"], PREVIEW_GAINS["ki_m_per_n_s"])
    single = min(runs, key=lambda g: (summary(runs[g])["terminated_episodes"],
                                      summary(runs[g])["rms_force_error_n"]))
    per_episode = [min((runs[g][i] for g in runs), key=key) for i in range(len(cases))]
    rows = {"pid-preview (its tuned gains)": summary(runs[nominal_gains]),
            f"best single gain set on the test set (kp {single[0]:g}, ki {single[1]:g})":
                summary(runs[single]),
            "best gains per episode (oracle schedule)": summary(per_episode)}
    print(f"\n{cpu_label()}; {len(runs)} gain sets x {len(cases)} held-out "
          f"episodes in {time.perf_counter() - start:.0f} s")
    print("| controller | RMS error [N] | in band [%] | over-force episodes | overshoot mean "
          "/ max [N] |\n|---|---:|---:|---:|---:|")
    for name, m in rows.items():
        print(f"| {name} | {m['rms_force_error_n']:.2f} | {m['in_band_percent']:.1f} | "
              f"{m['terminated_episodes']:.0f} | {m.get('first_contact_overshoot_n', np.nan):.2f}"
              f" / {m.get('max_first_contact_overshoot_n', np.nan):.2f} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"grid": {"kp_m_per_n": KP, "ki_m_per_n_s": KI}, "rows": rows,
                       "cpu": cpu_label()}, handle, indent=2)


if __name__ == "__main__":
    main()
