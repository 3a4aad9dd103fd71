"""Checkpoint files: one torch file per checkpoint, written atomically, validated on load.

A checkpoint is a dict of three entries: ``meta`` (a JSON string: format, version,
sizes, observation layout, counters, configs, RNG and exploration states), ``agent``
(:meth:`TD3.state_dict`) and ``torch_rng`` (torch's CPU generator state). Keeping
everything else as JSON lets :func:`load_checkpoint` use ``torch.load(weights_only=True)``,
which cannot run code from a tampered file. The replay buffer goes beside it
(:func:`buffer_path`), since it can be large and is not needed for evaluation.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "massage_td3_ros/td3-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, another format, or other sizes."""


def checkpoint_path(run_dir: str | Path, name: str) -> Path:
    """Where checkpoint ``name`` (latest, best, final, ...) of a run lives."""
    return Path(run_dir) / "checkpoints" / f"{name}.pt"


def buffer_path(path: str | Path) -> Path:
    """The replay-buffer file that goes with checkpoint ``path``."""
    path = Path(path)
    return path.with_name(path.stem + ".buffer.npz")


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


def save_checkpoint(path: str | Path, meta: Mapping[str, Any],
                    agent_state: Mapping[str, Any]) -> Path:
    """Write a checkpoint atomically: a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = dict(meta, format=FORMAT, version=VERSION)
    payload = {"meta": json.dumps(document), "agent": dict(agent_state),
               "torch_rng": torch.get_rng_state()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def _layout_text(labels: Sequence[Any] | None) -> str:
    return "none" if labels is None else ", ".join(f"{name}:{size}" for name, size in labels)


def load_checkpoint(path: str | Path, obs_dim: int | None = None, act_dim: int | None = None,
                    obs_labels: Sequence[tuple[str, int]] | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint; returns {"meta": dict, "agent": ..., "torch_rng": ...}.

    Raises CheckpointError naming the problem: missing or corrupt file, another format
    or version, or an observation size, action size or observation layout different
    from the ones given.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
        meta = json.loads(payload["meta"])
        payload["agent"], payload["torch_rng"]  # noqa: B018 (presence check)
    except Exception as error:  # torch raises many kinds for a damaged zip/pickle
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt or truncated "
                              f"file?): {type(error).__name__}: {error}") from error
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
    return {"meta": meta, "agent": payload["agent"], "torch_rng": payload["torch_rng"]}
