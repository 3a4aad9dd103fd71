"""OnlineLearner: StepState -> gap gating -> exploration -> replay buffer -> updates.

Fed one state at a time: ``on_state(state)`` stores the transition the state completes
(only if it directly follows the state last answered) and returns the next action;
``update_once()`` runs one gradient update when one is due. ``update_once`` may run on
a worker thread while ``on_state`` runs on another: locks guard the buffer and the
networks, and actions come from a copy of the actor (td3.policy.Policy) refreshed after
each actor update, so acting never waits for a gradient step. A NaN or an infinity
stops it loudly (td3.checkpoint.NonFiniteError, or ValueError for a state that holds
one) before anything learns from it: non-finite states are refused, every update's
losses and every action are checked, and ``failure`` then says why, so no checkpoint is
written from the poisoned weights. It writes no files:
training.session.Session keeps the run's record (episodes, evaluation rounds,
checkpoints, logs) around it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.checkpoint import NonFiniteError
from massage_td3_ros.td3.config import ExplorationConfig, TD3Config
from massage_td3_ros.td3.exploration import Exploration
from massage_td3_ros.td3.policy import Policy
from massage_td3_ros.td3.replay_buffer import ReplayBuffer
from massage_td3_ros.training.config import TrainConfig
from massage_td3_ros.training.step_state import StepState

LOG = logging.getLogger("massage_td3_ros.training")


class Reply(NamedTuple):
    """What ``on_state`` made of a state."""

    action: np.ndarray | None  # to send; None after a terminal or truncated state
    follows: bool              # the state completed a transition from the last action


class _Pending(NamedTuple):
    """The state last answered and the action sent for it."""

    episode: int
    step: int
    obs: np.ndarray
    action: np.ndarray


class OnlineLearner:
    """TD3 fed one state at a time; see the module docstring and docs/architecture.md."""

    def __init__(self, obs_dim: int, act_dim: int, td3_cfg: TD3Config | None = None,
                 exploration_cfg: ExplorationConfig | None = None,
                 train_cfg: TrainConfig | None = None, policy: Policy | None = None) -> None:
        """``policy``: act with this fixed policy and never learn (an evaluation run);
        without one a TD3 agent learns, starting from torch's global RNG state."""
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.td3_cfg = td3_cfg or TD3Config()
        self.train_cfg = cfg = train_cfg or TrainConfig()
        self.learns = policy is None
        seeds = np.random.SeedSequence(cfg.seed).spawn(3)
        self.rng = np.random.default_rng(seeds[0])  # warm-up actions
        self.agent = TD3(self.obs_dim, self.act_dim, self.td3_cfg) if self.learns else None
        self.exploration = Exploration(exploration_cfg or ExplorationConfig(), self.act_dim,
                                       self.td3_cfg.max_action, np.random.default_rng(seeds[1]))
        self.buffer = None
        if self.learns:
            self.buffer = self._make_buffer(cfg.buffer_size, np.random.default_rng(seeds[2]))
            LOG.info("replay buffer: %d transitions, %.1f MB", cfg.buffer_size,
                     self.buffer.nbytes / 1e6)
        self.policy = Policy(self.agent.actor, self.td3_cfg) if self.learns else policy
        self._net_lock = threading.Lock()     # actor/critic weights and optimisers
        self._buffer_lock = threading.Lock()  # buffer, update schedule, counters
        self.env_steps = 0       # stored transitions
        self.updates = 0         # gradient (critic) updates
        self.gaps = 0            # states that did not follow the pending one
        self.updates_due = 0.0
        self.training = False    # the current episode explores and is stored
        self.failure: str | None = None  # why learning stopped (a non-finite value)
        self._pending: _Pending | None = None

    # ------------------------------------------------------------------ acting
    def start_episode(self, training: bool) -> None:
        """Call before the first state of each episode; ``training``: explore and store
        its transitions (False: act deterministically, store nothing)."""
        self.training = training and self.learns
        self.exploration.reset()

    def on_state(self, state: StepState) -> Reply:
        """Store the transition this state completes (if any); choose the next action."""
        with np.errstate(over="ignore"):  # a value beyond float32 is refused below
            obs = np.asarray(state.obs, dtype=np.float32).reshape(-1)
        if obs.size != self.obs_dim:
            raise ValueError(f"state.obs has {obs.size} values, expected {self.obs_dim}")
        _check_finite(state, obs)
        pending, self._pending = self._pending, None
        follows = (pending is not None and not state.first and state.episode == pending.episode
                   and state.step == pending.step + 1)
        if follows and self.training:
            self._store(pending, state, obs)
        elif not follows and (pending is not None or not state.first):
            self.gaps += 1
        if state.last:
            return Reply(None, follows)
        action = self._choose_action(obs, state.step)
        self._pending = _Pending(state.episode, state.step, obs, action)
        return Reply(action, follows)

    def forget_pending(self) -> None:
        """The next state will not follow the last action returned (it was not applied:
        held action, lost messages); drop it so that state counts as a gap, not a
        transition."""
        self._pending = None

    def _choose_action(self, obs: np.ndarray, episode_step: int) -> np.ndarray:
        if self.training and self.env_steps < self.train_cfg.warmup_steps:
            raw = self.rng.uniform(-1.0, 1.0, self.act_dim) * self.td3_cfg.max_action
            return self.exploration.apply(raw, episode_step, self.env_steps, add_noise=False)
        action = self.policy.act(obs)
        if not np.isfinite(action).all():
            # Finite losses can still leave a weight non-finite (an overflowing
            # gradient); its first sign is the action. Checked here, it costs nothing.
            self._fail(f"the actor's action {action.tolist()} is non-finite after gradient "
                       f"update {self.updates} (env step {self.env_steps})")
        if not self.training:
            return action
        return self.exploration.apply(action, episode_step, self.env_steps)

    def _fail(self, what: str) -> None:
        if self.failure is None:
            self.failure = f"{what}; training stopped, the weights are not usable"
            LOG.error("%s", self.failure)
        raise NonFiniteError(self.failure)

    def _store(self, pending: _Pending, state: StepState, next_obs: np.ndarray) -> None:
        with self._buffer_lock:
            self.buffer.add(pending.obs, pending.action, float(state.reward), next_obs,
                            state.terminated)
            self.env_steps += 1
            if (self.env_steps > self.train_cfg.warmup_steps
                    and len(self.buffer) >= self.td3_cfg.batch_size):
                self.updates_due += self.train_cfg.updates_per_step

    def _make_buffer(self, capacity: int, rng: np.random.Generator) -> ReplayBuffer:
        return ReplayBuffer(capacity, self.obs_dim, self.act_dim, rng, self.agent.device)

    # ---------------------------------------------------------------- learning
    def run_updates(self) -> Iterator[tuple[int, dict[str, float]]]:
        """Run the gradient updates now due; yields (update number, its losses) as each
        finishes."""
        while (losses := self.update_once()) is not None:
            yield self.updates, losses

    def drain(self) -> Iterator[tuple[int, dict[str, float]]]:
        """Updates that started but whose losses were not yielded yet (none, inline)."""
        yield from ()

    def update_once(self) -> dict[str, float] | None:
        """One gradient update if one is due (its losses), else None."""
        if not self.learns:
            return None
        with self._buffer_lock:
            if self.updates_due < 1.0:
                return None
            self.updates_due -= 1.0
            batch = self.buffer.sample(self.td3_cfg.batch_size)
        with self._net_lock:
            if self.failure is not None:
                raise NonFiniteError(self.failure)
            losses = self.agent.train(batch)
            failure = losses_failure(losses, f"gradient update {self.updates + 1} "
                                             f"(env step {self.env_steps})")
            if failure is not None:  # before the acting copy takes the weights
                self._fail(failure)
            if "actor_loss" in losses:
                self.policy.refresh(self.agent.actor)
        with self._buffer_lock:
            self.updates += 1
        return losses

    # ------------------------------------------------------------- checkpoints
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """No update and no stored transition while inside (to save or load)."""
        with self._net_lock, self._buffer_lock:
            yield

    def get_lag(self) -> dict[str, Any] | None:
        """What the acting weights lag behind (None inline: they never do)."""
        return None

    def set_lag(self, lag: dict[str, Any] | None) -> None:
        """Inline, the loaded actor acts at once, whatever a checkpoint recorded."""

    def get_state(self) -> dict[str, Any]:
        """JSON-friendly counters, update schedule and RNG states (inside ``locked``)."""
        return {"env_steps": self.env_steps, "updates": self.updates, "gaps": self.gaps,
                "updates_due": self.updates_due, "warmup_rng": self.rng.bit_generator.state,
                "buffer_rng": None if self.buffer is None else self.buffer.rng.bit_generator.state,
                "exploration": self.exploration.get_state()}

    def close(self) -> None:
        """Release what the learner holds outside this object (nothing, here)."""

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what ``get_state`` returned (inside ``locked``)."""
        self.env_steps, self.updates = int(state["env_steps"]), int(state["updates"])
        self.gaps, self.updates_due = int(state["gaps"]), float(state["updates_due"])
        self.rng.bit_generator.state = state["warmup_rng"]
        if self.buffer is not None and state["buffer_rng"] is not None:
            self.buffer.rng.bit_generator.state = state["buffer_rng"]
        self.exploration.set_state(state["exploration"])


def losses_failure(losses: dict[str, float], where: str) -> str | None:
    """What is wrong with an update's losses (a NaN or an infinity), or None."""
    bad = {name: value for name, value in losses.items() if not math.isfinite(value)}
    if not bad:
        return None
    return f"non-finite {', '.join(f'{k} ({v})' for k, v in bad.items())} at {where}"


def _check_finite(state: StepState, obs: np.ndarray) -> None:
    """ValueError naming the first non-finite value of a state (as float32, what the
    buffer would hold: 1e39 is an infinity there)."""
    where = f"state of episode {state.episode}, step {state.step}"
    bad = np.flatnonzero(~np.isfinite(obs))
    if bad.size:
        raise ValueError(f"{where}: obs[{bad[0]}] is {obs[bad[0]]} as float32 ({bad.size} "
                         "non-finite values); refusing to learn from it")
    with np.errstate(over="ignore"):
        reward = np.float32(state.reward)
    if not np.isfinite(reward):
        raise ValueError(f"{where}: reward {state.reward} is {reward} as float32; refusing "
                         "to learn from it")


__all__ = ["OnlineLearner", "Reply", "losses_failure"]
