"""Checkpoint files: one torch file per checkpoint, written atomically, validated on load.

A checkpoint is a dict of three entries: ``meta`` (a JSON string: format, version,
sizes, observation layout, counters, configs, RNG and exploration states), ``agent``
(:meth:`TD3.state_dict`) and ``torch_rng`` (torch's CPU generator state). Keeping
everything else as JSON lets :func:`load_checkpoint` use ``torch.load(weights_only=True)``,
which cannot run code from a tampered file. The replay buffer goes beside it
(:func:`buffer_path`), since it can be large and is not needed for evaluation.

No checkpoint is written with, and none is loaded with, a non-finite tensor: training
that produced one stops (:class:`NonFiniteError`) and the last good file stays.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "massage_td3_ros/td3-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, another format, or other sizes."""


class NonFiniteError(FloatingPointError):
    """Training produced a NaN or an infinity (a loss, an action, a weight): it stops,
    and no checkpoint is written from that state."""


def checkpoint_path(run_dir: str | Path, name: str) -> Path:
    """Where checkpoint ``name`` (latest, best, final, ...) of a run lives."""
    return Path(run_dir) / "checkpoints" / f"{name}.pt"


def buffer_path(path: str | Path) -> Path:
    """The replay-buffer file that goes with checkpoint ``path``."""
    path = Path(path)
    return path.with_name(path.stem + ".buffer.npz")


def previous_path(path: str | Path) -> Path:
    """Where the checkpoint ``path`` replaces is kept while a new one (with its buffer)
    is put in place: ``latest.pt`` -> ``latest.previous.pt`` (buffer beside it)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.previous{path.suffix}")


def capture_global_rng() -> dict[str, Any]:
    """JSON-friendly states of python's and numpy's global RNGs."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {"numpy": [kind, keys.tolist(), pos, has_gauss, cached],
            "python": [version, list(internal), gauss]}


def restore_global_rng(state: Mapping[str, Any]) -> None:
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def first_non_finite(state: Any, prefix: str = "") -> str | None:
    """Dotted name of the first floating-point tensor in ``state`` (nested dicts, lists)
    holding a NaN or an infinity, e.g. ``critic.layers.0.weight``; None if all are finite."""
    if isinstance(state, torch.Tensor):
        if state.is_floating_point() and not bool(torch.isfinite(state).all()):
            return prefix or "tensor"
        return None
    if isinstance(state, Mapping):
        items = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        return None
    for key, value in items:
        found = first_non_finite(value, f"{prefix}.{key}" if prefix else str(key))
        if found is not None:
            return found
    return None


def sync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable (where the OS allows opening a folder)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def write_checkpoint_file(path: str | Path, meta: Mapping[str, Any],
                          agent_state: Mapping[str, Any], destination: str | Path | None = None
                          ) -> Path:
    """Write a checkpoint to ``path`` itself and flush it to disk (no rename: see
    :func:`save_checkpoint`). Raises NonFiniteError, writing nothing, if a tensor of
    ``agent_state`` is not finite (naming ``destination``, where it was to go)."""
    bad = first_non_finite(agent_state)
    if bad is not None:
        raise NonFiniteError(f"refusing to write checkpoint {destination or path}: the agent "
                             f"state has non-finite values in {bad}")
    path = Path(path)
    document = dict(meta, format=FORMAT, version=VERSION)
    payload = {"meta": json.dumps(document), "agent": dict(agent_state),
               "torch_rng": torch.get_rng_state()}
    with open(path, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def save_checkpoint(path: str | Path, meta: Mapping[str, Any],
                    agent_state: Mapping[str, Any]) -> Path:
    """Write a checkpoint atomically: a temporary file in the same folder, then rename.
    Raises NonFiniteError (the file at ``path`` untouched) on a non-finite tensor."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write_checkpoint_file(tmp, meta, agent_state, destination=path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    sync_folder(path.parent)
    return path


# Lines of torch's load errors that are advice, not the reason (among them: load the
# file with weights_only=False, which would run whatever code a tampered file holds).
_ADVICE = re.compile(r"weights_only|Weights only load failed|trusted source|trust the source|"
                     r"Check the documentation|Please file an issue", re.IGNORECASE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def load_error_reason(error: BaseException) -> str:
    """Why torch.load failed, in one sentence and without torch's advice."""
    text = _ANSI.sub("", str(error)).replace("WeightsUnpickler error:", "\n")
    for line in text.splitlines():
        line = line.strip()
        if line and not _ADVICE.search(line):
            return f"{type(error).__name__}: {_SENTENCE_END.split(line)[0]}"
    if isinstance(error, EOFError):
        return "EOFError: the file ends early"
    return type(error).__name__


def _layout_text(labels: Sequence[Any] | None) -> str:
    return "none" if labels is None else ", ".join(f"{name}:{size}" for name, size in labels)


def load_checkpoint(path: str | Path, obs_dim: int | None = None, act_dim: int | None = None,
                    obs_labels: Sequence[tuple[str, int]] | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint; returns {"meta": dict, "agent": ..., "torch_rng": ...,
    "sha256": hex digest of the bytes read} (the digest names exactly which file was
    loaded, even if the path has been replaced since).

    Raises CheckpointError naming the problem: missing or corrupt file, another format
    or version, non-finite weights, or an observation size, action size or observation
    layout different from the ones given.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    data = path.read_bytes()   # once: the digest is of the bytes loaded
    try:
        payload = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
        meta = json.loads(payload["meta"])
        payload["agent"], payload["torch_rng"]  # noqa: B018 (presence check)
    except Exception as error:  # torch raises many kinds for a damaged zip/pickle
        # "from None": torch's own text (shown with a chained traceback) ends in advice
        # to load the file unsafely; the reason's first line is kept here.
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint file "
                              f"({load_error_reason(error)})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} file")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {meta.get('version')}, "
                              f"this code reads version {VERSION}")
    if obs_dim is not None and meta["obs_dim"] != obs_dim:
        raise CheckpointError(f"{path}: observation size mismatch: checkpoint has "
                              f"{meta['obs_dim']}, expected {obs_dim}")
    if act_dim is not None and meta["act_dim"] != act_dim:
        raise CheckpointError(f"{path}: action size mismatch: checkpoint has "
                              f"{meta['act_dim']}, expected {act_dim}")
    saved_labels = meta.get("obs_labels")
    if obs_labels is not None and saved_labels is not None:
        wanted = [[str(name), int(size)] for name, size in obs_labels]
        if wanted != saved_labels:
            raise CheckpointError(f"{path}: observation layout mismatch: checkpoint has "
                                  f"[{_layout_text(saved_labels)}], expected "
                                  f"[{_layout_text(wanted)}]")
    bad = first_non_finite(payload["agent"])
    if bad is not None:
        raise CheckpointError(f"{path}: non-finite values in {bad} (written by a run whose "
                              "training had diverged); use an earlier checkpoint")
    return {"meta": meta, "agent": payload["agent"], "torch_rng": payload["torch_rng"],
            "sha256": hashlib.sha256(data).hexdigest()}
