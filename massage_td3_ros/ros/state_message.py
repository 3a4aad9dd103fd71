"""Encode and decode ``/massage/state``: one step's observation and outcome in one message.

The message is a ``std_msgs/Float64MultiArray`` whose ``layout.dim`` entries are
consecutive labelled segments of ``data`` (label = field, size = its length,
stride = the segment's offset in ``data``), in this order::

    stamp_sec, stamp_nanosec, episode, step, first, terminated, truncated, held, reward,
    obs (obs_dim values), info.<key> (one per STEP_INFO_KEYS entry)

``held`` is 1 when the step that produced this state applied a held action (a lockstep
timeout, or realtime mode without a fresh reply) instead of the reply to the previous
state: the agent must not store that step as a transition of its own action.

The stamp is the one every stamped message of that control step carries; the agent
echoes it in its ``/massage/action``. float64 holds every counter exactly (< 2**53).
A decoded message is the learner's StepState plus the stamp and ``held``.
This module needs only the message package and numpy: no rclpy node, no PyBullet, no torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from std_msgs.msg import Float64MultiArray, MultiArrayDimension

from massage_td3_ros.training.step_state import StepState

HEADER_LABELS: tuple[str, ...] = (
    "stamp_sec", "stamp_nanosec", "episode", "step", "first", "terminated", "truncated",
    "held", "reward")


@dataclass
class StateMessage(StepState):
    """The decoded contents of one ``/massage/state`` message: a StepState, stamped."""

    stamp_sec: int = field(kw_only=True)
    stamp_nanosec: int = field(kw_only=True)
    held: bool = field(kw_only=True)   # the step applied a held action, not the answer

    @property
    def stamp_ns(self) -> int:
        """The stamp as integer nanoseconds (for matching an action's stamp)."""
        return self.stamp_sec * 1_000_000_000 + self.stamp_nanosec


class StateCodec:
    """Builds and checks the labelled layout for a given observation size and info keys."""

    def __init__(self, obs_dim: int, info_keys: Sequence[str]) -> None:
        if obs_dim < 1:
            raise ValueError(f"StateCodec: obs_dim must be >= 1, got {obs_dim}")
        self.obs_dim = int(obs_dim)
        self.info_keys = tuple(info_keys)
        segments = [(label, 1) for label in HEADER_LABELS]
        segments.append(("obs", self.obs_dim))
        segments += [(f"info.{key}", 1) for key in self.info_keys]
        self.segments: tuple[tuple[str, int], ...] = tuple(segments)
        self.length = sum(size for _, size in segments)
        self._obs_start = len(HEADER_LABELS)
        self._info_start = self._obs_start + self.obs_dim
        self._dims = self.layout_dims()
        # One name per value, for error messages: "obs[12]", "info.force_n", ...
        self.labels = [label if size == 1 else f"{label}[{i}]"
                       for label, size in segments for i in range(size)]

    @classmethod
    def for_env(cls) -> StateCodec:
        """The codec of the package's env (OBS_DIM, STEP_INFO_KEYS)."""
        from massage_td3_ros.env.metrics import STEP_INFO_KEYS
        from massage_td3_ros.env.observation import OBS_DIM
        return cls(OBS_DIM, STEP_INFO_KEYS)

    def describe(self) -> str:
        """The expected layout as text, e.g. for an error message."""
        parts = ", ".join(f"{label}[{size}]" for label, size in self.segments)
        return f"{self.length} float64 values: {parts}"

    def layout_dims(self) -> list[MultiArrayDimension]:
        """The labelled segments as MultiArrayDimension entries."""
        dims, offset = [], 0
        for label, size in self.segments:
            dims.append(MultiArrayDimension(label=label, size=size, stride=offset))
            offset += size
        return dims

    def encode(self, *, stamp_sec: int, stamp_nanosec: int, episode: int, step: int,
               first: bool, terminated: bool, truncated: bool, held: bool, reward: float,
               obs: np.ndarray, info: Mapping[str, float]) -> Float64MultiArray:
        """One state message; raises ValueError on a wrong obs size or missing info key."""
        obs = np.asarray(obs, dtype=np.float64).reshape(-1)
        if obs.shape[0] != self.obs_dim:
            raise ValueError(f"state: obs has {obs.shape[0]} values, expected {self.obs_dim}")
        missing = [key for key in self.info_keys if key not in info]
        if missing:
            raise ValueError(f"state: info lacks {missing}; expected keys {self.info_keys}")
        header = [stamp_sec, stamp_nanosec, episode, step, float(first), float(terminated),
                  float(truncated), float(held), reward]
        data = np.empty(self.length, dtype=np.float64)
        data[:self._obs_start] = header
        data[self._obs_start:self._info_start] = obs
        data[self._info_start:] = [float(info[key]) for key in self.info_keys]
        msg = Float64MultiArray()
        msg.layout.dim = self._dims  # shared: messages are read-only once published
        msg.layout.data_offset = 0
        msg.data = data
        return msg

    def decode(self, msg: Float64MultiArray) -> StateMessage:
        """Read a state message; raises ValueError naming the expected layout if it differs."""
        data = np.asarray(msg.data, dtype=np.float64)
        if data.shape[0] != self.length:
            raise ValueError(f"/massage/state has {data.shape[0]} values; expected "
                             f"{self.describe()}")
        labels = [(dim.label, int(dim.size)) for dim in msg.layout.dim]
        if tuple(labels) != self.segments:
            got = ", ".join(f"{label}[{size}]" for label, size in labels)
            raise ValueError(f"/massage/state layout is {got}; expected {self.describe()}")
        header = data[:self._obs_start]
        if not np.all(np.isfinite(data)):
            # A NaN stored once in the replay buffer would spread to every network weight.
            bad = [self.labels[i] for i in np.flatnonzero(~np.isfinite(data))[:5]]
            raise ValueError(f"/massage/state has non-finite values at {', '.join(bad)}")
        return StateMessage(
            stamp_sec=int(header[0]), stamp_nanosec=int(header[1]), episode=int(header[2]),
            step=int(header[3]), first=bool(header[4] > 0.5), terminated=bool(header[5] > 0.5),
            truncated=bool(header[6] > 0.5), held=bool(header[7] > 0.5),
            reward=float(header[8]),
            obs=data[self._obs_start:self._info_start].astype(np.float32),
            info={key: float(value)
                  for key, value in zip(self.info_keys, data[self._info_start:])})

