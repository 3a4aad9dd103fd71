"""TD3 started from a teacher's demonstrations on training draws (the one-step oracle).

An experiment for issue 14 (protocol: results/heldout/PROTOCOL.md, session 22). The
one-step oracle of force_floor.py tracks the pressure far closer than TD3 learns to
(0.55 against TD3's 1.2-1.4 N where neither over-forces), but it reads the simulation
ahead, which no real arm can. Here it only teaches: its actions, in TD3's own action
space and env (config/train.yaml), fill the start of the replay buffer, the actor is
cloned from them and the critics evaluate that clone, and plain TD3 goes on online from
there, acting on its own observation alone. The demonstrations count as env steps of
the budget (they are transitions of the env), though each cost the oracle some 20
trial steps of the simulation. With ``demos --model M.pt`` the teacher is model-greedy
on a fitted force model instead (force_model.py; session 24), which reads only the
observation, so a policy can in principle copy it.

    # 1. demonstrations from training draws of a seed stream no run uses (default 100)
    .venv/bin/python benchmarks/teacher.py demos --transitions 30000 --jobs 2 \\
        --out runs/teacher/demos.npz [--set G.N=V ...]
    # 2. for each seed: buffer filled, actor cloned, critics fitted; saved as the run
    #    folder's 'latest' (and steps<N>.pt) where benchmarks/learning.py continues it
    .venv/bin/python benchmarks/teacher.py pretrain --demos runs/teacher/demos.npz \\
        --seeds 9 10 11 --runs runs/teacher [--set G.N=V ...]
    #    (--updates 0 --runs runs/teacher-buffer-only: the buffer filled, nothing fitted)
    # 3. online TD3, unchanged, from there (the same --set as above)
    .venv/bin/python benchmarks/learning.py --stages 60000 --train-only --learner-process \\
        --seeds 9 10 11 --runs runs/teacher [--set G.N=V ...]
"""

from __future__ import annotations

import argparse
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from force_floor import OneStepOracle
from learning import run_tag, training_config
from torch.nn import functional

from massage_td3_ros.cli import add_overrides
from massage_td3_ros.config import load_config
from massage_td3_ros.env.episode import MASSAGE_ENV_ID, action_meta, episode_seed
from massage_td3_ros.td3.agent import polyak_update
from massage_td3_ros.td3.checkpoint import checkpoint_path
from massage_td3_ros.td3.cpu import cpu_label
from massage_td3_ros.td3.optim import step_adam
from massage_td3_ros.training.session import Session
from massage_td3_ros.training.trainer import make_env, observation_layout

LOG = logging.getLogger("teacher")
FIELDS = ("obs", "action", "reward", "next_obs", "terminated")
# Episodes per demonstration job: each is at most 600 steps (20 s at 30 Hz).
EPISODES_PER_JOB = 4


def make_teacher(model: str | None):
    """The one-step oracle, or model-greedy on a fitted force model (force_model.py),
    which reads only the observation (PROTOCOL.md, session 24)."""
    if model is None:
        return OneStepOracle()
    from force_model import ModelGreedy
    return ModelGreedy(model)


def demo_episodes(overrides: list[str], stream: int, first: int, count: int,
                  model: str | None = None) -> dict:
    """The teacher's transitions on training episodes first..first+count-1 of ``stream``."""
    config = load_config(None, overrides)
    env = make_env(MASSAGE_ENV_ID, config)
    oracle = make_teacher(model)
    rows: dict[str, list] = {name: [] for name in FIELDS}
    episodes = []
    try:
        for index in range(first, first + count):
            obs, _ = env.reset(seed=episode_seed(stream, index))
            oracle.reset(env.unwrapped)
            steps, squared, over = 0, 0.0, False
            while True:
                action = oracle.act(obs, env.unwrapped)
                next_obs, reward, terminated, truncated, info = env.step(action)
                for name, value in zip(FIELDS, (obs, action, reward, next_obs, terminated)):
                    rows[name].append(value)
                steps += 1
                squared += (info["force_n"] - info["target_force_n"]) ** 2
                over = over or bool(info.get("over_force"))
                obs = next_obs
                if terminated or truncated:
                    break
            episodes.append({"index": index, "steps": steps, "over_force": over,
                             "rms_force_error_n": float(np.sqrt(squared / steps))})
    finally:
        env.close()
    return {"arrays": {name: np.asarray(rows[name], dtype=np.float32) for name in FIELDS},
            "episodes": episodes}


def make_demos(args: argparse.Namespace) -> None:
    """Whole episodes from the stream, in parallel jobs, until ``--transitions``."""
    start = time.perf_counter()
    parts, first = [], 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        while sum(len(p["arrays"]["reward"]) for p in parts) < args.transitions:
            firsts = [first + k * EPISODES_PER_JOB for k in range(args.jobs)]
            parts += pool.map(demo_episodes, [args.overrides] * args.jobs,
                              [args.stream] * args.jobs, firsts, [EPISODES_PER_JOB] * args.jobs,
                              [args.model] * args.jobs)
            first += args.jobs * EPISODES_PER_JOB
            LOG.info("%d transitions after %.0f s", sum(len(p["arrays"]["reward"]) for p in parts),
                     time.perf_counter() - start)
    arrays = {name: np.concatenate([p["arrays"][name] for p in parts])[:args.transitions]
              for name in FIELDS}
    episodes = [e for p in parts for e in p["episodes"]]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **arrays, stream=args.stream, overrides=np.array(args.overrides, dtype=str),
             teacher=np.array(args.model or "one-step oracle"))
    rms = [e["rms_force_error_n"] for e in episodes]
    teacher = make_teacher(args.model).name
    print(f"{cpu_label()}; {len(episodes)} {teacher} episodes of training stream {args.stream} "
          f"in {time.perf_counter() - start:.0f} s; kept the first {len(arrays['reward'])} "
          f"transitions in {args.out}; episode RMS force error median {np.median(rms):.2f} N, "
          f"{sum(e['over_force'] for e in episodes)} over-force episodes")


def pretrain_seed(config, demos: dict[str, np.ndarray], seed: int, run_dir: Path,
                  updates: int) -> dict[str, float]:
    """A learner for ``seed`` with the demonstrations in its buffer, the actor cloned from
    them and the critics fitted to that clone; saved as ``latest`` and ``steps<N>``."""
    config = config.replace(train={"seed": seed})
    if checkpoint_path(run_dir, "latest").is_file():
        raise SystemExit(f"{run_dir} already holds a run; not overwriting it")
    env = make_env(MASSAGE_ENV_ID, config)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    labels = observation_layout(env)
    env.close()
    session = Session(obs_dim, act_dim, config.td3, config.exploration, config.train,
                      run_dir, obs_labels=labels, band_n=config.env.force_band_n,
                      action_meta=action_meta(config.env), control_dt_s=config.env.control_dt_s)
    learner, agent = session.learner, session.learner.agent
    count = len(demos["reward"])
    for row in zip(*(demos[name] for name in FIELDS)):
        learner.buffer.add(*row)
    learner.env_steps = count   # the demonstrations are the budget's first transitions
    tau, batch_size = config.td3.tau, config.td3.batch_size
    losses = {"critic": 0.0, "clone": 0.0}
    for update in range(updates):
        batch = learner.buffer.sample(batch_size)
        critic_loss, _ = agent._critic_grads(batch)   # TD3's twin-critic target, clone's actions
        step_adam(agent.critic_optimizer)
        with agent._matmuls():
            cloned = agent.actor(batch.obs)
        clone_loss = functional.mse_loss(cloned.float(), batch.action)
        agent.actor_optimizer.zero_grad(set_to_none=True)
        clone_loss.backward(inputs=agent.actor_params)
        step_adam(agent.actor_optimizer)
        polyak_update(agent.critic.parameters(), agent.critic_target.parameters(), tau)
        polyak_update(agent.actor.parameters(), agent.actor_target.parameters(), tau)
        agent._cast_targets = None
        if update >= updates - 1000:   # the last thousand: what the start looks like
            losses["critic"] += critic_loss.item() / 1000
            losses["clone"] += clone_loss.item() / 1000
    learner.policy.refresh(agent.actor)
    session.save_checkpoint("latest", with_buffer=True)
    stage = checkpoint_path(run_dir, f"steps{count}")
    stage.write_bytes(checkpoint_path(run_dir, "latest").read_bytes())
    session.close(final_checkpoint=False)
    return losses


def pretrain(args: argparse.Namespace) -> None:
    with np.load(args.demos) as data:
        demos = {name: data[name] for name in FIELDS}
        made_with = [str(o) for o in data["overrides"]]
    if made_with != args.overrides:
        raise SystemExit(f"the demonstrations were made with --set {made_with}, "
                         f"not {args.overrides}")
    config = training_config(load_config(args.config),
                             argparse.Namespace(overrides=args.overrides, eval_every=10))
    runs = Path(args.runs) / (run_tag(args.overrides) + "-learner-process")
    torch.set_num_threads(1)
    for seed in args.seeds:
        start = time.perf_counter()
        losses = pretrain_seed(config, demos, seed, runs / f"seed{seed}", args.updates)
        fit = (f"; mean of the last 1000: clone loss {losses['clone']:.4f}, critic loss "
               f"{losses['critic']:.3f}" if args.updates >= 1000 else "")
        print(f"seed {seed}: {args.updates} updates on {len(demos['reward'])} demonstrations "
              f"in {time.perf_counter() - start:.0f} s{fit}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demos = commands.add_parser("demos", help="the oracle's transitions on training draws")
    demos.add_argument("--transitions", type=int, default=30_000)
    demos.add_argument("--stream", type=int, default=100,
                       help="seed of the training-draw stream (no TD3 run uses 100)")
    demos.add_argument("--jobs", type=int, default=2)
    demos.add_argument("--out", default="runs/teacher/demos.npz")
    demos.add_argument("--model", default=None,
                       help="teach with model-greedy on this fitted force model "
                       "(force_model.py fit) instead of the one-step oracle")
    add_overrides(demos, "a config value of the env the oracle acts in")
    start = commands.add_parser("pretrain", help="seed runs from the demonstrations")
    start.add_argument("--demos", default="runs/teacher/demos.npz")
    start.add_argument("--seeds", type=int, nargs="+", default=[9, 10, 11])
    start.add_argument("--updates", type=int, default=10_000,
                       help="gradient updates of the clone and the critics (0: the "
                       "demonstrations fill the buffer, nothing is fitted to them)")
    start.add_argument("--runs", default="runs/teacher")
    start.add_argument("--config", default=None)
    add_overrides(start, "a config value, as benchmarks/learning.py will be given it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    (make_demos if args.command == "demos" else pretrain)(args)


if __name__ == "__main__":
    main()
