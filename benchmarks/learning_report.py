"""Evaluation, table and figures of benchmarks/learning.py (kept apart to stay short)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from massage_td3_ros.config import Config
from massage_td3_ros.evaluation.controllers import (
    PathController,
    PidController,
    PolicyController,
)
from massage_td3_ros.evaluation.evaluate import METRICS, evaluate
from massage_td3_ros.training.plots import moving_average

LOG = logging.getLogger("learning")


def _mean_spread_row(label: str, aggregates: list[dict[str, float]]) -> str:
    cells = []
    for key, _, fmt in METRICS:
        values = np.array([a[key] for a in aggregates])
        if key in ("over_force_steps", "wrong_link_steps"):
            cells.append(f"{values.sum():.0f} (max {values.max():.0f})")
        else:
            cells.append(f"{fmt.format(values.mean())} ± {fmt.format(values.std())}")
    return f"| {label} | " + " | ".join(cells) + " |"


def _plain_row(label: str, aggregate: dict[str, float]) -> str:
    return f"| {label} | " + " | ".join(fmt.format(aggregate[key])
                                        for key, _, fmt in METRICS) + " |"


# The baselines, each on the default env except where its row says otherwise: the PID
# was tuned with the action as the correction itself, and that is still its best mode.
BASELINES = {"path": ("path (no correction)", PathController, {}),
             "pid": ("pid (tuned), increment actions", PidController, {}),
             "pid_offset": ("pid (tuned), offset actions", PidController,
                            {"action_mode": "offset"})}


def beats(td3: dict[str, float], baselines: dict[str, dict]) -> bool:
    """The goal: lower RMS error and more in-band steps than every baseline, no
    over-force step and no episode ended early."""
    rows = [entry["aggregate"] for entry in baselines.values()]
    return (td3["rms_force_error_n"] < min(r["rms_force_error_n"] for r in rows)
            and td3["in_band_percent"] > max(r["in_band_percent"] for r in rows)
            and td3["over_force_steps"] == 0 and td3["terminated_episodes"] == 0)


def table(baselines: dict, td3: dict[str, list[dict]], verdicts: dict, args) -> str:
    header = "| controller | " + " | ".join(h for _, h, _ in METRICS) + " |"
    lines = [header, "|---|" + "---:|" * len(METRICS)]
    for name, (label, _, _) in BASELINES.items():
        lines.append(_plain_row(label, baselines[name]["aggregate"]))
    seeds = len(args.seeds)
    names = {"final": f"at {args.budget} steps", "best": "best"}
    for kind in ("final", "best"):
        aggregates = [entry["aggregate"] for entry in td3[kind]]
        lines.append(_mean_spread_row(f"TD3 {names[kind]} ({seeds} seeds, mean ± std)",
                                      aggregates))
    for kind in ("final", "best"):
        for seed, entry in zip(args.seeds, td3[kind]):
            lines.append(_plain_row(f"TD3 {names[kind]}, seed {seed}", entry["aggregate"]))
    lines.append("")
    changed = ", ".join(f"`{item}`" for item in args.overrides) or "none"
    lines.append(f"TD3 trained with config/train.yaml (both strokes, both directions); "
                 f"changed for this run: {changed}. 'best' = the checkpoint with the best "
                 "training-time evaluation return over the whole run.")
    lines.append(f"{args.episodes} evaluation episodes per controller (along the spine and "
                 "across the back, forward and reverse), default env (target 20 N, band "
                 "±5 N). Over-force/wrong-link: total over seeds (largest single seed).")
    for kind, ok in verdicts.items():
        lines.append(f"- TD3 {kind} beats every baseline (RMS error, in-band %, no "
                     "over-force) on all seeds: **" + ("yes" if all(ok) else "no")
                     + "** (per seed: " + ", ".join("yes" if v else "no" for v in ok) + ")")
    return "\n".join(lines)


def plot_curves(runs: Path, seeds: list[int], path: Path, baselines: dict, budget_steps: int,
                target_n: float, band_n: float) -> None:
    """RMS force error and mean force of the training episodes (exploring, 5-episode
    moving average), mean and min-max band across seeds, against the baselines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from learning import read_curve

    curves = [read_curve(runs / f"seed{seed}") for seed in seeds]
    grid = np.linspace(0, min(min(c[0].max() for c in curves), budget_steps), 200)
    figure, axes = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    panels = (("metric_rms_force_error_n", "RMS force error [N]", "rms_force_error_n"),
              ("metric_mean_force_n", "mean force [N]", "mean_force_n"))
    for axis, (key, label, base_key) in zip(axes, panels):
        values = []
        for steps, columns in curves:
            smooth = moving_average(columns[key], 5)
            values.append(np.interp(grid, steps, smooth))
        values = np.array(values)
        axis.plot(grid, values.mean(0), color="C0", label="TD3 training episodes (mean)")
        axis.fill_between(grid, values.min(0), values.max(0), color="C0", alpha=0.25,
                          label=f"min-max over {len(seeds)} seeds")
        for name, colour in (("path", "C3"), ("pid_offset", "C2")):
            axis.axhline(baselines[name]["aggregate"][base_key], color=colour, ls="--",
                         label=f"{BASELINES[name][0]} (evaluation)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[1].axhspan(target_n - band_n, target_n + band_n, color="0.85", zorder=0,
                    label=f"target ± {band_n:g} N")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8, loc="lower right")
    axes[1].set_xlabel("training env steps")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def plot_force_profile(episodes: dict[str, dict], band_n: float, path: Path) -> None:
    """Force over one evaluation episode per controller, the target band shaded."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 3.4))
    longest = max(episodes.values(), key=lambda e: len(e["trace"]["target_force_n"]))
    target = np.array(longest["trace"]["target_force_n"])
    time_s = np.arange(1, len(target) + 1) / 30.0
    axis.fill_between(time_s, target - band_n, target + band_n, color="0.85",
                      label=f"target ± {band_n:g} N")
    top = float(target.max() + band_n)
    for (label, episode), colour in zip(episodes.items(), ("C0", "C3", "C2")):
        force = np.array(episode["trace"]["force_n"])
        top = max(top, float(force.max()))
        axis.plot(np.arange(1, len(force) + 1) / 30.0, force, color=colour, lw=1, label=label)
    axis.set_ylim(0, top * 1.35)
    axis.set_xlabel("time [s]")
    axis.set_ylabel("tool force [N]")
    axis.set_title(f"one evaluation episode ({longest['stroke']}, {longest['direction']})")
    axis.legend(fontsize=8, ncol=4, loc="upper center")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def run_policy(checkpoint: Path, run) -> dict:
    return run(PolicyController(checkpoint))


def scan_stages(runs: Path, args, baselines: dict, run) -> str:
    """A table of every saved stage: per-seed RMS error, in-band %, over-force, verdict."""
    lines = ["| budget [steps] | RMS error [N] per seed | in band [%] per seed | "
             "over-force steps | beats every baseline on all seeds |", "|---:|---|---|---:|---|"]
    for stage in sorted(args.stages):
        files = [runs / f"seed{seed}" / "checkpoints" / f"steps{stage}.pt" for seed in args.seeds]
        if not all(f.is_file() for f in files):
            continue
        aggregates = [run_policy(f, run)["aggregate"] for f in files]
        ok = [beats(a, baselines) for a in aggregates]
        lines.append(f"| {stage} | " + ", ".join(f"{a['rms_force_error_n']:.2f}"
                                               for a in aggregates)
                     + " | " + ", ".join(f"{a['in_band_percent']:.1f}" for a in aggregates)
                     + f" | {sum(a['over_force_steps'] for a in aggregates):.0f} | "
                     + ("yes" if all(ok) else "no") + " |")
    return "\n".join(lines)


def write_results(base: Config, runs: Path, args: argparse.Namespace, timings: list[dict],
                  results: Path) -> None:
    """Evaluate baselines and every seed's final and best checkpoint; write results/."""
    results.mkdir(parents=True, exist_ok=True)
    env_cfg = base.env

    def run(controller, **env_changes) -> dict:
        config = base.replace(env=env_changes).env if env_changes else env_cfg
        return evaluate(controller, episodes=args.episodes, seed=0, env_config=config)

    baselines = {name: run(make(), **changes)
                 for name, (_, make, changes) in BASELINES.items()}
    td3: dict[str, list[dict]] = {"final": [], "best": []}
    for seed in args.seeds:
        folder = runs / f"seed{seed}" / "checkpoints"
        for kind, name in (("final", f"steps{args.budget}.pt"), ("best", "best.pt")):
            td3[kind].append(run_policy(folder / name, run))
    verdicts = {kind: [beats(e["aggregate"], baselines) for e in entries]
                for kind, entries in td3.items()}
    text = table(baselines, td3, verdicts, args)
    wall = ", ".join(f"seed {t['seed']} {t['wall_s'] / 60:.1f} min" for t in timings)
    text += (f"\n\nTraining wall time to {args.budget} steps ({args.jobs} seeds at once on 2 "
             f"cores shared with other work): {wall}.\n")
    if args.scan:
        text += "\nEvery saved budget (final checkpoint of each stage):\n\n"
        text += scan_stages(runs, args, baselines, run) + "\n"
    (results / "README-table.md").write_text(text)
    print(text)
    plot_curves(runs, args.seeds, results / "learning_curves.png", baselines, args.budget,
                env_cfg.target_force_n, env_cfg.force_band_n)
    best_seed = int(np.argmin([e["aggregate"]["rms_force_error_n"] for e in td3["final"]]))
    profile = {f"TD3 (seed {args.seeds[best_seed]}, final)": td3["final"][best_seed]["episodes"][0],
               "path": baselines["path"]["episodes"][0],
               "pid (offset actions)": baselines["pid_offset"]["episodes"][0]}
    plot_force_profile(profile, env_cfg.force_band_n, results / "force_profile.png")
    summary = {"args": vars(args), "timings": timings, "verdicts": verdicts,
               "baselines": {k: v["aggregate"] for k, v in baselines.items()},
               "td3": {k: [e["aggregate"] for e in v] for k, v in td3.items()}}
    (results / "summary.json").write_text(json.dumps(summary, indent=1))
    LOG.info("wrote %s", results)
