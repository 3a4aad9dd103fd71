"""OnlineLearner: the one "observe, act, store, update" loop.

Driven by the in-process trainer (gymnasium env) and by the ROS agent node (states over
DDS) through the same two calls: ``on_state(state)`` returns the action to send (None
once the episode is over), then ``update()`` runs the gradient updates now due; call it
after every state, terminal ones included, so both paths update at the same moments.
Everything periodic (episode logs, interleaved deterministic evaluation, checkpoints,
figures) happens inside, at episode ends, so both paths behave alike. ``update()`` may
run on a worker thread while ``on_state`` runs on another: locks guard the buffer and
the networks.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from massage_td3_ros.env.metrics import STEP_INFO_KEYS, EpisodeMetrics
from massage_td3_ros.params import to_dict
from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.checkpoint import checkpoint_path
from massage_td3_ros.td3.config import ExplorationConfig, TD3Config
from massage_td3_ros.td3.exploration import Exploration
from massage_td3_ros.td3.replay_buffer import ReplayBuffer
from massage_td3_ros.training import persistence
from massage_td3_ros.training.config import TrainConfig
from massage_td3_ros.training.logger import RunLogger

LOG = logging.getLogger("massage_td3_ros.training")
MODES = ("train", "eval")


@dataclass
class StepState:
    """What the agent sees after one control step (or a reset)."""

    obs: np.ndarray                 # float32 (obs_dim,)
    episode: int                    # episode counter of the producer (sim)
    step: int                       # 0 for the first state of an episode
    first: bool                     # True right after a reset
    reward: float = 0.0             # outcome of the step that produced this state
    terminated: bool = False
    truncated: bool = False
    info: Mapping[str, float] = field(default_factory=dict)  # the STEP_INFO_KEYS values


def normalise_layout(obs_labels: Sequence | Mapping | None, obs_dim: int
                     ) -> list[tuple[str, int]] | None:
    """Observation layout as (name, size) segments; plain names count as size 1."""
    if obs_labels is None:
        return None
    items = obs_labels.items() if isinstance(obs_labels, Mapping) else obs_labels
    layout = [(item, 1) if isinstance(item, str) else (str(item[0]), int(item[1]))
              for item in items]
    total = sum(size for _, size in layout)
    if total != obs_dim:
        raise ValueError(f"observation layout sums to {total} values, obs_dim is {obs_dim}")
    return layout


class OnlineLearner:
    """TD3 fed one state at a time; see the module docstring and docs/architecture.md."""

    def __init__(self, obs_dim: int, act_dim: int, td3_cfg: TD3Config | None = None,
                 exploration_cfg: ExplorationConfig | None = None,
                 train_cfg: TrainConfig | None = None, run_dir: str | Path = "runs/run",
                 obs_labels: Sequence | Mapping | None = None, mode: str = "train",
                 checkpoint: str | Path | None = None, band_n: float | None = None,
                 action_meta: Mapping[str, Any] | None = None) -> None:
        """``checkpoint``: file to start from (eval: required weights; train: instead of
        the run folder's latest). ``band_n``: force band half-width for the figures.
        ``action_meta``: how the env reads actions (e.g. its action mode), stored in
        checkpoints so an evaluation can refuse an env that reads them differently."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.obs_dim, self.act_dim, self.mode = int(obs_dim), int(act_dim), mode
        self.td3_cfg = td3_cfg or TD3Config()
        self.exploration_cfg = exploration_cfg or ExplorationConfig()
        self.train_cfg = train_cfg or TrainConfig()
        self.run_dir = Path(run_dir)
        self.obs_layout = normalise_layout(obs_labels, self.obs_dim)
        self.band_n = band_n
        self.action_meta = dict(action_meta) if action_meta else None
        cfg = self.train_cfg
        if self.td3_cfg.torch_threads > 0:
            torch.set_num_threads(self.td3_cfg.torch_threads)
        if cfg.deterministic_torch:
            torch.use_deterministic_algorithms(True)
        if mode == "train":  # an eval learner (e.g. a baseline's report) keeps the
            persistence.seed_everything(cfg.seed)  # caller's global RNG streams as they are
        seeds = np.random.SeedSequence(cfg.seed).spawn(3)
        self.rng = np.random.default_rng(seeds[0])  # warm-up actions
        self.agent = TD3(self.obs_dim, self.act_dim, self.td3_cfg)
        self.exploration = Exploration(self.exploration_cfg, self.act_dim,
                                       self.td3_cfg.max_action, np.random.default_rng(seeds[1]))
        self.buffer = ReplayBuffer(cfg.buffer_size, self.obs_dim, self.act_dim,
                                   np.random.default_rng(seeds[2]), self.agent.device
                                   ) if mode == "train" else None
        if self.buffer is not None:
            LOG.info("replay buffer: %d transitions, %.1f MB", cfg.buffer_size,
                     self.buffer.nbytes / 1e6)
        self._net_lock = threading.Lock()     # actor/critic weights and optimisers
        # Actions come from a copy of the actor, refreshed after each actor update under
        # a short lock, so acting never waits for a gradient step running on another
        # thread (the ROS agent's background updates).
        self._policy = copy.deepcopy(self.agent.actor).requires_grad_(False)
        self._policy_lock = threading.Lock()
        self._buffer_lock = threading.Lock()  # buffer, update schedule, loss sums
        # Counters (checkpointed).
        self.env_steps = 0       # stored training transitions
        self.episodes = 0        # finished training episodes
        self.eval_episodes = 0   # finished deterministic evaluation episodes
        self.updates = 0         # gradient (critic) updates
        self.gaps = 0            # states that did not follow the pending one
        self.best_score = -math.inf
        self._updates_due = 0.0
        self._eval_remaining = 0
        self._eval_returns: list[float] = []
        self._checkpoint_due = False
        self._loss_sums: dict[str, float] = {}
        self._loss_counts: dict[str, int] = {}
        # Current episode (not checkpointed: a resumed run starts a new episode).
        self._pending: tuple[int, int, np.ndarray, np.ndarray] | None = None
        self._episode_id: int | None = None
        self._episode_is_eval = False
        self._episode_return = 0.0
        self._episode_length = 0
        self._metrics = EpisodeMetrics()
        self._trace: dict[str, list[float]] = {}
        self.last_trace: dict[str, list[float]] = {}
        self.last_summary: dict[str, float] = {}   # metrics of the last whole episode
        self.logger = RunLogger(self.run_dir, tensorboard=cfg.log_tensorboard)
        start = Path(checkpoint) if checkpoint else None
        if start is None and mode == "train" and cfg.resume:
            latest = checkpoint_path(self.run_dir, "latest")
            start = latest if latest.is_file() else None
        if mode == "eval" and start is None:
            LOG.warning("eval mode without a checkpoint: acting with untrained weights")
        if start is not None:
            self.load_checkpoint(start, weights_only=(mode == "eval"))

    # ------------------------------------------------------------------ acting
    @property
    def training(self) -> bool:
        """True while the current episode is a training (not evaluation) episode."""
        return self.mode == "train" and not self._episode_is_eval

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The deterministic policy's action in [-max_action, max_action]."""
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.agent.device)
        with self._policy_lock, torch.no_grad():
            return self._policy(obs_t.unsqueeze(0))[0].cpu().numpy()

    def _refresh_policy(self) -> None:
        """Copy the online actor's weights into the acting copy (caller holds _net_lock)."""
        with self._policy_lock, torch.no_grad():
            for acting, online in zip(self._policy.parameters(),
                                      self.agent.actor.parameters()):
                acting.copy_(online)

    def on_state(self, state: StepState) -> np.ndarray | None:
        """Store the transition this state completes (if any); return the next action.

        Returns None after a terminal or truncated state (the episode is over).
        """
        obs = np.asarray(state.obs, dtype=np.float32).reshape(-1)
        if obs.size != self.obs_dim:
            raise ValueError(f"state.obs has {obs.size} values, expected {self.obs_dim}")
        pending = self._pending
        follows = (pending is not None and not state.first and state.episode == pending[0]
                   and state.step == pending[1] + 1)
        if follows:
            self._record_step(pending, state, obs)
        elif pending is not None or not state.first:
            self.gaps += 1
        self._pending = None
        if state.first or state.episode != self._episode_id:
            self._start_episode(state.episode)
        if state.terminated or state.truncated:
            if follows:
                self._finish_episode()
            self._episode_id = None
            return None
        action = self._choose_action(obs, state.step)
        self._pending = (state.episode, state.step, obs, action)
        return action

    def forget_pending(self) -> None:
        """The next state will not follow the last action returned (it was not applied:
        held action, lost messages); drop it so that state counts as a gap, not a
        transition."""
        self._pending = None

    def _choose_action(self, obs: np.ndarray, episode_step: int) -> np.ndarray:
        if not self.training:
            return self.act(obs)
        if self.env_steps < self.train_cfg.warmup_steps:
            raw = self.rng.uniform(-1.0, 1.0, self.act_dim) * self.td3_cfg.max_action
            return self.exploration.apply(raw, episode_step, self.env_steps, add_noise=False)
        return self.exploration.apply(self.act(obs), episode_step, self.env_steps)

    def _record_step(self, pending: tuple, state: StepState, next_obs: np.ndarray) -> None:
        _, _, obs, action = pending
        reward = float(state.reward)
        self._episode_return += reward
        self._episode_length += 1
        info = state.info or {}
        if all(key in info for key in STEP_INFO_KEYS):
            self._metrics.add(info)
            for key in STEP_INFO_KEYS:
                self._trace.setdefault(key, []).append(float(info[key]))
        if not self.training:
            return
        with self._buffer_lock:
            self.buffer.add(obs, action, reward, next_obs, state.terminated, state.truncated)
            self.env_steps += 1
            if (self.env_steps > self.train_cfg.warmup_steps
                    and len(self.buffer) >= self.td3_cfg.batch_size):
                self._updates_due += self.train_cfg.updates_per_step
        every = self.train_cfg.checkpoint_every_steps
        if every and self.env_steps % every == 0:
            self._checkpoint_due = True

    @property
    def next_eval_index(self) -> int | None:
        """Place of the next episode in the current evaluation round (0, 1, ...), or None
        if it is a training episode; a driver that can choose its episodes uses it to
        evaluate every round on the same cases."""
        if self.mode != "train" or self._eval_remaining <= 0:
            return None
        return self.train_cfg.eval_episodes - self._eval_remaining

    def _start_episode(self, episode_id: int) -> None:
        self._episode_id = episode_id
        self._episode_is_eval = self.mode == "train" and self._eval_remaining > 0
        self._episode_return, self._episode_length = 0.0, 0
        self._metrics.reset()
        self._trace = {}
        self.exploration.reset()

    def _finish_episode(self) -> None:
        summary = self._metrics.summary() if self._metrics.steps else {}
        self.last_trace, self.last_summary = self._trace, summary
        if self.mode == "eval" or self._episode_is_eval:
            self.eval_episodes += 1
            self._eval_returns.append(self._episode_return)
            LOG.info("eval episode %d: return %.2f length %d", self.eval_episodes,
                     self._episode_return, self._episode_length)
            if self.mode == "eval":  # a pure evaluation run: one eval.csv row per episode
                self.logger.log_eval({"episode": self.eval_episodes, "env_steps": self.env_steps,
                                      "mean_return": self._episode_return, "episodes": 1,
                                      **{f"metric_{k}": v for k, v in summary.items()}})
            if self._episode_is_eval:
                self._eval_remaining -= 1
                if self._eval_remaining == 0:
                    self._finish_evaluation()
            return
        self.episodes += 1
        row = {"episode": self.episodes, "env_steps": self.env_steps, "updates": self.updates,
               "episode_return": self._episode_return, "episode_length": self._episode_length,
               "gaps": self.gaps}
        self.logger.log_episode(row, summary)
        cfg = self.train_cfg
        if cfg.eval_every_episodes and self.episodes % cfg.eval_every_episodes == 0:
            self._eval_remaining = cfg.eval_episodes
            self._eval_returns = []
        if cfg.plot_every_episodes and self.episodes % cfg.plot_every_episodes == 0:
            self.write_plots()
        if self._checkpoint_due:
            self.save_checkpoint("latest")

    def _finish_evaluation(self) -> None:
        score = float(np.mean(self._eval_returns))
        improved = score > self.best_score
        if improved:
            self.best_score = score
        self.logger.log_eval({"episode": self.episodes, "env_steps": self.env_steps,
                              "mean_return": score, "episodes": len(self._eval_returns),
                              "best": int(improved)})
        if improved:
            self.save_checkpoint("best", with_buffer=False)
        if self._checkpoint_due:
            self.save_checkpoint("latest")

    # ---------------------------------------------------------------- learning
    def update(self) -> int:
        """Run the gradient updates now due; returns how many ran (0 in eval mode)."""
        if self.mode != "train":
            return 0
        done = 0
        while True:
            with self._buffer_lock:
                if self._updates_due < 1.0:
                    break
                self._updates_due -= 1.0
                batch = self.buffer.sample(self.td3_cfg.batch_size)
            with self._net_lock:
                losses = self.agent.train(batch)
                if "actor_loss" in losses:
                    self._refresh_policy()
            with self._buffer_lock:
                self.updates += 1
                for name, value in losses.items():
                    self._loss_sums[name] = self._loss_sums.get(name, 0.0) + value
                    self._loss_counts[name] = self._loss_counts.get(name, 0) + 1
                log_now = self.updates % self.train_cfg.log_every_updates == 0
            if log_now:
                self._log_losses()
            done += 1
        return done

    def _log_losses(self) -> None:
        with self._buffer_lock:
            row = {"updates": self.updates, "env_steps": self.env_steps}
            row.update({name: total / self._loss_counts[name]
                        for name, total in self._loss_sums.items()})
            self._loss_sums, self._loss_counts = {}, {}
        self.logger.log_losses(row)

    # ----------------------------------------------------- checkpoints, output
    def save_checkpoint(self, name: str = "latest", with_buffer: bool | None = None) -> Path:
        """Write checkpoint ``name`` (latest, best, final, ...) into the run folder."""
        if with_buffer is None:
            with_buffer = self.train_cfg.save_replay_buffer and self.mode == "train"
        path = checkpoint_path(self.run_dir, name)
        with self._net_lock, self._buffer_lock:
            persistence.write(self, path, with_buffer)
            if name == "latest":
                self._checkpoint_due = False
        LOG.info("saved checkpoint %s (env step %d, episode %d)", path, self.env_steps,
                 self.episodes)
        return path

    def load_checkpoint(self, path: str | Path, weights_only: bool = False) -> None:
        """Continue from a checkpoint; ``weights_only`` restores the networks alone.

        Raises CheckpointError naming the mismatch (sizes, layout, network widths) or
        the corruption; nothing is changed in that case.
        """
        path = Path(path)
        with self._net_lock, self._buffer_lock:
            persistence.load(self, path, weights_only)
            self._refresh_policy()
        LOG.info("loaded checkpoint %s (env step %d, episode %d)", path, self.env_steps,
                 self.episodes)

    def write_plots(self) -> None:
        """Refresh the run's figures (learning curves; force diagnostics if available)."""
        from massage_td3_ros.training.plots import plot_diagnostics, plot_training

        figures = self.run_dir / "figures"
        plot_training(self.logger.episodes, self.logger.losses, figures / "training.png",
                      self.logger.evals)
        if self.last_trace.get("force_n"):
            plot_diagnostics(self.last_trace, figures / "diagnostics.png", self.band_n,
                             title=f"last episode (after {self.episodes} training episodes)")

    def close(self, final_checkpoint: bool = True) -> None:
        """End of run: final (and latest) checkpoint, figures, flush logs."""
        if self.mode == "train" and final_checkpoint:
            self.save_checkpoint("final")
            self.save_checkpoint("latest")
        if self.mode == "train" and self._loss_sums:
            self._log_losses()
        self.write_plots()
        self.logger.close()

    def config_dict(self) -> dict:
        """The configs this learner runs with, as plain dicts (stored in checkpoints)."""
        return {"td3": to_dict(self.td3_cfg), "exploration": to_dict(self.exploration_cfg),
                "train": to_dict(self.train_cfg), "action": self.action_meta}

    def counters(self) -> dict[str, int]:
        return {"env_steps": self.env_steps, "episodes": self.episodes,
                "eval_episodes": self.eval_episodes, "updates": self.updates,
                "gaps": self.gaps}


__all__ = ["OnlineLearner", "StepState", "normalise_layout"]
