"""Training-loop settings: budget, warm-up, update ratio, checkpoints, logging."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from massage_td3_ros.params import param


@dataclass(frozen=True)
class TrainConfig:
    """How long to train, when to update, evaluate, checkpoint, log and plot."""

    # 60k: of the budgets tried (20k, 40k, 60k) the smallest whose policy beat the tuned
    # PID on every seed; 28-29 min through ROS at two updates per step on the slowest
    # 2-core machine measured (README, Quick start).
    total_steps: int = param(60_000, "Env steps to train for.", 1, 10**10)
    warmup_steps: int = param(5_000, "Env steps of uniformly random actions before the "
                              "policy acts and updates start.", 0, 10**9)
    # 2: at 60k steps the updates, not the data, were short: two per step matched 120k
    # steps at one, on six seeds (README, Results).
    updates_per_step: float = param(2.0, "Gradient updates per env step after warm-up "
                                    "(fractions accumulate: 0.5 = one every two steps).",
                                    0.0, 1000.0)
    learner_in_flight: int = param(
        2, "With a learner process: update requests it may hold at once. The acting "
        "weights lag this many states' updates; more keeps the learner busy through "
        "episode resets and slow round trips.", 1, 64)
    seed: int = param(0, "Seed of torch, numpy and python RNGs and the env.", 0, 2**31 - 1)
    run_dir: str = param("runs", "Folder of runs: a run without --out writes to "
                         "<run_dir>/<env>-seed<seed> (checkpoints, logs, figures).")
    resume: bool = param(True, "Continue from the run folder's latest checkpoint when "
                         "there is one.")
    checkpoint_every_steps: int = param(10_000, "Env steps between 'latest' checkpoints "
                                        "(0: only at the end).", 0, 10**9)
    save_replay_buffer: bool = param(True, "Save the replay buffer beside each 'latest' "
                                     "and 'final' checkpoint (needed for exact resume).")
    eval_every_episodes: int = param(20, "Training episodes between deterministic "
                                     "evaluation episodes (0: never).", 0, 10**6)
    eval_episodes: int = param(3, "Deterministic episodes per evaluation; their mean "
                               "return decides the 'best' checkpoint.", 1, 1000)
    plot_every_episodes: int = param(50, "Episodes between figure refreshes (0: only at "
                                     "the end).", 0, 10**6)
    log_every_updates: int = param(1000, "Gradient updates between loss rows in the "
                                   "CSV / TensorBoard.", 1, 10**9)
    log_tensorboard: bool = param(True, "Write TensorBoard event files when tensorboard "
                                  "is installed.")
    buffer_size: int = param(1_000_000, "Replay buffer capacity in transitions.", 1, 10**9)
    deterministic_torch: bool = param(False, "torch.use_deterministic_algorithms (exactly "
                                      "reproducible runs, possibly slower).")


def run_folder(train_cfg: TrainConfig, env_id: str) -> Path:
    """A run's default folder, ``<train.run_dir>/<env_id>-seed<seed>`` (the in-process
    trainer's and the ROS agent node's)."""
    return Path(train_cfg.run_dir) / f"{env_id}-seed{train_cfg.seed}"
