"""kill -9 at random moments of `massage-td3 train`, each followed by a resume.

    .venv/bin/python benchmarks/kill_resume.py [--trials 5] [--steps 1500] [--seed 0]
                                               [--env Pendulum-v1]

First one uninterrupted run (small networks, deterministic torch, frequent checkpoints
and evaluation rounds) is the reference. Then each trial starts the same run in a
fresh folder, sends SIGKILL at a random moment of its training loop (drawn uniformly
over the reference's), and opens the folder as
`massage-td3 train` does when it resumes. Per trial it prints: when the kill came,
the checkpoint files it left, the env step the run resumed at (and whether it fell
back to the pair kept during an interrupted write), whether the replay buffer, the
optimiser state, the counters and the logs agree with each other and with the
reference run at that step, and, once `massage-td3 train` has finished the resumed
run, whether it ended exactly where the uninterrupted one did.

That last comparison holds where an episode depends on its seed alone (Pendulum-v1);
a MassageEnv episode also depends on the episodes the same env object ran before it
(the sim carries state across resets), so a resumed massage run continues correctly
but not bit for bit: it is reported, not counted as a problem.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SETTINGS = {"td3.actor_hidden": "[32,32]", "td3.critic_hidden": "[32,32]",
            "td3.batch_size": "32", "train.warmup_steps": "200",
            "train.checkpoint_every_steps": "100", "train.eval_every_episodes": "4",
            "train.eval_episodes": "1", "train.plot_every_episodes": "0",
            "train.log_tensorboard": "false", "train.deterministic_torch": "true",
            "train.log_every_updates": "100", "env.episode_time_s": "3"}
FIELDS = ("obs", "action", "reward", "next_obs", "terminated")
STARTED = "(starting at step"  # training.trainer logs it as its loop begins


@dataclass(frozen=True)
class Protocol:
    env_id: str
    steps: int
    seed: int

    @property
    def overrides(self) -> list[str]:
        # A buffer that never wraps, so the reference's holds every transition in order.
        return [f"{k}={v}" for k, v in SETTINGS.items()] + [f"train.buffer_size={self.steps}"]

    def command(self, run_dir: Path) -> list[str]:
        sets = [arg for item in self.overrides for arg in ("--set", item)]
        return [sys.executable, "-m", "massage_td3_ros.cli", "train", "--env", self.env_id,
                "--steps", str(self.steps), "--seed", str(self.seed), "--out", str(run_dir),
                *sets]

    def start(self, run_dir: Path) -> tuple[subprocess.Popen, threading.Event]:
        """`massage-td3 train` in a child process, and an event set once its training
        loop has begun (imports and set-up done)."""
        process = subprocess.Popen(self.command(run_dir), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "MPLBACKEND": "Agg"})
        training = threading.Event()

        def read() -> None:  # drained to the end, so the child never blocks on the pipe
            for line in process.stderr:
                if STARTED in line:
                    training.set()
        threading.Thread(target=read, daemon=True).start()
        return process, training

    def train(self, run_dir: Path) -> float:
        """An uninterrupted `massage-td3 train` (or the rest of one); the seconds its
        training loop ran (set-up excluded)."""
        process, training = self.start(run_dir)
        training.wait(timeout=120)
        start = time.monotonic()
        if process.wait() != 0:
            raise RuntimeError(f"massage-td3 train failed in {run_dir}")
        return time.monotonic() - start

    def start_and_kill(self, run_dir: Path, after_s: float) -> float:
        """Start the run and SIGKILL it ``after_s`` seconds into its training loop;
        returns when the kill came, in seconds since the process started."""
        start = time.monotonic()
        process, training = self.start(run_dir)
        training.wait(timeout=120)
        time.sleep(after_s)
        process.send_signal(signal.SIGKILL)
        process.wait()
        return time.monotonic() - start


class Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def open_as_resumed(protocol: Protocol, run_dir: Path) -> tuple[object, list[str]]:
    """The Session `massage-td3 train` resumes with, and the warnings it logged."""
    from massage_td3_ros.config import load_config
    from massage_td3_ros.env.episode import MASSAGE_ENV_ID, action_meta
    from massage_td3_ros.training.session import Session
    from massage_td3_ros.training.trainer import make_env, observation_layout

    config = load_config(None, protocol.overrides).replace(train={"seed": protocol.seed})
    env = make_env(protocol.env_id, config)
    massage = protocol.env_id == MASSAGE_ENV_ID
    warnings = Warnings()
    logger = logging.getLogger("massage_td3_ros.training")
    logger.addHandler(warnings)
    try:  # as training.trainer.train opens it
        session = Session(int(np.prod(env.observation_space.shape)),
                          int(np.prod(env.action_space.shape)), config.td3,
                          config.exploration, config.train, run_dir,
                          obs_labels=observation_layout(env),
                          band_n=config.env.force_band_n if massage else None,
                          action_meta=action_meta(config.env) if massage else None)
    finally:
        logger.removeHandler(warnings)
        env.close()
    return session, warnings.messages


def problems_of(session, reference: Path) -> list[str]:
    """Where the resumed session's buffer, optimisers, counters and logs disagree with
    each other or with the reference run's first transitions."""
    from massage_td3_ros.td3.checkpoint import buffer_path, checkpoint_path

    learner, counters = session.learner, session.counters()
    buffer, agent = learner.buffer, learner.agent
    steps, updates = counters["env_steps"], counters["updates"]
    problems = []
    if len(buffer) != steps or buffer.ptr != steps % buffer.capacity:
        problems.append(f"buffer holds {len(buffer)} (ptr {buffer.ptr}) for {steps} steps")
    with np.load(buffer_path(checkpoint_path(reference, "final"))) as ref:
        if not all(np.array_equal(getattr(buffer, name)[:steps], ref[name][:steps])
                   for name in FIELDS):
            problems.append("buffer differs from the reference run's first transitions")
    critic = {int(s["step"]) for s in agent.critic_optimizer.state_dict()["state"].values()}
    actor = {int(s["step"]) for s in agent.actor_optimizer.state_dict()["state"].values()}
    if agent.critic_updates != updates or (updates and critic != {updates}):
        problems.append(f"critic optimiser steps {critic}, {agent.critic_updates} critic "
                        f"updates, counter {updates}")
    policy_freq = session.td3_cfg.policy_freq
    if agent.actor_updates != updates // policy_freq or (
            agent.actor_updates and actor != {agent.actor_updates}):
        problems.append(f"actor optimiser steps {actor}, {agent.actor_updates} actor updates "
                        f"for {updates} updates")
    logs = session.logger
    if len(logs.episodes) != counters["episodes"]:
        problems.append(f"episodes.csv has {len(logs.episodes)} rows for "
                        f"{counters['episodes']} episodes")
    if len(logs.losses) != updates // session.train_cfg.log_every_updates:
        problems.append(f"losses.csv has {len(logs.losses)} rows for {updates} updates")
    return problems


def differences(run_dir: Path, reference: Path) -> list[str]:
    """What differs between two finished runs: final checkpoint, episode and eval logs."""
    import torch

    from massage_td3_ros.td3.checkpoint import checkpoint_path, load_checkpoint

    a = load_checkpoint(checkpoint_path(run_dir, "final"))
    b = load_checkpoint(checkpoint_path(reference, "final"))
    found = []
    if a["meta"]["counters"] != b["meta"]["counters"]:
        found.append(f"counters {a['meta']['counters']} vs {b['meta']['counters']}")
    for net in ("actor", "critic", "actor_target", "critic_target"):
        if not all(torch.equal(t, b["agent"][net][k]) for k, t in a["agent"][net].items()):
            found.append(f"{net} weights")
    for log in ("episodes.csv", "eval.csv"):
        if (run_dir / log).read_text() != (reference / log).read_text():
            found.append(log)
    return found


def main() -> None:
    from massage_td3_ros.env.episode import MASSAGE_ENV_ID

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0, help="of the runs and the kill times")
    parser.add_argument("--env", default=MASSAGE_ENV_ID, help="gymnasium env id")
    parser.add_argument("--out", default=None,
                        help="folder for the runs (default: a new temporary one)")
    args = parser.parse_args()
    protocol = Protocol(args.env, args.steps, args.seed)
    exact = args.env != MASSAGE_ENV_ID
    root = Path(args.out or tempfile.mkdtemp(prefix="kill_resume-"))
    reference = root / "reference"
    wall_s = protocol.train(reference)
    print(f"{args.env}, {args.steps} steps: uninterrupted training loop {wall_s:.1f} s "
          f"({root})")
    rng = np.random.default_rng(args.seed)
    failures = 0
    for trial in range(1, args.trials + 1):
        run_dir = root / f"trial{trial}"
        into_s = float(rng.uniform(0.0, 1.0)) * wall_s
        killed_s = protocol.start_and_kill(run_dir, into_s)
        folder = run_dir / "checkpoints"
        left = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        session, warnings = open_as_resumed(protocol, run_dir)
        counters = session.counters()
        problems = problems_of(session, reference)
        session.logger.close()  # not session.close(): that would write checkpoints
        protocol.train(run_dir)  # the resumed run, to the end of its budget
        different = differences(run_dir, reference)
        failures += bool(problems) + (exact and bool(different))
        fell_back = [m for m in warnings if "written before it" in m]
        print(f"trial {trial}: killed at {killed_s:.2f} s ({into_s:.2f} s into training); "
              f"left: {', '.join(left) or 'nothing'}")
        print(f"  resumed at env step {counters['env_steps']} (episode {counters['episodes']}, "
              f"update {counters['updates']})"
              + (f"; fell back: {fell_back[0]}" if fell_back else ""))
        print("  buffer, optimiser, counters, logs consistent: "
              + ("yes" if not problems else "NO: " + "; ".join(problems)))
        print("  finished run identical to the uninterrupted one: "
              + ("yes" if not different else "no (" + ", ".join(different) + ")"))
    print(f"{args.trials} trials, {failures} problems")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
