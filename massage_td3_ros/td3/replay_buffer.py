"""Fixed-size replay memory: preallocated float32 numpy arrays used as a ring."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

LOG = logging.getLogger(__name__)

# A time-limit cut (truncation) is stored as an ordinary, bootstrapping transition:
# nothing but ``terminated`` changes the update. Buffer files written when a
# ``truncated`` column was kept still load (the column is ignored).
_FIELDS = ("obs", "action", "reward", "next_obs", "terminated")


class Batch(NamedTuple):
    """A sampled mini-batch; every tensor has a leading batch axis."""

    obs: torch.Tensor         # (B, obs_dim)
    action: torch.Tensor      # (B, act_dim)
    reward: torch.Tensor      # (B, 1)
    next_obs: torch.Tensor    # (B, obs_dim)
    terminated: torch.Tensor  # (B, 1) 1.0 when the episode truly ended (no bootstrap)


def required_bytes(capacity: int, obs_dim: int, act_dim: int) -> int:
    """Memory the buffer's arrays take once filled."""
    return 4 * capacity * (2 * obs_dim + act_dim + 2)


def available_memory_bytes() -> int | None:
    """Physical memory currently available, if the OS says (Linux)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


class ReplayBuffer:
    """Uniform replay over the last ``capacity`` transitions; O(1) insert."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int,
                 rng: np.random.Generator | None = None, device: str | torch.device = "cpu",
                 storage: dict[str, np.ndarray] | None = None) -> None:
        """``storage``: arrays to hold the transitions in (each field's, shaped as
        :meth:`shapes` says, float32), e.g. shared memory a learner process reads;
        else the buffer allocates its own."""
        if capacity < 1:
            raise ValueError(f"replay buffer capacity must be >= 1, got {capacity}")
        need = required_bytes(capacity, obs_dim, act_dim)
        free = available_memory_bytes()
        if free is not None and need > free:
            LOG.warning("replay buffer of %d transitions needs %.2f GB once full, more than "
                        "the %.2f GB available now; consider a smaller train.buffer_size",
                        capacity, need / 1e9, free / 1e9)
        self.capacity = int(capacity)
        self.obs_dim = int(obs_dim)
        self.act_dim = int(act_dim)
        self.device = torch.device(device)
        self.rng = rng if rng is not None else np.random.default_rng()
        for name, shape in self.shapes(capacity, obs_dim, act_dim).items():
            if storage is None:
                array = np.zeros(shape, dtype=np.float32)
            else:
                array = storage[name]
                if array.shape != shape or array.dtype != np.float32:
                    raise ValueError(f"storage for {name}: {array.dtype} {array.shape}, "
                                     f"expected float32 {shape}")
            setattr(self, name, array)
        self.ptr = 0    # index the next transition goes to
        self.size = 0   # transitions held

    @staticmethod
    def shapes(capacity: int, obs_dim: int, act_dim: int) -> dict[str, tuple[int, int]]:
        """Each field's array shape, in storage order."""
        widths = {"obs": obs_dim, "action": act_dim, "reward": 1, "next_obs": obs_dim,
                  "terminated": 1}
        return {name: (int(capacity), int(widths[name])) for name in _FIELDS}

    def __len__(self) -> int:
        return self.size

    def own_storage(self) -> None:
        """From now on hold the transitions in arrays of its own (the storage it was
        given may then be freed)."""
        for name, shape in self.shapes(self.capacity, self.obs_dim, self.act_dim).items():
            array = np.zeros(shape, dtype=np.float32)
            array[:self.size] = getattr(self, name)[:self.size]
            setattr(self, name, array)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (their full, preallocated size)."""
        return sum(getattr(self, name).nbytes for name in _FIELDS)

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
            terminated: bool) -> None:
        """Store one transition, overwriting the oldest when full."""
        i = self.ptr
        self.obs[i] = obs
        self.action[i] = action
        self.reward[i] = reward
        self.next_obs[i] = next_obs
        self.terminated[i] = float(terminated)
        self.ptr = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, avoid_next: int = 0) -> Batch:
        """``batch_size`` transitions drawn uniformly with replacement.

        ``avoid_next``: never the slots the next that many ``add`` calls overwrite, so
        a reader in another process never meets a transition being written.
        """
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if avoid_next and self.size + avoid_next > self.capacity:
            if avoid_next >= self.capacity:
                raise ValueError(f"avoid_next {avoid_next} leaves nothing of a "
                                 f"{self.capacity}-transition buffer")
            # The slots after the avoided ones, in ring order (not yet full, ptr is
            # size: the same formula gives the held slots the wrap-around spares).
            idx = (self.ptr + avoid_next
                   + self.rng.integers(0, self.capacity - avoid_next, size=batch_size)
                   ) % self.capacity
        else:
            idx = self.rng.integers(0, self.size, size=batch_size)
        return Batch(*(torch.from_numpy(getattr(self, name)[idx]).to(self.device)
                       for name in _FIELDS))

    def save(self, path: str | Path, token: str = "") -> Path:
        """Write the held transitions to an .npz file atomically (temp file + rename).

        ``token`` ties the file to the checkpoint saved with it (see ``read_token``).
        """
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        try:
            self.write_file(tmp, token)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        return path

    def write_file(self, path: str | Path, token: str = "") -> Path:
        """Write the held transitions to ``path`` itself and flush them to disk (the
        caller renames it into place: see ``save``)."""
        path = Path(path)
        with open(path, "wb") as handle:
            np.savez(handle, obs_dim=self.obs_dim, act_dim=self.act_dim,
                     capacity=self.capacity, ptr=self.ptr, token=np.array(token),
                     **{name: getattr(self, name)[:self.size] for name in _FIELDS})
            handle.flush()
            os.fsync(handle.fileno())
        return path

    @staticmethod
    def read_token(path: str | Path) -> str:
        """The token a buffer file was saved with ("" if none); ValueError if unreadable."""
        try:
            with np.load(path) as data:
                return str(data["token"]) if "token" in data.files else ""
        except (OSError, ValueError, EOFError) as error:
            raise ValueError(f"{path}: not a readable replay buffer file: {error}") from error

    def load(self, path: str | Path) -> None:
        """Replace the contents with a saved buffer.

        Same capacity: an exact copy (ring position included, so sampling continues
        as if never saved). Other capacity: the newest transitions that fit, oldest first.
        Raises ValueError naming the mismatch if the file was made for other sizes.
        """
        path = Path(path)
        try:
            with np.load(path) as data:
                arrays = {name: data[name] for name in _FIELDS}
                obs_dim, act_dim = int(data["obs_dim"]), int(data["act_dim"])
                capacity, ptr = int(data["capacity"]), int(data["ptr"])
        except (OSError, KeyError, ValueError, EOFError) as error:
            raise ValueError(f"{path}: not a readable replay buffer file: {error}") from error
        if obs_dim != self.obs_dim:
            raise ValueError(f"{path}: replay buffer observation size {obs_dim} "
                             f"!= expected {self.obs_dim}")
        if act_dim != self.act_dim:
            raise ValueError(f"{path}: replay buffer action size {act_dim} "
                             f"!= expected {self.act_dim}")
        held = len(arrays["obs"])
        if capacity == self.capacity:
            for name in _FIELDS:
                getattr(self, name)[:held] = arrays[name]
            self.size, self.ptr = held, ptr
            return
        if held == capacity:  # the saved ring had wrapped: put it in time order
            order = np.r_[ptr:held, 0:ptr]
            arrays = {name: value[order] for name, value in arrays.items()}
        count = min(held, self.capacity)
        for name in _FIELDS:
            getattr(self, name)[:count] = arrays[name][held - count:]
        self.size = count
        self.ptr = count % self.capacity
