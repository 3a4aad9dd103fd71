"""A training run's checkpoint files: the networks and the run's state in one file
(td3.checkpoint's format), the replay buffer beside it, tied to it by a token."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.checkpoint import (
    CheckpointError,
    buffer_path,
    load_checkpoint,
    save_checkpoint,
)
from massage_td3_ros.td3.replay_buffer import ReplayBuffer

LOG = logging.getLogger("massage_td3_ros.training")


def write(path: Path, meta: Mapping[str, Any], agent: TD3,
          buffer: ReplayBuffer | None) -> None:
    """The checkpoint file, and ``buffer`` beside it unless None."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(meta, buffer_file=None)
    if buffer is not None:
        # The buffer goes first and carries a token the checkpoint records: a crash
        # between the two writes leaves a buffer whose token the old checkpoint rejects.
        token = uuid.uuid4().hex
        buffer.save(buffer_path(path), token=token)
        meta["buffer_file"], meta["buffer_token"] = buffer_path(path).name, token
    save_checkpoint(path, meta, agent.state_dict())


def read(path: Path, agent: TD3, obs_layout: Sequence[tuple[str, int]] | None
         ) -> dict[str, Any]:
    """A checkpoint checked against ``agent``: sizes and layout, network widths, and that
    its agent state loads into a fresh agent. Changes nothing; raises CheckpointError."""
    loaded = load_checkpoint(path, agent.obs_dim, agent.act_dim, obs_layout,
                             map_location=agent.device)
    saved_td3 = loaded["meta"]["config"]["td3"]
    for key in ("actor_hidden", "critic_hidden"):
        here = list(getattr(agent.config, key))
        if list(saved_td3[key]) != here:
            raise CheckpointError(f"{path}: network size mismatch: td3.{key} is "
                                  f"{saved_td3[key]} in the checkpoint, {here} here")
    try:
        TD3(agent.obs_dim, agent.act_dim, agent.config).load_state_dict(loaded["agent"])
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: agent state does not fit: {error}") from error
    return loaded


def load_buffer(path: Path, meta: Mapping[str, Any], buffer: ReplayBuffer) -> None:
    """Fill ``buffer`` from the file saved beside checkpoint ``path`` (if any); the file
    is checked (token, sizes) before anything is copied. Raises CheckpointError."""
    if not meta.get("buffer_file"):
        LOG.warning("%s: saved without its replay buffer; continuing with an empty buffer",
                    path)
        return
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
    try:
        buffer.load(buffer_file)
    except ValueError as error:
        raise CheckpointError(str(error)) from error
