"""Encode and decode ``/massage/state``: one step's observation and outcome in one message.

The message is a ``std_msgs/Float64MultiArray`` whose ``layout.dim`` entries are
consecutive labelled segments of ``data`` (label = field, size = its length,
stride = the segment's offset in ``data``), in this order::

    stamp_sec, stamp_nanosec, episode, step, first, terminated, truncated, held,
    applied_action (3 values), reward, obs (obs_dim values), info.<key> (one per
    STEP_INFO_KEYS entry)

``held`` is 1 when the step that produced this state applied a held action (a lockstep
timeout, or realtime mode without a fresh reply) instead of the reply to the previous
state: the agent must not store that step as a transition of its own action.
``applied_action`` is the action the step really applied, after clamping to [-1, 1]
(the held action for a held step, zeros for the first state of an episode): an agent
stores a step only if it is the action it sent, so a step taken with another
publisher's action never enters its replay buffer as its own.

The stamp is the one every stamped message of that control step carries; the agent
echoes it in its ``/massage/action``. float64 holds every counter exactly (< 2**53).
A decoded message is the learner's StepState plus the stamp, ``held`` and
``applied_action``. Every value is checked against its segment's range (``Bound``): a
finite but absurd value (1e39 is finite in float64 and inf in float32; 1e30 in a reward
would swamp every Q value), a stamp no builtin_interfaces/Time can carry, a counter that
is no whole number or a flag that is neither 0 nor 1 rejects the whole message, naming
the value (``BadStateError``, with a ``reason`` for counting).
This module needs only the message package and numpy: no rclpy node, no PyBullet, no torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from std_msgs.msg import Float64MultiArray, MultiArrayDimension

from massage_td3_ros.training.step_state import StepState

ACT_DIM = 3
SEC_MAX = 2**31 - 1              # builtin_interfaces/Time.sec is an int32
NANOSEC_MAX = 999_999_999        # Time.nanosec: below one second
COUNTER_MAX = 2**53              # float64 holds every whole number up to here exactly
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Entries of order 1 (unit vectors, quaternions) may exceed their bound by float32 rounding.
ROUNDING = 1e-6
# Why a message was rejected (BadStateError.reason): what the agent counts.
REASONS = ("length", "layout", "non_finite", "stamp", "out_of_range")


class Bound(NamedTuple):
    """The closed range of one value; ``integer``: whole numbers only."""

    low: float
    high: float
    integer: bool = False


FLAG = Bound(0.0, 1.0, integer=True)
COUNTER = Bound(0.0, COUNTER_MAX, integer=True)
# The per-step values of env/metrics.STEP_INFO_KEYS: what each can physically be, wide
# enough for any arm and sensor, narrow enough that nonsense (1e30 N) is refused.
INFO_BOUNDS: dict[str, Bound] = {
    "force_n": Bound(0.0, 1e5),
    "target_force_n": Bound(0.0, 1e3),
    "in_band": FLAG,
    "over_force": FLAG,
    "wrong_link_contact": FLAG,
    "contact_lost": FLAG,
    "path_progress": Bound(0.0, 1.0),
    "tool_z_cmd_m": Bound(-100.0, 100.0),
    "tool_z_m": Bound(-100.0, 100.0),
    "lateral_error_m": Bound(-100.0, 100.0),
    "contact_link": Bound(-3.0, 10_000.0, integer=True),  # -3 base, -2 tool, -1 none
    "tissue_region": Bound(-1.0, 1_000.0, integer=True),   # -1 no tool contact
    "target_step": FLAG,
}


def reward_bounds() -> tuple[float, float]:
    """The range of env/reward.compute_reward over every weight EnvConfig allows (the
    agent does not know the sim's weights): each term is at most its weight in size,
    the lateral and action-rate terms at most 4 times it, overshoot OVERSHOOT_CAP
    times it, and only force_band is positive."""
    from massage_td3_ros.env.config import EnvConfig
    from massage_td3_ros.env.reward import OVERSHOOT_CAP

    high = {f.name: f.metadata["high"] for f in dataclasses.fields(EnvConfig)}
    penalties = (high["reward_force_weight"] + high["reward_wrong_link_weight"]
                 + high["reward_contact_lost_weight"] + 4.0 * high["reward_lateral_weight"]
                 + 4.0 * high["reward_action_rate_weight"] + high["reward_unsafe_penalty"]
                 + OVERSHOOT_CAP * high["reward_overshoot_weight"])
    return -float(penalties), float(high["reward_force_weight"])


class BadStateError(ValueError):
    """A /massage/state message the codec refuses; ``reason`` is one of REASONS."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason


@dataclass(frozen=True)
class Segment:
    """One labelled segment of the layout with the range of its values."""

    label: str
    size: int
    bounds: tuple[Bound, ...]   # one per value
    names: tuple[str, ...]      # one per value, for messages: "obs[12] (tool_quat[1])"


def _segment(label: str, size: int, bound: Bound) -> Segment:
    names = (label,) if size == 1 else tuple(f"{label}[{i}]" for i in range(size))
    return Segment(label, size, (bound,) * size, names)


@dataclass
class StateMessage(StepState):
    """The decoded contents of one ``/massage/state`` message: a StepState, stamped."""

    stamp_sec: int = field(kw_only=True)
    stamp_nanosec: int = field(kw_only=True)
    held: bool = field(kw_only=True)   # the step applied a held action, not the answer
    applied_action: np.ndarray = field(kw_only=True)  # float64 (3,), after clamping

    @property
    def stamp_ns(self) -> int:
        """The stamp as integer nanoseconds (for matching an action's stamp)."""
        return self.stamp_sec * 1_000_000_000 + self.stamp_nanosec


class StateCodec:
    """Builds and checks the labelled layout for a given observation size and info keys.

    ``obs_bounds``: (name, size, low, high) sub-segments covering the observation (by
    default one, the float32 range); ``info_bounds``: key -> Bound (by default any
    finite value)."""

    def __init__(self, obs_dim: int, info_keys: Sequence[str],
                 obs_bounds: Sequence[tuple[str, int, float, float]] | None = None,
                 info_bounds: Mapping[str, Bound] | None = None) -> None:
        if obs_dim < 1:
            raise ValueError(f"StateCodec: obs_dim must be >= 1, got {obs_dim}")
        self.obs_dim = int(obs_dim)
        self.info_keys = tuple(info_keys)
        info_bounds = info_bounds or {}
        header = [_segment("stamp_sec", 1, Bound(0.0, SEC_MAX, integer=True)),
                  _segment("stamp_nanosec", 1, Bound(0.0, NANOSEC_MAX, integer=True)),
                  _segment("episode", 1, COUNTER), _segment("step", 1, COUNTER),
                  _segment("first", 1, FLAG), _segment("terminated", 1, FLAG),
                  _segment("truncated", 1, FLAG), _segment("held", 1, FLAG),
                  _segment("applied_action", ACT_DIM, Bound(-1.0, 1.0)),
                  _segment("reward", 1, Bound(*reward_bounds()))]
        layout = [_segment(f"info.{key}", 1, info_bounds.get(key, Bound(-np.inf, np.inf)))
                  for key in self.info_keys]
        segments = header + [self._obs_segment(obs_bounds)] + layout
        self.segments: tuple[tuple[str, int], ...] = tuple(
            (segment.label, segment.size) for segment in segments)
        self.length = sum(size for _, size in self.segments)
        self._applied_start = sum(seg.size for seg in header[:8])
        self._obs_start = sum(seg.size for seg in header)
        self._info_start = self._obs_start + self.obs_dim
        self._dims = self.layout_dims()
        # One name per value, for error messages: "obs[12]", "info.force_n", ...
        self.labels = [label if size == 1 else f"{label}[{i}]"
                       for label, size in self.segments for i in range(size)]
        bounds = [bound for segment in segments for bound in segment.bounds]
        self._names = [name for segment in segments for name in segment.names]
        self._low = np.array([b.low for b in bounds])
        self._high = np.array([b.high for b in bounds])
        self._integer = np.array([b.integer for b in bounds])
        self._slack = np.where(self._integer, 0.0, ROUNDING)
        self._bounds = bounds

    def _obs_segment(self, obs_bounds) -> Segment:
        parts = obs_bounds or [("obs", self.obs_dim, -FLOAT32_MAX, FLOAT32_MAX)]
        if sum(int(size) for _, size, _, _ in parts) != self.obs_dim:
            raise ValueError(f"StateCodec: obs_bounds cover {sum(p[1] for p in parts)} "
                             f"values, obs_dim is {self.obs_dim}")
        bounds, names, index = [], [], 0
        for name, size, low, high in parts:
            for i in range(int(size)):
                bounds.append(Bound(float(low), float(high)))
                part = name if size == 1 else f"{name}[{i}]"
                names.append(f"obs[{index}]" + (f" ({part})" if obs_bounds else ""))
                index += 1
        return Segment("obs", self.obs_dim, tuple(bounds), tuple(names))

    @classmethod
    def for_env(cls) -> StateCodec:
        """The codec of the package's env (OBS_LAYOUT with OBS_BOUNDS, STEP_INFO_KEYS)."""
        from massage_td3_ros.env.metrics import STEP_INFO_KEYS
        from massage_td3_ros.env.observation import OBS_BOUNDS, OBS_DIM, OBS_LAYOUT
        return cls(OBS_DIM, STEP_INFO_KEYS,
                   [(name, size, *OBS_BOUNDS[name]) for name, size in OBS_LAYOUT],
                   INFO_BOUNDS)

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
               first: bool, terminated: bool, truncated: bool, held: bool, applied_action,
               reward: float, obs: np.ndarray, info: Mapping[str, float]
               ) -> Float64MultiArray:
        """One state message; raises ValueError on a wrong obs size or missing info key."""
        obs = np.asarray(obs, dtype=np.float64).reshape(-1)
        if obs.shape[0] != self.obs_dim:
            raise ValueError(f"state: obs has {obs.shape[0]} values, expected {self.obs_dim}")
        applied = np.asarray(applied_action, dtype=np.float64).reshape(-1)
        if applied.shape[0] != ACT_DIM:
            raise ValueError(f"state: applied_action has {applied.shape[0]} values, "
                             f"expected {ACT_DIM}")
        missing = [key for key in self.info_keys if key not in info]
        if missing:
            raise ValueError(f"state: info lacks {missing}; expected keys {self.info_keys}")
        header = [stamp_sec, stamp_nanosec, episode, step, float(first), float(terminated),
                  float(truncated), float(held)]
        data = np.empty(self.length, dtype=np.float64)
        data[:self._applied_start] = header
        data[self._applied_start:self._obs_start - 1] = applied
        data[self._obs_start - 1] = reward
        data[self._obs_start:self._info_start] = obs
        data[self._info_start:] = [float(info[key]) for key in self.info_keys]
        msg = Float64MultiArray()
        msg.layout.dim = self._dims  # shared: messages are read-only once published
        msg.layout.data_offset = 0
        msg.data = data
        return msg

    def check(self, data: np.ndarray) -> None:
        """Raise BadStateError naming the first value outside its segment's range."""
        if not np.all(np.isfinite(data)):
            # A NaN stored once in the replay buffer would spread to every network weight.
            bad = [self._names[i] for i in np.flatnonzero(~np.isfinite(data))[:5]]
            raise BadStateError("non_finite", f"/massage/state has non-finite values at "
                                f"{', '.join(bad)}")
        outside = ((data < self._low - self._slack) | (data > self._high + self._slack)
                   | (self._integer & (data != np.floor(data))))
        if not outside.any():
            return
        first = int(np.flatnonzero(outside)[0])
        name, bound, value = self._names[first], self._bounds[first], float(data[first])
        if bound.integer:
            kind, low, high = "a whole number in", int(bound.low), int(bound.high)
        else:
            kind, low, high = "in", f"{bound.low:g}", f"{bound.high:g}"
        reason = "stamp" if name.startswith("stamp_") else "out_of_range"
        more = int(outside.sum()) - 1
        raise BadStateError(reason, f"/massage/state {name} = {value!r} is not {kind} "
                            f"[{low}, {high}]"
                            + (f" ({more} more value(s) out of range)" if more else ""))

    def decode(self, msg: Float64MultiArray) -> StateMessage:
        """Read a state message; raises BadStateError (a ValueError) naming the expected
        layout if it differs, or the first value outside its range."""
        data = np.asarray(msg.data, dtype=np.float64)
        if data.shape[0] != self.length:
            raise BadStateError("length", f"/massage/state has {data.shape[0]} values; "
                                f"expected {self.describe()}")
        labels = [(dim.label, int(dim.size)) for dim in msg.layout.dim]
        if tuple(labels) != self.segments:
            got = ", ".join(f"{label}[{size}]" for label, size in labels)
            raise BadStateError("layout", f"/massage/state layout is {got}; expected "
                                f"{self.describe()}")
        self.check(data)
        header = data[:self._applied_start]
        return StateMessage(
            stamp_sec=int(header[0]), stamp_nanosec=int(header[1]), episode=int(header[2]),
            step=int(header[3]), first=bool(header[4]), terminated=bool(header[5]),
            truncated=bool(header[6]), held=bool(header[7]),
            applied_action=data[self._applied_start:self._obs_start - 1].copy(),
            reward=float(data[self._obs_start - 1]),
            obs=data[self._obs_start:self._info_start].astype(np.float32),
            info={key: float(value)
                  for key, value in zip(self.info_keys, data[self._info_start:])})
