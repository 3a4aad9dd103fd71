"""In-process training: a gymnasium env feeding a training Session, no ROS.

It makes exactly the calls the ROS agent node makes (``on_state``, then ``update``
after the action is chosen), so it is the reference the ROS loop is measured against.
Actions are in [-1, 1] inside the learner and scaled to the env's box only here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from massage_td3_ros.config import Config
from massage_td3_ros.env.episode import EVAL_CASES, MASSAGE_ENV_ID, action_meta, episode_seed
from massage_td3_ros.training.config import run_folder
from massage_td3_ros.training.session import Session
from massage_td3_ros.training.step_state import StepState

LOG = logging.getLogger("massage_td3_ros.training")
MASSAGE_EVAL_CASES = tuple({"stroke": stroke, "direction": direction}
                           for stroke, direction in EVAL_CASES)


def make_env(env_id: str, config: Config) -> gym.Env:
    """MassageEnv built from ``config.env``, or any registered gymnasium env."""
    if env_id == MASSAGE_ENV_ID:
        from massage_td3_ros.env.massage_env import MassageEnv
        return MassageEnv(config.env)
    return gym.make(env_id)


def observation_layout(env: gym.Env) -> list[tuple[str, int]] | None:
    """MassageEnv's labelled observation segments (a wrapper that changes them declares
    its own as ``obs_layout``, found through any wrappers around it); None for other
    envs."""
    try:
        declared = env.get_wrapper_attr("obs_layout")
    except AttributeError:
        declared = None
    if declared is not None:
        return [(name, int(size)) for name, size in declared]
    if env.unwrapped.__class__.__name__ != "MassageEnv":
        return None
    from massage_td3_ros.env.observation import OBS_LAYOUT
    return [(name, size) for name, size in OBS_LAYOUT]


def action_scaler(space: gym.spaces.Box) -> Callable[[np.ndarray], np.ndarray]:
    """Maps an action in [-1, 1] to the env's action box."""
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)

    def scale(action: np.ndarray) -> np.ndarray:
        unit = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        return (low + 0.5 * (unit + 1.0) * (high - low)).astype(space.dtype)
    return scale


def _step_info(info: dict) -> dict[str, float]:
    from massage_td3_ros.env.metrics import STEP_INFO_KEYS
    return {key: float(info[key]) for key in STEP_INFO_KEYS if key in info}


def run_loop(env: gym.Env, session: Session, total_steps: int, seed: int,
             eval_cases: Sequence[Mapping[str, Any]] = ()) -> None:
    """Episodes until the session has ``total_steps`` training steps (evals extra).

    ``eval_cases``: reset options the evaluation episodes cycle through, so every
    evaluation round (which picks the ``best`` checkpoint) meets the same episodes."""
    scale = action_scaler(env.action_space)
    while session.env_steps < total_steps:
        episode = session.episodes + session.eval_episodes
        index = session.next_eval_index
        options = (dict(eval_cases[index % len(eval_cases)])
                   if eval_cases and index is not None else None)
        obs, info = env.reset(seed=episode_seed(seed, episode), options=options)
        state = StepState(obs=obs, episode=episode, step=0, first=True)
        step = 0
        while True:
            action = session.on_state(state)
            # Every state, terminal ones included, is followed by the updates it made due,
            # before the next state: resumed and uninterrupted runs then match exactly.
            session.update()
            if action is None or session.env_steps >= total_steps:
                break
            obs, reward, terminated, truncated, info = env.step(scale(action))
            step += 1
            state = StepState(obs=obs, episode=episode, step=step, first=False,
                              reward=float(reward), terminated=bool(terminated),
                              truncated=bool(truncated), info=_step_info(info))


def train(config: Config, steps: int | None = None, seed: int | None = None,
          out: str | Path | None = None, env_id: str = MASSAGE_ENV_ID,
          learner_process: bool = False,
          env_wrapper: Callable[[gym.Env], gym.Env] | None = None) -> Path:
    """Train TD3 on ``env_id`` in this process; returns the run folder.

    ``steps``/``seed`` override ``config.train.total_steps``/``seed``; ``out`` is the
    run folder (default: ``training.config.run_folder``). A folder with a ``latest``
    checkpoint resumes from it (unless ``train.resume`` is false). ``learner_process``:
    the gradient updates run in a child process (training.learner_process).
    ``env_wrapper`` wraps the env (e.g. an observation wrapper for an experiment; its
    observation layout, if it changes it, as ``obs_layout``).
    """
    overrides = {}
    if steps is not None:
        overrides["total_steps"] = int(steps)
    if seed is not None:
        overrides["seed"] = int(seed)
    if overrides:
        config = config.replace(train=overrides)
    train_cfg = config.train
    run_dir = Path(out) if out is not None else run_folder(train_cfg, env_id)
    env = make_env(env_id, config)
    try:
        if env_wrapper is not None:
            env = env_wrapper(env)
        obs_dim = int(np.prod(env.observation_space.shape))
        act_dim = int(np.prod(env.action_space.shape))
        massage = env_id == MASSAGE_ENV_ID
        session = Session(obs_dim, act_dim, config.td3, config.exploration, train_cfg,
                          run_dir, obs_labels=observation_layout(env),
                          band_n=config.env.force_band_n if massage else None,
                          action_meta=action_meta(config.env) if massage else None,
                          control_dt_s=config.env.control_dt_s if massage else None,
                          learner_process=learner_process)
        LOG.info("training %s for %d steps in %s (starting at step %d)", env_id,
                 train_cfg.total_steps, run_dir, session.env_steps)
        try:
            cases = MASSAGE_EVAL_CASES if massage else ()
            run_loop(env, session, train_cfg.total_steps, train_cfg.seed, cases)
        finally:
            session.close()
    finally:
        env.close()
    return run_dir

