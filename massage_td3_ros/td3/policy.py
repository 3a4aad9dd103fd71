"""The acting copy of a TD3 actor: ``Policy.load(checkpoint).act(obs)``.

A training run keeps one beside its online actor and refreshes it after each actor
update under a short lock (``refresh``), so acting never waits for a gradient step
running on another thread. An evaluation or a bridge to a real arm loads one from a
checkpoint, which needs neither the critics nor the optimisers.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from massage_td3_ros.params import from_dict
from massage_td3_ros.td3.agent import resolve_device
from massage_td3_ros.td3.checkpoint import CheckpointError, load_checkpoint
from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.td3.networks import Actor


class Policy:
    """A deterministic actor: observation -> action in [-max_action, max_action]."""

    def __init__(self, actor: Actor, config: TD3Config | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        """A copy of ``actor``; ``config`` and ``meta``: the settings and checkpoint
        metadata it came with (empty for a training run's own copy)."""
        self.actor = copy.deepcopy(actor).requires_grad_(False)
        self.device = next(self.actor.parameters()).device
        self.config = config or TD3Config()
        self.meta = meta or {}
        self.sha256: str | None = None   # of the checkpoint file it was loaded from
        self._lock = threading.Lock()

    @classmethod
    def untrained(cls, obs_dim: int, act_dim: int, config: TD3Config) -> Policy:
        """Freshly initialised weights of ``config``'s sizes (from torch's global RNG)."""
        actor = Actor(obs_dim, act_dim, config.actor_hidden, config.max_action)
        return cls(actor.to(resolve_device(config.device)), config)

    @classmethod
    def load(cls, path: str | Path, obs_dim: int | None = None, act_dim: int | None = None,
             obs_layout: Sequence[tuple[str, int]] | None = None,
             device: str = "cpu") -> Policy:
        """The actor of checkpoint ``path``, its widths taken from the checkpoint.

        Raises CheckpointError naming the problem: an unreadable file, or sizes or an
        observation layout other than the ones given, or weights that do not fit.
        """
        torch_device = resolve_device(device)
        loaded = load_checkpoint(path, obs_dim, act_dim, obs_layout, map_location=torch_device)
        meta = loaded["meta"]
        config = from_dict(TD3Config, {**meta["config"]["td3"], "device": device})
        actor = Actor(meta["obs_dim"], meta["act_dim"], config.actor_hidden, config.max_action)
        try:
            actor.load_state_dict(loaded["agent"]["actor"])
        except (RuntimeError, KeyError, ValueError, TypeError) as error:
            raise CheckpointError(f"{path}: agent state does not fit: {error}") from error
        policy = cls(actor.to(torch_device), config, meta)
        policy.sha256 = loaded["sha256"]
        return policy

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The action for one observation, float32 (act_dim,)."""
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        with self._lock, torch.no_grad():
            return self.actor(obs_t.unsqueeze(0))[0].cpu().numpy()

    def refresh_from_vector(self, vector: torch.Tensor) -> None:
        """Copy weights from one flat vector (``parameters_to_vector`` order: another
        process's actor); the vector is not kept."""
        with self._lock, torch.no_grad():
            offset = 0
            for param in self.actor.parameters():
                param.copy_(vector[offset:offset + param.numel()].view_as(param))
                offset += param.numel()
            if offset != vector.numel():
                raise ValueError(f"{vector.numel()} weights for an actor of {offset}")

    def refresh(self, actor: Actor) -> None:
        """Copy ``actor``'s weights (the online actor, after an update) into this copy."""
        with self._lock, torch.no_grad():
            for acting, online in zip(self.actor.parameters(), actor.parameters(),
                                      strict=True):
                acting.copy_(online)
