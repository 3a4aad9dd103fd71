"""Figures of the held-out results (issue 14), from benchmarks/heldout.py's summary.

    .venv/bin/python benchmarks/heldout_figures.py --results results/heldout/residual \
        --runs runs/people/env.action_base=pid-preview --stage 120000 [--seed 0]

Writes into ``--results``:
- ``rms_per_person.png``: RMS force error of every held-out episode, per controller
  (each baseline and each seed's policy at ``--stage``), as a box with the points;
- ``force_traces.png``: force against the target through a step change and a rhythmic
  profile, the policy of ``--seed`` at ``--stage`` against the best baseline (the
  lowest mean RMS); the episodes are fixed in advance: the first step-profile and the
  first rhythmic-profile case of the suite (docs/heldout.md, cases 8 and 16);
- ``learning_curves.png``: held-out RMS error of each seed's policy at every stage
  against env steps and against training wall time (``stage_wall_s.json`` of the run),
  with the best baseline's as a line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

TRACE_CASES = (8, 16)  # the suite's first step-profile and first rhythmic-profile case


def load(results: Path) -> list[dict]:
    entries = json.loads((results / "summary.json").read_text())
    return [e for e in entries if e["suite"] == "heldout"]


def checkpoint_of(entry: dict) -> tuple[int, int] | None:
    """(stage, seed) of a TD3 entry from its checkpoint path, None for a baseline."""
    if entry["checkpoint"] is None:
        return None
    path = Path(entry["checkpoint"])
    return int(path.stem.removeprefix("steps")), int(path.parents[1].name.removeprefix("seed"))


def rms_per_person(entries: list[dict], stage: int, out: Path) -> None:
    rows = [(e["controller"], e) for e in entries if e["checkpoint"] is None]
    rows += [(f"TD3 seed {checkpoint_of(e)[1]}", e) for e in entries
             if checkpoint_of(e) is not None and checkpoint_of(e)[0] == stage]
    values = [[ep["metrics"]["rms_force_error_n"] for ep in e["episodes"]] for _, e in rows]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.boxplot(values, showfliers=False, widths=0.5)
    jitter = np.random.default_rng(0)
    for i, points in enumerate(values, start=1):
        ax.scatter(i + jitter.uniform(-0.15, 0.15, len(points)), points, s=12, alpha=0.7)
    ax.set_xticks(range(1, len(rows) + 1), [name for name, _ in rows], rotation=20)
    ax.set_yscale("log")
    ax.set_ylabel("RMS force error per episode [N]")
    ax.set_title(f"24 held-out people, TD3 at {stage:,} steps")
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "rms_per_person.png", dpi=110)
    plt.close(fig)


def force_traces(entries: list[dict], runs: Path, stage: int, seed: int, out: Path) -> None:
    from massage_td3_ros.evaluation.controllers import make_controller
    from massage_td3_ros.evaluation.evaluate import evaluate_cases
    from massage_td3_ros.evaluation.suites import suite_episodes

    baselines = [e for e in entries if e["checkpoint"] is None]
    best = min(baselines, key=lambda e: e["aggregate"]["rms_force_error_n"])["controller"]
    checkpoint = runs / f"seed{seed}" / "checkpoints" / f"steps{stage}.pt"
    cases = [suite_episodes("heldout")[i] for i in TRACE_CASES]
    controllers = {best: make_controller(best),
                   f"TD3 seed {seed}, {stage:,} steps": make_controller("td3", checkpoint)}
    traces = {name: evaluate_cases(controller, cases)["episodes"]
              for name, controller in controllers.items()}
    fig, axes = plt.subplots(len(cases), 1, figsize=(10, 3.2 * len(cases)))
    for row, (ax, case) in enumerate(zip(axes, cases, strict=True)):
        for name, episodes in traces.items():
            trace = episodes[row]["trace"]
            t = np.arange(1, len(trace["force_n"]) + 1) / 30.0
            rms = episodes[row]["metrics"]["rms_force_error_n"]
            ax.plot(t, trace["force_n"], lw=1.0, label=f"{name} (RMS {rms:.2f} N)")
        target = np.asarray(next(iter(traces.values()))[row]["trace"]["target_force_n"])
        t = np.arange(1, len(target) + 1) / 30.0
        ax.plot(t, target, "k--", lw=1.0, label="target")
        ax.fill_between(t, target - 5.0, target + 5.0, color="0.85", label="comfort band")
        ax.set_title(f"held-out case {TRACE_CASES[row]}: {case.case}")
        ax.set_ylabel("force [N]")
        ax.legend(fontsize=8, loc="lower right")
    axes[-1].set_xlabel("time [s]")
    fig.tight_layout()
    fig.savefig(out / "force_traces.png", dpi=110)
    plt.close(fig)


def learning_curves(entries: list[dict], runs: Path, out: Path) -> None:
    baselines = [e for e in entries if e["checkpoint"] is None]
    best = min(baselines, key=lambda e: e["aggregate"]["rms_force_error_n"])
    by_seed: dict[int, list[tuple[int, float]]] = {}
    for entry in entries:
        where = checkpoint_of(entry)
        if where is not None:
            by_seed.setdefault(where[1], []).append(
                (where[0], entry["aggregate"]["rms_force_error_n"]))
    fig, (by_steps, by_time) = plt.subplots(1, 2, figsize=(11, 4))
    for seed, points in sorted(by_seed.items()):
        points.sort()
        stages, rms = zip(*points, strict=True)
        walls = json.loads((runs / f"seed{seed}" / "stage_wall_s.json").read_text())
        # stage_wall_s: seconds each stage took; the curve is against their running sum
        minutes = np.cumsum([walls[str(s)] for s in stages]) / 60.0
        by_steps.plot(stages, rms, "o-", label=f"TD3 seed {seed}")
        by_time.plot(minutes, rms, "o-", label=f"TD3 seed {seed}")
    for ax in (by_steps, by_time):
        ax.axhline(best["aggregate"]["rms_force_error_n"], color="k", ls="--",
                   label=f"{best['controller']} (best baseline)")
        ax.axhline(0.6 * best["aggregate"]["rms_force_error_n"], color="g", ls=":",
                   label="goal: 0.6x best baseline")
        ax.set_ylabel("held-out RMS force error [N]")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    by_steps.set_xlabel("env steps")
    by_time.set_xlabel("training wall time [min] (3 seeds at once, 2 cores)")
    fig.tight_layout()
    fig.savefig(out / "learning_curves.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True, help="heldout.py's --results folder")
    parser.add_argument("--runs", required=True, help="learning.py's run folder (seed<N>/)")
    parser.add_argument("--stage", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0, help="the policy in force_traces.png")
    args = parser.parse_args()
    results, runs = Path(args.results), Path(args.runs)
    entries = load(results)
    rms_per_person(entries, args.stage, results)
    learning_curves(entries, runs, results)
    force_traces(entries, runs, args.stage, args.seed, results)
    print(f"wrote {results}/rms_per_person.png, learning_curves.png, force_traces.png")


if __name__ == "__main__":
    main()
