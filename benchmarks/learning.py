"""Learning results: train TD3 in-process on 3 seeds, evaluate each final and best
checkpoint against the ``path`` and ``pid`` baselines, write ``results/``.

    .venv/bin/python benchmarks/learning.py --stages 10000 20000 30000 [--seeds 0 1 2]
        [--jobs 3] [--set GROUP.NAME=VALUE ...] [--runs runs/learning] [--results results]
        [--budget N] [--scan] [--learner-process]

Training uses config/train.yaml as it is (episodes cover both strokes and both
directions, as the evaluation does); ``--set`` changes a value for an experiment and
names the run folder after it. Each seed is trained to every stage in turn (the
trainer resumes exactly from its latest checkpoint and replay buffer), and the final
checkpoint of each stage is kept as ``checkpoints/steps<N>.pt``, so one run gives the
policy at several budgets. The report evaluates ``--budget`` (default: the last
stage): its final and best checkpoints; ``--scan`` also evaluates every stage to find
the smallest budget that beats both baselines. ``--learner-process`` runs each seed's
gradient updates in a learner process, as the ROS agent node does by default
(training/learner_process.py); the run folder's name then ends in ``-learner-process``.

Runs and checkpoints go under ``--runs`` (gitignored); ``results/`` gets
README-table.md, learning_curves.png, force_profile.png and summary.json (all small).
A run folder that already reached a stage is not trained again.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from massage_td3_ros.config import Config, load_config, parse_overrides

LOG = logging.getLogger("learning")
# Bookkeeping only (no effect on learning): no TensorBoard, figures or periodic saves,
# a buffer that fits the largest budget, evaluation episodes covering the four cases.
BOOKKEEPING = {"log_tensorboard": False, "buffer_size": 200_000, "checkpoint_every_steps": 0,
               "plot_every_episodes": 0, "eval_episodes": 4}


def training_config(base: Config, args: argparse.Namespace) -> Config:
    """The yaml's values, ``--set`` overrides, and the bookkeeping settings."""
    groups = parse_overrides(args.overrides)
    groups["train"] = {**BOOKKEEPING, "eval_every_episodes": args.eval_every,
                       **groups.get("train", {})}
    return base.replace(**groups)


def run_tag(overrides: list[str]) -> str:
    """The run folder's name: ``defaults`` or the overrides, e.g. ``td3.lr_actor=0.001``."""
    return "-".join(item.replace("/", "_") for item in overrides) or "defaults"


def train_seed(config: Config, stages: list[int], seed: int, run_dir: str,
               learner_process: bool = False) -> dict:
    """Train one seed through every stage (in a worker process); returns wall times."""
    import shutil

    from massage_td3_ros.training.trainer import train

    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s seed{seed} %(message)s",
                        datefmt="%H:%M:%S")
    timing_file = Path(run_dir) / "stage_wall_s.json"
    wall = json.loads(timing_file.read_text()) if timing_file.is_file() else {}
    for stage in sorted(stages):
        saved = Path(run_dir) / "checkpoints" / f"steps{stage}.pt"
        if saved.is_file():
            continue
        start = time.perf_counter()
        train(config, steps=stage, seed=seed, out=run_dir, learner_process=learner_process)
        shutil.copyfile(Path(run_dir) / "checkpoints" / "final.pt", saved)
        wall[str(stage)] = time.perf_counter() - start
        timing_file.write_text(json.dumps(wall))
    return {"seed": seed, "run_dir": run_dir, "stage_wall_s": wall,
            "wall_s": sum(wall.get(str(s), 0.0) for s in stages)}


def stage_timings(seed: int, run_dir: Path, budget: int) -> dict:
    """Wall time to train ``run_dir`` up to ``budget`` (sum of its stages)."""
    wall = json.loads((run_dir / "stage_wall_s.json").read_text())
    return {"seed": seed, "run_dir": str(run_dir), "stage_wall_s": wall,
            "wall_s": sum(v for k, v in wall.items() if int(k) <= budget)}


def read_curve(run_dir: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    with open(run_dir / "episodes.csv") as handle:
        rows = list(csv.DictReader(handle))
    steps = np.array([float(r["env_steps"]) for r in rows])
    keys = ("episode_return", "metric_rms_force_error_n", "metric_in_band_fraction",
            "metric_mean_force_n")
    return steps, {k: np.array([float(r.get(k) or "nan") for r in rows]) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, nargs="+", default=[10_000, 20_000, 30_000])
    parser.add_argument("--budget", type=int, default=None,
                        help="stage reported in the table (default: the last)")
    parser.add_argument("--scan", action="store_true", help="evaluate every stage too")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=3, help="seeds trained at once")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="GROUP.NAME=VALUE",
                        help="change a config value for this experiment (repeatable)")
    parser.add_argument("--eval-every", type=int, default=10,
                        help="training episodes between the evaluations choosing 'best'")
    parser.add_argument("--episodes", type=int, default=4, help="evaluation episodes")
    parser.add_argument("--config", default=None)
    parser.add_argument("--runs", default="runs/learning")
    parser.add_argument("--results", default="results")
    parser.add_argument("--train-only", action="store_true")
    parser.add_argument("--learner-process", action="store_true",
                        help="the gradient updates in a learner process (the ROS agent's default)")
    parser.add_argument("--report-only", action="store_true",
                        help="no training: evaluate the stages already saved")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    base = load_config(args.config)
    config = training_config(base, args)
    args.budget = args.budget or max(args.stages)
    tag = run_tag(args.overrides) + ("-learner-process" if args.learner_process else "")
    runs = Path(args.runs) / tag
    jobs = [(config, args.stages, seed, str(runs / f"seed{seed}"), args.learner_process)
            for seed in args.seeds]
    if args.report_only:
        timings = [stage_timings(seed, runs / f"seed{seed}", args.budget) for seed in args.seeds]
    else:
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            timings = list(pool.map(train_seed, *zip(*jobs)))
    for timing in timings:
        LOG.info("seed %d trained in %.0f s", timing["seed"], timing["wall_s"])
    if args.train_only:
        return
    from learning_report import write_results  # benchmarks/learning_report.py
    write_results(config, runs, args, timings, Path(args.results))


if __name__ == "__main__":
    main()
