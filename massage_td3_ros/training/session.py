"""Session: an OnlineLearner plus its run record, the one "observe, act, store, update" loop.

Driven by the in-process trainer (gymnasium env) and by the ROS agent node (states over
DDS) through the same two calls: ``on_state(state)`` returns the action to send (None
once the episode is over), then ``update()`` runs the gradient updates now due; call it
after every state, terminal ones included, so both paths update at the same moments.
Everything periodic (episode logs, interleaved deterministic evaluation rounds and the
``best`` checkpoint, ``latest`` checkpoints, figures) happens here, at episode ends, so
both paths behave alike. ``update()`` may run on a worker thread while ``on_state`` runs
on another (the learner's locks guard what they share).

Once the learner has met a non-finite value (``learner.failure``), no checkpoint is
written: the last good ``latest``/``final`` files stay as they are. A resumed run's logs
are cut back to the rows its checkpoint had seen, so work redone after a crash is not
logged twice.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from massage_td3_ros.env.episode import recorded_action_meta
from massage_td3_ros.env.metrics import STEP_INFO_KEYS, EpisodeMetrics
from massage_td3_ros.params import to_dict
from massage_td3_ros.td3.agent import use_torch_threads
from massage_td3_ros.td3.checkpoint import (
    CheckpointError,
    NonFiniteError,
    capture_global_rng,
    checkpoint_path,
    restore_global_rng,
)
from massage_td3_ros.td3.config import ExplorationConfig, TD3Config
from massage_td3_ros.td3.policy import Policy
from massage_td3_ros.training import persistence
from massage_td3_ros.training.config import TrainConfig
from massage_td3_ros.training.learner import OnlineLearner
from massage_td3_ros.training.logger import RunLogger
from massage_td3_ros.training.step_state import StepState

LOG = logging.getLogger("massage_td3_ros.training")
MODES = ("train", "eval")
# The learner process's lag (acting actor and queued answers), saved beside the agent.
LAG_KEY = "acting_lag"


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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


class Session:
    """A learner and the run folder it reports to; see the module docstring."""

    def __init__(self, obs_dim: int, act_dim: int, td3_cfg: TD3Config | None = None,
                 exploration_cfg: ExplorationConfig | None = None,
                 train_cfg: TrainConfig | None = None, run_dir: str | Path = "runs/run",
                 obs_labels: Sequence | Mapping | None = None, mode: str = "train",
                 checkpoint: str | Path | None = None, band_n: float | None = None,
                 action_meta: Mapping[str, Any] | None = None,
                 control_dt_s: float | None = None, learner_process: bool = False) -> None:
        """``mode`` train: learn (from ``checkpoint``, else the run folder's latest when
        ``train.resume``); eval: act with ``checkpoint``'s policy and only score
        episodes. ``band_n``: force band half-width for the figures. ``action_meta``:
        how the env reads actions, stored in checkpoints so an evaluation can refuse an
        env that reads them differently. ``control_dt_s``: the env's control period,
        for the episode metrics measured in time (overshoot, step error, force rate).
        ``learner_process``: train mode runs the gradient updates in a child process
        (training.learner_process; ``close()`` stops it)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.td3_cfg = td3_cfg or TD3Config()
        self.exploration_cfg = exploration_cfg or ExplorationConfig()
        self.train_cfg = cfg = train_cfg or TrainConfig()
        self.run_dir = Path(run_dir)
        self.obs_layout = normalise_layout(obs_labels, int(obs_dim))
        self.band_n = band_n
        self.action_meta = dict(action_meta) if action_meta else None
        use_torch_threads(self.td3_cfg.torch_threads)
        if cfg.deterministic_torch:
            torch.use_deterministic_algorithms(True)
        start = Path(checkpoint) if checkpoint else None
        policy = None
        if mode == "train":  # an eval session (e.g. a baseline's report) keeps the
            seed_everything(cfg.seed)  # caller's global RNG streams as they are
            latest = checkpoint_path(self.run_dir, "latest")
            if start is None and cfg.resume and persistence.exists(latest):
                start = latest
        else:
            policy = self._policy_to_evaluate(start, int(obs_dim), int(act_dim))
        if mode == "train" and learner_process:
            from massage_td3_ros.training.learner_process import ProcessLearner
            self.learner = ProcessLearner(obs_dim, act_dim, self.td3_cfg,
                                          self.exploration_cfg, cfg)
        else:
            self.learner = OnlineLearner(obs_dim, act_dim, self.td3_cfg,
                                         self.exploration_cfg, cfg, policy)
        # Counters and evaluation schedule (checkpointed with the learner's).
        self.episodes = 0        # finished training episodes
        self.eval_episodes = 0   # finished deterministic evaluation episodes
        # 1 + the highest episode index of the producer seen: a restarted ROS sim
        # continues from it instead of replaying episodes the agent has met.
        self.next_episode = 0
        self.best_score = -math.inf
        self._eval_remaining = 0
        self._eval_returns: list[float] = []
        self._checkpoint_due = False
        # Whether the driver's update() followed the last state (the final checkpoint
        # comes after it, one written as an episode ends before it).
        self._updated_since_state = True
        self._loss_sums: dict[str, float] = {}
        self._loss_counts: dict[str, int] = {}
        # Current episode (not checkpointed: a resumed run starts a new episode).
        self._episode_id: int | None = None
        self._episode_is_eval = False
        self._episode_return = 0.0
        self._episode_length = 0
        self._metrics = EpisodeMetrics(control_dt_s)  # the timed metrics need the period
        self._trace: dict[str, list[float]] = {}
        self.last_trace: dict[str, list[float]] = {}
        self.last_summary: dict[str, float] = {}   # metrics of the last whole episode
        self._plotter: threading.Thread | None = None   # a figure refresh drawing
        try:
            self.logger = RunLogger(self.run_dir, tensorboard=cfg.log_tensorboard)
            if mode == "train" and start is not None:
                self.load_checkpoint(start)
            elif mode == "train" and cfg.resume:
                # Nothing to resume from: rows in the folder's logs are of a run that
                # stopped before its first checkpoint, and this one does that work again.
                self.logger.keep_rows(dict.fromkeys(self.logger.row_counts(), 0))
        except BaseException:
            self.learner.close()   # a learner process would outlive the failed start
            raise

    def _policy_to_evaluate(self, checkpoint: Path | None, obs_dim: int, act_dim: int
                            ) -> Policy:
        if checkpoint is None:
            LOG.warning("eval mode without a checkpoint: acting with untrained weights")
            return Policy.untrained(obs_dim, act_dim, self.td3_cfg)
        policy = Policy.load(checkpoint, obs_dim, act_dim, self.obs_layout,
                             device=self.td3_cfg.device)
        LOG.info("loaded the policy of %s (trained for %d env steps)", checkpoint,
                 policy.meta["counters"]["env_steps"])
        self.action_meta = self.action_meta or recorded_action_meta(policy.meta["config"])
        return policy

    # -------------------------------------------------------------- the driver
    @property
    def env_steps(self) -> int:
        """Stored training transitions so far (the budget's unit)."""
        return self.learner.env_steps

    def on_state(self, state: StepState) -> np.ndarray | None:
        """Store the transition this state completes (if any); return the next action.

        Returns None after a terminal or truncated state (the episode is over).
        """
        self._updated_since_state = False
        if state.first or state.episode != self._episode_id:
            self._start_episode(state.episode)
        self.next_episode = max(self.next_episode, int(state.episode) + 1)
        action, follows = self.learner.on_state(state)
        if follows:
            self._record_step(state)
        if state.last:
            if follows:
                self._finish_episode()
            self._episode_id = None
        return action

    def forget_pending(self) -> None:
        """The next state does not follow the last action (see OnlineLearner)."""
        self.learner.forget_pending()

    def update(self) -> int:
        """Run the gradient updates now due; returns how many ran (0 in eval mode)."""
        self._updated_since_state = True
        return self._account(self.learner.run_updates())

    def _account(self, finished: Iterable[tuple[int, dict[str, float]]]) -> int:
        """Add finished updates' losses to the averages the loss log shows; how many."""
        done = 0
        for number, losses in finished:
            done += 1
            for name, value in losses.items():
                self._loss_sums[name] = self._loss_sums.get(name, 0.0) + value
                self._loss_counts[name] = self._loss_counts.get(name, 0) + 1
            if number % self.train_cfg.log_every_updates == 0:
                self._log_losses(number)
        return done

    @property
    def next_eval_index(self) -> int | None:
        """Place of the next episode in the current evaluation round (0, 1, ...), or None
        if it is a training episode; a driver that can choose its episodes uses it to
        evaluate every round on the same cases."""
        if self.mode != "train" or self._eval_remaining <= 0:
            return None
        return self.train_cfg.eval_episodes - self._eval_remaining

    # ---------------------------------------------------------------- episodes
    def _start_episode(self, episode_id: int) -> None:
        self._episode_id = episode_id
        self._episode_is_eval = self.mode == "train" and self._eval_remaining > 0
        self._episode_return, self._episode_length = 0.0, 0
        self._metrics.reset()
        self._trace = {}
        self.learner.start_episode(training=self.mode == "train" and not self._episode_is_eval)

    def _record_step(self, state: StepState) -> None:
        self._episode_return += float(state.reward)
        self._episode_length += 1
        info = state.info or {}
        if all(key in info for key in STEP_INFO_KEYS):
            self._metrics.add(info)
            for key in STEP_INFO_KEYS:
                self._trace.setdefault(key, []).append(float(info[key]))
        every = self.train_cfg.checkpoint_every_steps
        if self.learner.training and every and self.learner.env_steps % every == 0:
            self._checkpoint_due = True

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
        row = {"episode": self.episodes, "env_steps": self.env_steps,
               "updates": self.learner.updates, "episode_return": self._episode_return,
               "episode_length": self._episode_length, "gaps": self.learner.gaps}
        self.logger.log_episode(row, summary)
        cfg = self.train_cfg
        if cfg.eval_every_episodes and self.episodes % cfg.eval_every_episodes == 0:
            self._eval_remaining = cfg.eval_episodes
            self._eval_returns = []
        if cfg.plot_every_episodes and self.episodes % cfg.plot_every_episodes == 0:
            self.write_plots(background=True)
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

    def _log_losses(self, updates: int | None = None) -> None:
        row = {"updates": self.learner.updates if updates is None else updates,
               "env_steps": self.env_steps}
        row.update({name: total / self._loss_counts[name]
                    for name, total in self._loss_sums.items()})
        self._loss_sums, self._loss_counts = {}, {}
        self.logger.log_losses(row)

    # ----------------------------------------------------- checkpoints, output
    def save_checkpoint(self, name: str = "latest", with_buffer: bool | None = None) -> Path:
        """Write checkpoint ``name`` (latest, best, final, ...) into the run folder."""
        if not self.learner.learns:
            raise RuntimeError("an evaluation session has no checkpoint to save")
        if with_buffer is None:
            with_buffer = self.train_cfg.save_replay_buffer
        path = checkpoint_path(self.run_dir, name)
        with self.learner.locked():
            if self.learner.failure is not None:
                raise NonFiniteError(f"not writing checkpoint {path} (the one on disk, if "
                                     f"any, is kept): {self.learner.failure}")
            try:
                lag = self.learner.get_lag()
                persistence.write(path, self._meta(), self.learner.agent,
                                  self.learner.buffer if with_buffer else None,
                                  extra=None if lag is None else {LAG_KEY: lag})
            except NonFiniteError as error:
                self.learner.failure = f"{error} (after gradient update {self.learner.updates})"
                raise NonFiniteError(self.learner.failure) from None
            if name == "latest":
                self._checkpoint_due = False
        LOG.info("saved checkpoint %s (env step %d, episode %d)", path, self.env_steps,
                 self.episodes)
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        """Continue from a checkpoint: networks, replay buffer, counters, RNG states.

        Raises CheckpointError naming the mismatch (sizes, layout, network widths) or
        the corruption; nothing is changed in that case.
        """
        path = Path(path)
        learner = self.learner
        with learner.locked():
            settings: dict[str, dict | None] = {}

            def check(candidate: Path, meta: dict[str, Any]) -> None:
                # Once per candidate file; the one loaded is checked last.
                settings["action"] = self._resumed_action_meta(candidate, meta)

            loaded = persistence.load(path, learner.agent, self.obs_layout, learner.buffer,
                                      check=check)
            self.action_meta = settings["action"]
            learner.agent.load_state_dict(loaded["agent"])
            learner.policy.refresh(learner.agent.actor)
            learner.set_lag(loaded["agent"].get(LAG_KEY))
            self._restore(loaded["meta"], loaded["torch_rng"])
        rows = loaded["meta"].get("log_rows")
        if rows and path.parent.resolve() == self._checkpoint_folder.resolve():
            # This run's own checkpoint: rows logged after it was written describe work
            # the resumed run does again.
            self.logger.keep_rows(rows)
        LOG.info("loaded checkpoint %s (env step %d, episode %d)", loaded["path"],
                 self.env_steps, self.episodes)
        # A checkpoint written when an episode ends comes before the driver's update()
        # for that last state: that update runs now, before the next episode's first
        # action, as it did then, so a resumed run continues exactly as the uninterrupted
        # one. The final checkpoint comes after it.
        if loaded["meta"]["schedule"].get("driver_update_due", True):
            self.update()

    def _resumed_action_meta(self, path: Path, meta: dict[str, Any]) -> dict | None:
        """The action settings a resumed run goes on with: the checkpoint's if this
        session was given none (the ROS agent, until the sim announces them); a
        CheckpointError if both are known and differ (its replay buffer holds actions
        read the other way)."""
        recorded = recorded_action_meta(meta["config"])
        if recorded is None and self.action_meta is not None:
            LOG.warning("%s records no action settings (an older ROS run): its replay "
                        "buffer is taken to hold actions read as now, %s", path,
                        self.action_meta)
        if self.action_meta is None or recorded is None:
            return self.action_meta or recorded
        differing = {key: (was, now) for key, now in self.action_meta.items()
                     if (was := recorded.get(key)) != now}
        if differing:
            detail = ", ".join(f"env.{key} {was!r} in the checkpoint, {now!r} now"
                               for key, (was, now) in differing.items())
            raise CheckpointError(f"{path}: trained with other action settings ({detail}): "
                                  "resume with them, or train in a new run folder")
        return self.action_meta

    @property
    def _checkpoint_folder(self) -> Path:
        return checkpoint_path(self.run_dir, "latest").parent

    def _meta(self) -> dict[str, Any]:
        """The checkpoint's meta (td3.checkpoint's format); caller holds the locks."""
        learner = self.learner.get_state()
        return {
            "obs_dim": self.learner.obs_dim,
            "act_dim": self.learner.act_dim,
            "obs_labels": (None if self.obs_layout is None
                           else [[name, size] for name, size in self.obs_layout]),
            "config": self.config_dict(),
            "counters": self.counters(),
            "schedule": {
                "best_score": None if math.isinf(self.best_score) else self.best_score,
                "updates_due": learner["updates_due"],
                "driver_update_due": not self._updated_since_state,
                "eval_remaining": self._eval_remaining,
                "eval_returns": list(self._eval_returns),
            },
            "rng": {"global": capture_global_rng(), "warmup": learner["warmup_rng"],
                    "buffer": learner["buffer_rng"]},
            "exploration": learner["exploration"],
            "log_rows": self.logger.row_counts(),
        }

    def _restore(self, meta: dict[str, Any], torch_rng: torch.Tensor) -> None:
        """Counters, schedule and RNG states from a checkpoint's meta (under the locks)."""
        counters, schedule, rng = meta["counters"], meta["schedule"], meta["rng"]
        self.episodes = int(counters["episodes"])
        self.eval_episodes = int(counters["eval_episodes"])
        self.next_episode = int(counters.get("next_episode", 0))  # absent before it existed
        best = schedule["best_score"]
        self.best_score = -math.inf if best is None else float(best)
        self._eval_remaining = int(schedule["eval_remaining"])
        self._eval_returns = [float(v) for v in schedule["eval_returns"]]
        self.learner.set_state({
            "env_steps": counters["env_steps"], "updates": counters["updates"],
            "gaps": counters["gaps"], "updates_due": schedule["updates_due"],
            "warmup_rng": rng["warmup"], "buffer_rng": rng["buffer"],
            "exploration": meta["exploration"]})
        restore_global_rng(rng["global"])
        torch.set_rng_state(torch_rng.cpu())

    def write_plots(self, background: bool = False) -> None:
        """Refresh the run's figures (learning curves; force diagnostics if available).

        ``background``: draw them on a worker thread from a copy of the logs, and skip
        this refresh if the last one is still drawing. Drawing takes about a second, and
        an agent that does not answer a lockstep sim for ``sim.action_timeout_s`` (1 s)
        gets a step taken with the tool target held: a gap, and another run."""
        from massage_td3_ros.training.plots import plot_diagnostics, plot_training

        if background and self._plotter is not None and self._plotter.is_alive():
            return
        figures = self.run_dir / "figures"
        logger = self.logger
        # Copies: rows are only appended, so a shallow copy is a stable snapshot.
        training = (list(logger.episodes), list(logger.losses), figures / "training.png",
                    list(logger.evals))
        trace = self.last_trace if self.last_trace.get("force_n") else None
        title = f"last episode (after {self.episodes} training episodes)"

        def draw() -> None:
            plot_training(*training)
            if trace is not None:
                plot_diagnostics(trace, figures / "diagnostics.png", self.band_n, title=title)

        if not background:
            draw()
            return

        def draw_logged() -> None:
            try:
                draw()
            except Exception:  # noqa: BLE001 - a figure must never stop training
                LOG.exception("figure refresh failed (the next refresh tries again)")

        self._plotter = threading.Thread(target=draw_logged, name="figures", daemon=True)
        self._plotter.start()

    def wait_for_plots(self) -> None:
        """Return once a background figure refresh, if any, has finished."""
        if self._plotter is not None:
            self._plotter.join()

    def close(self, final_checkpoint: bool = True) -> None:
        """End of run: final (and latest) checkpoint, figures, flush logs.

        After a non-finite value (``learner.failure``) no checkpoint is written (the
        error is logged; the one that stopped training is the caller's to report); one
        found only now, in the weights, raises NonFiniteError once logs are flushed."""
        try:
            if self.learner.failure is None:
                self._account(self.learner.drain())   # updates still running elsewhere
            if self._loss_sums:  # before the checkpoints, which count the logged rows
                self._log_losses()
            if self.mode == "train" and final_checkpoint:
                if self.learner.failure is not None:
                    LOG.error("no final checkpoint: %s; %s keeps the last good checkpoints",
                              self.learner.failure, self._checkpoint_folder)
                else:
                    self.save_checkpoint("final")
                    self.save_checkpoint("latest")
        finally:
            self.learner.close()
            self.wait_for_plots()
            self.write_plots()
            self.logger.close()

    def config_dict(self) -> dict:
        """The configs this session runs with, as plain dicts (stored in checkpoints)."""
        return {"td3": to_dict(self.td3_cfg), "exploration": to_dict(self.exploration_cfg),
                "train": to_dict(self.train_cfg), "action": self.action_meta}

    def counters(self) -> dict[str, int]:
        return {"env_steps": self.learner.env_steps, "episodes": self.episodes,
                "eval_episodes": self.eval_episodes, "updates": self.learner.updates,
                "gaps": self.learner.gaps, "next_episode": self.next_episode}


__all__ = ["MODES", "Session", "normalise_layout", "seed_everything"]
