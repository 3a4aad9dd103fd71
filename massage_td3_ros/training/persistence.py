"""What a learner checkpoint holds beyond the networks, and seeding."""

from __future__ import annotations

import logging
import math
import random
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.checkpoint import (
    CheckpointError,
    buffer_path,
    capture_global_rng,
    load_checkpoint,
    restore_global_rng,
    save_checkpoint,
)
from massage_td3_ros.td3.replay_buffer import ReplayBuffer

if TYPE_CHECKING:
    from massage_td3_ros.training.learner import OnlineLearner

LOG = logging.getLogger("massage_td3_ros.training")


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def write(learner: OnlineLearner, path: Path, with_buffer: bool) -> None:
    """Checkpoint file (and the replay buffer beside it); caller holds the locks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "obs_dim": learner.obs_dim,
        "act_dim": learner.act_dim,
        "obs_labels": (None if learner.obs_layout is None
                       else [[name, size] for name, size in learner.obs_layout]),
        "config": learner.config_dict(),
        "counters": learner.counters(),
        "schedule": {
            "best_score": None if math.isinf(learner.best_score) else learner.best_score,
            "updates_due": learner._updates_due,
            "eval_remaining": learner._eval_remaining,
            "eval_returns": list(learner._eval_returns),
        },
        "rng": {
            "global": capture_global_rng(),
            "warmup": learner.rng.bit_generator.state,
            "buffer": None if learner.buffer is None else learner.buffer.rng.bit_generator.state,
        },
        "exploration": learner.exploration.get_state(),
        "buffer_file": None,
    }
    if with_buffer and learner.buffer is not None:
        # The buffer goes first and carries a token the checkpoint records: a crash
        # between the two writes leaves a buffer whose token the old checkpoint rejects.
        token = uuid.uuid4().hex
        learner.buffer.save(buffer_path(path), token=token)
        meta["buffer_file"], meta["buffer_token"] = buffer_path(path).name, token
    save_checkpoint(path, meta, learner.agent.state_dict())


def restore(learner: OnlineLearner, meta: dict[str, Any], torch_rng: torch.Tensor) -> None:
    """Counters, schedule and RNG states from a checkpoint's meta; caller holds the locks."""
    counters = meta["counters"]
    learner.env_steps = int(counters["env_steps"])
    learner.episodes = int(counters["episodes"])
    learner.eval_episodes = int(counters["eval_episodes"])
    learner.updates = int(counters["updates"])
    learner.gaps = int(counters["gaps"])
    schedule = meta["schedule"]
    best = schedule["best_score"]
    learner.best_score = -math.inf if best is None else float(best)
    learner._updates_due = float(schedule["updates_due"])
    learner._eval_remaining = int(schedule["eval_remaining"])
    learner._eval_returns = [float(v) for v in schedule["eval_returns"]]
    rng = meta["rng"]
    restore_global_rng(rng["global"])
    learner.rng.bit_generator.state = rng["warmup"]
    if learner.buffer is not None and rng["buffer"] is not None:
        learner.buffer.rng.bit_generator.state = rng["buffer"]
    learner.exploration.set_state(meta["exploration"])
    torch.set_rng_state(torch_rng.cpu())


def load(learner: OnlineLearner, path: Path, weights_only: bool) -> None:
    """Validate, then restore a checkpoint (all of it, or the networks only).

    Everything is checked before anything changes: sizes and layout, network widths,
    and that the agent state loads into a fresh agent; so a failure never leaves a
    partial load. Caller holds the locks.
    """
    loaded = load_checkpoint(path, learner.obs_dim, learner.act_dim, learner.obs_layout,
                             map_location=learner.agent.device)
    saved_td3 = loaded["meta"]["config"]["td3"]
    for key in ("actor_hidden", "critic_hidden"):
        here = list(getattr(learner.td3_cfg, key))
        if list(saved_td3[key]) != here:
            raise CheckpointError(f"{path}: network size mismatch: td3.{key} is "
                                  f"{saved_td3[key]} in the checkpoint, {here} here")
    try:
        TD3(learner.obs_dim, learner.act_dim, learner.td3_cfg).load_state_dict(loaded["agent"])
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: agent state does not fit: {error}") from error
    meta = loaded["meta"]
    if not weights_only and learner.buffer is not None:
        if meta.get("buffer_file"):
            buffer_file = path.with_name(meta["buffer_file"])
            if not buffer_file.is_file():
                raise CheckpointError(f"{path}: its replay buffer {buffer_file} is missing")
            try:
                token = ReplayBuffer.read_token(buffer_file)
            except ValueError as error:
                raise CheckpointError(str(error)) from error
            if token != meta.get("buffer_token", ""):
                raise CheckpointError(
                    f"{path}: {buffer_file} was written by another save (token mismatch, "
                    "e.g. a crash between writing the buffer and the checkpoint)")
            try:  # first: it reads and checks the file before copying
                learner.buffer.load(buffer_file)
            except ValueError as error:
                raise CheckpointError(str(error)) from error
        else:
            LOG.warning("%s: saved without its replay buffer; continuing with an empty "
                        "buffer", path)
    learner.agent.load_state_dict(loaded["agent"])
    if not weights_only:
        restore(learner, loaded["meta"], loaded["torch_rng"])
