"""A training run's checkpoint files: the networks and the run's state in one file
(td3.checkpoint's format), the replay buffer beside it, tied to it by a token.

A checkpoint and its buffer are one pair, replaced together. Both new files are written
complete under temporary names first; the pair they replace is kept (hard links named
``<name>.previous.pt`` and ``<name>.previous.buffer.npz``) until both new files are in
place, then dropped. A process killed at any moment therefore leaves either a matching
pair under the usual names, or, between the two renames, a kept previous pair, which
:func:`load` falls back to with a warning. Runs written before (no ``.previous`` files)
load as they always did.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.checkpoint import (
    CheckpointError,
    buffer_path,
    load_checkpoint,
    previous_path,
    save_checkpoint,
    sync_folder,
    write_checkpoint_file,
)
from massage_td3_ros.td3.replay_buffer import ReplayBuffer

LOG = logging.getLogger("massage_td3_ros.training")


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def write(path: Path, meta: Mapping[str, Any], agent: TD3,
          buffer: ReplayBuffer | None, extra: Mapping[str, Any] | None = None) -> None:
    """The checkpoint file, and ``buffer`` beside it unless None; see the module
    docstring for the order. ``extra``: more tensors saved beside the agent state (its
    keys must not be the agent's). Raises td3.checkpoint.NonFiniteError, changing no
    file, when the agent state holds a NaN or an infinity."""
    path = Path(path)
    state = {**agent.state_dict(), **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(meta, buffer_file=None)
    if buffer is None:
        save_checkpoint(path, meta, state)
        return
    token = uuid.uuid4().hex
    meta.update(buffer_file=buffer_path(path).name, buffer_token=token)
    staged = [_tmp(path), _tmp(buffer_path(path))]
    try:
        write_checkpoint_file(staged[0], meta, state, destination=path)
        buffer.write_file(staged[1], token)
        _keep_previous(path)
    except BaseException:
        for file in staged:
            file.unlink(missing_ok=True)
        raise
    # Between these two renames the pair under the usual names does not match; the
    # kept previous pair is what a restart then loads.
    os.replace(staged[1], buffer_path(path))
    os.replace(staged[0], path)
    sync_folder(path.parent)
    previous = previous_path(path)
    previous.unlink(missing_ok=True)
    buffer_path(previous).unlink(missing_ok=True)


def _is_matching_pair(path: Path) -> bool:
    """``path`` loads and its buffer file carries the token it records."""
    try:
        meta = load_checkpoint(path)["meta"]
        return (bool(meta.get("buffer_file")) and buffer_path(path).is_file()
                and ReplayBuffer.read_token(buffer_path(path)) == meta.get("buffer_token"))
    except (CheckpointError, ValueError):
        return False


def _keep_previous(path: Path) -> None:
    """Keep the pair at ``path`` as the previous pair, if it is a matching one. If it is
    not (the last write was cut short between its renames), the previous pair already
    kept is the good one and stays as it is."""
    if not _is_matching_pair(path):
        return
    previous = previous_path(path)
    for source, kept in ((buffer_path(path), buffer_path(previous)), (path, previous)):
        staged = _tmp(kept)
        staged.unlink(missing_ok=True)
        try:
            os.link(source, staged)       # no copy: the old files stay where they are
        except OSError:                   # a file system without hard links
            shutil.copyfile(source, staged)
        os.replace(staged, kept)


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
    buffer_file = buffer_path(path)
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


def exists(path: Path) -> bool:
    """There is a checkpoint to resume from at ``path`` (or its kept previous pair)."""
    return Path(path).is_file() or previous_path(path).is_file()


def load(path: Path, agent: TD3, obs_layout: Sequence[tuple[str, int]] | None,
         buffer: ReplayBuffer | None,
         check: Callable[[Path, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """:func:`read` the checkpoint ``path`` and fill ``buffer`` from the file beside it;
    if that pair cannot be used and a previous pair was kept (a write cut short), that
    one, with a warning. Returns what :func:`read` returns plus ``path``, the checkpoint
    used. Raises CheckpointError (``path``'s problem) when neither can be used; the agent
    is never changed here and ``buffer`` only once its file has passed every check,
    ``check(path, meta)`` (the caller's, raising CheckpointError) included."""
    path = Path(path)
    errors: list[CheckpointError] = []
    previous = previous_path(path)
    for candidate in (path, previous):
        if candidate == previous and not previous.is_file():
            break
        try:
            loaded = read(candidate, agent, obs_layout)
        except CheckpointError as error:
            errors.append(error)
            continue
        if check is not None:  # a refusal of a sound file: no falling back to an older one
            check(candidate, loaded["meta"])
        try:
            if buffer is not None:
                load_buffer(candidate, loaded["meta"], buffer)
        except CheckpointError as error:
            errors.append(error)
            continue
        if errors:
            LOG.warning("%s; resuming from the checkpoint written before it, %s (env step "
                        "%d)", errors[0], candidate, loaded["meta"]["counters"]["env_steps"])
        return {**loaded, "path": candidate}
    if len(errors) > 1:
        raise CheckpointError(f"{errors[0]}; the previous checkpoint kept beside it cannot "
                              f"be used either: {errors[1]}")
    raise errors[0]
