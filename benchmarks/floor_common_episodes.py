"""Compare the controllers of force_floor.py runs over the same episodes.

An episode's RMS error counts its steps only until it ends on over-force, so a
controller that ends hard episodes early can score a lower RMS over all episodes than
one that runs them to the end. This pools each controller's error over the episodes
that no controller compared ended on over-force (from each episode's RMS and step
count), so every figure covers the same episodes and steps.

    .venv/bin/python benchmarks/floor_common_episodes.py A.json [B.json ...]
        [--heldout results/heldout/<label>/summary.json --stage N] [--only TEXT ...]

``--heldout`` adds, from a ``benchmarks/heldout.py`` summary, pid-train, pid-preview
and every TD3 checkpoint of ``--stage`` steps (episodes matched by their case).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def pooled_rms(episodes: list[dict], cases: set[str]) -> float:
    """RMS force error over every step of ``cases``' episodes."""
    chosen = [e["metrics"] for e in episodes if e["case"] in cases]
    squared = sum(m["rms_force_error_n"] ** 2 * m["steps"] for m in chosen)
    return float(np.sqrt(squared / sum(m["steps"] for m in chosen)))


def heldout_controllers(path: str, stage: int | None) -> dict[str, list[dict]]:
    """pid-train, pid-preview and the TD3 checkpoints of ``stage`` steps of a heldout.py
    summary, on the held-out suite."""
    wanted = {}
    with open(path) as handle:
        for entry in json.load(handle):
            checkpoint = entry["checkpoint"] or ""
            if entry["suite"] != "heldout":
                continue
            if entry["controller"] in ("pid-train", "pid-preview") and not checkpoint:
                wanted[entry["controller"]] = entry["episodes"]
            elif checkpoint.endswith(f"steps{stage}.pt"):
                seed = Path(checkpoint).parent.parent.name
                wanted[f"TD3 {stage} steps, {seed}"] = entry["episodes"]
    return wanted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="force_floor.py --json files")
    parser.add_argument("--heldout", default=None, help="a heldout.py summary.json")
    parser.add_argument("--stage", type=int, default=None, help="its TD3 checkpoints' steps")
    parser.add_argument("--only", nargs="+", default=None, metavar="TEXT",
                        help="compare only the controllers whose name contains one of these")
    args = parser.parse_args()
    controllers: dict[str, list[dict]] = {}
    for path in args.runs:
        with open(path) as handle:
            for name, result in json.load(handle)["results"].items():
                label = name if name not in controllers else f"{name} ({path})"
                if "episodes" not in result:
                    raise SystemExit(f"{path}: no per-episode metrics (an older run)")
                # "<seed> <case>" -> "<case>", as heldout.py names them
                controllers[label] = [{**e, "case": e["case"].split(" ", 1)[1]}
                                      for e in result["episodes"]]
    if args.heldout:
        controllers.update(heldout_controllers(args.heldout, args.stage))
    if args.only:
        controllers = {name: episodes for name, episodes in controllers.items()
                       if any(text in name for text in args.only)}
    all_cases = set.intersection(*({e["case"] for e in episodes}
                                   for episodes in controllers.values()))
    ended = {e["case"] for episodes in controllers.values() for e in episodes
             if e["metrics"]["over_force_steps"] > 0}
    common = all_cases - ended
    print(f"{len(common)} of {len(all_cases)} episodes no controller ended on over-force "
          f"(left out: {', '.join(sorted(ended & all_cases))})\n")
    print("| controller | RMS over all its steps [N] | RMS over the common episodes [N] | "
          "steps there |")
    print("|---|---:|---:|---:|")
    for name, episodes in controllers.items():
        steps = sum(e["metrics"]["steps"] for e in episodes if e["case"] in common)
        print(f"| {name} | {pooled_rms(episodes, all_cases):.2f} | "
              f"{pooled_rms(episodes, common):.2f} | {steps:.0f} |")


if __name__ == "__main__":
    main()
