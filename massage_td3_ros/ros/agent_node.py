"""``td3_agent``: the online TD3 learner (a training Session) as a ROS 2 node.

On each massage/state: decode, ``session.on_state`` (stores the transition the state
completes, chooses the next action), publish massage/action at once (stamped with the
state's stamp), then run the gradient updates now due, inline or, with
``agent.background_updates``, on a worker thread so the state-to-action time does not
depend on training. Publishes massage/episode_return and the loss averages the session
logs (massage/critic_loss, massage/actor_loss, massage/q_mean, and the fit of each
one-step model that is on: massage/tracking_model_loss, massage/reward_model_loss), and, latched,
massage/next_episode (std_msgs/UInt64: 1 + the highest episode index it has seen, so a
restarted sim continues the episode sequence instead of repeating it). A state is
stored as a transition of the agent's own action only if the sim says it applied
exactly the action this node sent for the previous state (``applied_action``); states
the codec rejects (bad layout, stamp or value) are counted by reason and logged, never
answered. Train mode stops after ``train.total_steps`` stored steps and writes a final
checkpoint; eval mode stops after ``agent.eval_episodes`` whole episodes and writes
evaluation.json. The sim's latched massage/action_settings are recorded in the
checkpoints; a sim that reads actions otherwise than the run's checkpoint ends the run
with an error (rejected announcements are counted and logged). Names are relative, so
a namespace moves the node with its sim.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
from geometry_msgs.msg import Vector3Stamped
from rclpy.context import Context
from rclpy.parameter import Parameter
from rclpy.task import Future
from std_msgs.msg import Float32, Float64MultiArray, String, UInt64

from massage_td3_ros.env.episode import MASSAGE_ENV_ID
from massage_td3_ros.env.observation import OBS_LAYOUT
from massage_td3_ros.ros import action_settings
from massage_td3_ros.ros.common import (
    LATCHED_QOS,
    MONITOR_QOS,
    RELIABLE_QOS,
    PackageNode,
    final_log,
    run_node,
    steady_clock,
)
from massage_td3_ros.ros.realtime import lower_this_thread, use_realtime_priority
from massage_td3_ros.ros.state_message import (
    ACT_DIM,
    REASONS,
    BadStateError,
    StateCodec,
    StateMessage,
)
from massage_td3_ros.td3.checkpoint import NonFiniteError, checkpoint_path
from massage_td3_ros.training.config import run_folder
from massage_td3_ros.training.learner_process import LearnerProcessError
from massage_td3_ros.training.session import Session

# The one-step models' fits (td3/one_step_models.py) only while their model is on.
LOSS_TOPICS = ("critic_loss", "actor_loss", "q_mean", "tracking_model_loss",
               "reward_model_loss")
ERROR_PERIOD_S = 2.0
WAIT_LOG_S = 5.0   # say that no state arrives after this long, and again as often
# Background updates must not delay acting: the update thread runs at a lower CPU
# priority (Linux: per-thread nice, and normal scheduling when the node is real-time),
# and the interpreter hands the GIL over every 0.2 ms instead of 5, so a state arriving
# during an update waits less for it (p50 / p99 of the bridge's state-to-command time
# 2.71 / 4.38 ms with 1 ms, 2.64 / 3.91 ms with 0.2 ms: docs/ros.md).
UPDATE_THREAD_NICE = 10
GIL_SWITCH_INTERVAL_S = 0.0002


class TD3AgentNode(PackageNode):
    """Answers every /massage/state with an action and learns online from the stream."""

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: list[Parameter] | None = None) -> None:
        super().__init__("td3_agent", context=context, parameter_overrides=parameter_overrides)
        groups = self.groups
        self.agent_cfg = groups["agent"]
        self.train_cfg = groups["train"]
        if groups["td3"].max_action > 1.0:
            # The sim clamps every action to [-1, 1]: the steps would never be the
            # agent's own actions (all gaps), or stored with actions never applied.
            raise ValueError(f"td3.max_action {groups['td3'].max_action:g} > 1: actions on "
                             "massage/action lie in [-1, 1] (the sim clamps them)")
        realtime = self.agent_cfg.realtime_priority > 0
        if realtime and self.agent_cfg.mode == "train" and not self.agent_cfg.background_updates:
            raise ValueError("agent.realtime_priority needs agent.background_updates in train "
                             "mode: inline updates would run at real-time priority")
        if realtime and groups["td3"].torch_threads != 1:
            raise ValueError("agent.realtime_priority needs td3.torch_threads 1: torch's "
                             "worker threads would inherit the real-time priority")
        self.checkpoint = checkpoint = self._start_checkpoint()
        self.run_dir = self._run_folder(checkpoint)
        self.codec = StateCodec.for_env()
        self.session = Session(
            self.codec.obs_dim, ACT_DIM, groups["td3"], groups["exploration"], self.train_cfg,
            self.run_dir, obs_labels=list(OBS_LAYOUT), mode=self.agent_cfg.mode,
            checkpoint=checkpoint, learner_process=(self.agent_cfg.learner_process
                                                    and not self.agent_cfg.background_updates))
        self._resumed = checkpoint is not None or self.session.env_steps > 0
        self.finished = Future()           # done when the budget is reached
        self.bad_states = 0
        self.bad_states_by_reason = dict.fromkeys(REASONS, 0)
        self.foreign_actions = 0           # steps the sim took with an action not ours
        self.bad_action_settings = 0       # massage/action_settings messages rejected
        self.states_received = 0
        self.steps_answered = 0
        self._last_answer: tuple[int, int] | None = None   # (episode, step) last answered
        self._last_sent = np.zeros(ACT_DIM)   # the action published for it, as sent
        # 1 + the highest episode index seen (the session keeps it across restarts).
        self.next_episode = int(self.session.counters().get("next_episode", 0))
        self._episode_return = 0.0
        self._episode_seen_from_start = False
        self.evaluated: list[dict] = []    # eval mode: one row per whole episode
        self._eval_episodes_seen = 0       # session.eval_episodes at the last episode end
        self._last_stamp_ns = -1
        self._losses_published = len(self.session.logger.losses)
        self._waiting_since = time.monotonic()   # of the last state (or of the start)
        self._waiting_since_wall = time.time()
        self._last_wait_log = self._waiting_since

        # Before the state subscription, so a sim meets both together.
        self._next_episode_pub = self.create_publisher(UInt64, "massage/next_episode",
                                                       LATCHED_QOS)
        self._next_episode_pub.publish(UInt64(data=self.next_episode))
        self._action_pub = self.create_publisher(Vector3Stamped, "massage/action",
                                                 RELIABLE_QOS)
        self._return_pub = self.create_publisher(Float32, "massage/episode_return",
                                                 MONITOR_QOS)
        self._loss_pubs = {name: self.create_publisher(Float32, f"massage/{name}",
                                                       MONITOR_QOS) for name in LOSS_TOPICS}
        # Before the state's: the executor serves ready subscriptions in creation order,
        # so settings that arrive with the first state are checked before it is answered.
        self.create_subscription(String, action_settings.TOPIC, self._on_action_settings,
                                 LATCHED_QOS)
        self._state_sub = self.create_subscription(Float64MultiArray, "massage/state",
                                                   self._on_state, RELIABLE_QOS)
        self.create_timer(1.0, self._say_if_waiting, clock=steady_clock())
        self._update_wanted = threading.Event()
        self._stopping = threading.Event()
        self._worker = None
        if self.agent_cfg.background_updates and self.agent_cfg.mode == "train":
            sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
            self._worker = threading.Thread(target=self._update_loop, name="td3-updates",
                                            daemon=True)
            self._worker.start()
        if realtime:
            keep_normal = () if self._worker is None else (self._worker.native_id,)
            use_realtime_priority(self, self.agent_cfg.realtime_priority, keep_normal)
        if self._budget_reached():
            self.get_logger().info("the run folder's checkpoint has the whole budget: done")
            self.finished.set_result(True)
        if self.agent_cfg.mode == "eval":
            budget = f"evaluating {checkpoint} for {self.agent_cfg.eval_episodes} episodes"
        else:
            where = ("on a worker thread" if self._worker else "in a learner process"
                     if self.agent_cfg.learner_process else "inline")
            budget = (f"starting at env step {self.session.env_steps} of "
                      f"{self.train_cfg.total_steps}, updates {where}")
        self.get_logger().info(f"mode {self.agent_cfg.mode}, output folder {self.run_dir}, "
                               f"{budget}")

    def _run_folder(self, checkpoint: Path | None) -> Path:
        """``agent.run_folder`` when set; else train: the training folder, eval: a folder
        next to the checkpoint, so an evaluation never writes into a training run."""
        if self.agent_cfg.run_folder:
            return Path(self.agent_cfg.run_folder)
        if self.agent_cfg.mode == "eval":
            return checkpoint.with_name(f"{checkpoint.stem}-eval")
        return run_folder(self.train_cfg, MASSAGE_ENV_ID)

    def _start_checkpoint(self) -> Path | None:
        """agent.checkpoint; in eval without one, the training folder's latest (required)."""
        if self.agent_cfg.checkpoint:
            path = Path(self.agent_cfg.checkpoint)
            if self.agent_cfg.mode == "eval" and not path.is_file():
                raise ValueError(f"agent.checkpoint {path}: no such file")
            return path
        if self.agent_cfg.mode != "eval":
            return None  # train: the session resumes from the run's latest if there is one
        latest = checkpoint_path(Path(self.agent_cfg.run_folder
                                      or run_folder(self.train_cfg, MASSAGE_ENV_ID)), "latest")
        if not latest.is_file():
            raise ValueError(f"eval mode needs agent.checkpoint, or a run folder with "
                             f"{latest}")
        return latest

    # ---- the state -> action path -----------------------------------------------------
    def _on_state(self, msg: Float64MultiArray) -> None:
        if self.finished.done():
            return
        try:
            state = self.codec.decode(msg)
        except BadStateError as error:
            self.bad_states += 1
            self.bad_states_by_reason[error.reason] += 1
            self.get_logger().error(
                f"ignored a /massage/state message ({self.bad_states} bad states so far, "
                f"{self.bad_states_by_reason[error.reason]} for {error.reason}): {error}",
                throttle_duration_sec=ERROR_PERIOD_S)
            return
        self._waiting_since, self._waiting_since_wall = time.monotonic(), time.time()
        if state.stamp_ns == self._last_stamp_ns:
            return  # the sim re-announced a state this node has already handled
        self._last_stamp_ns = state.stamp_ns
        self.states_received += 1
        if state.episode >= self.next_episode:
            self.next_episode = state.episode + 1
            self._next_episode_pub.publish(UInt64(data=self.next_episode))
        if not state.first and not self._continues_my_answer(state):
            # The step was not taken with this process's answer to the previous state
            # (held action, another publisher's action, lost messages, a restart): never
            # a stored transition.
            self.session.forget_pending()
        try:
            action = self.session.on_state(state)
        except NonFiniteError as error:
            # Training already stopped (e.g. on the update worker): an episode end that
            # would checkpoint poisoned weights ends the run the same way.
            self._stop_on(error)
            return
        self._track_episode(state)
        done = self._budget_reached()
        # Like the in-process loop: the budget's last state gets no answer, so the sim
        # never takes a step whose transition nobody stores.
        if action is not None and not done:
            self._publish_action(state, action)
        # After every state, terminal ones included, as the in-process loop does.
        if self.session.mode == "train":
            if self._worker is not None:
                self._update_wanted.set()
            else:
                try:
                    self.session.update()
                except (NonFiniteError, LearnerProcessError) as error:
                    self._stop_on(error)  # as with background updates
                    return
                self._publish_losses()
        if done:
            self.finished.set_result(True)

    def _continues_my_answer(self, state: StateMessage) -> bool:
        if state.held or self._last_answer != (state.episode, state.step - 1):
            return False
        # Exact: the sim reports the float64 values it received (clamping changes none
        # of ours, they lie in [-1, 1]); anything else came from another publisher.
        if np.array_equal(state.applied_action, self._last_sent):
            return True
        self.foreign_actions += 1
        self.get_logger().warning(
            f"episode {state.episode} step {state.step} was taken with "
            f"{state.applied_action.tolist()}, not this agent's {self._last_sent.tolist()}: "
            f"another node publishes on {self._action_pub.topic_name}; not stored "
            f"({self.foreign_actions} such steps so far)", throttle_duration_sec=ERROR_PERIOD_S)
        return False

    def _publish_action(self, state: StateMessage, action) -> None:
        msg = Vector3Stamped()
        msg.header.stamp.sec, msg.header.stamp.nanosec = state.stamp_sec, state.stamp_nanosec
        msg.header.frame_id = "action"
        msg.vector.x, msg.vector.y, msg.vector.z = (float(v) for v in action[:ACT_DIM])
        self._action_pub.publish(msg)
        self._last_answer = (state.episode, state.step)
        self._last_sent = np.array([msg.vector.x, msg.vector.y, msg.vector.z])
        self.steps_answered += 1

    def _track_episode(self, state: StateMessage) -> None:
        if state.first:
            self._episode_return = 0.0
            self._episode_seen_from_start = True
            return
        self._episode_return += state.reward
        if state.last:
            self._return_pub.publish(Float32(data=float(self._episode_return)))
            counters = self.session.counters()
            self.get_logger().info(
                f"episode {state.episode}: return {self._episode_return:.2f}, "
                f"{state.step} steps, env steps {counters['env_steps']}, updates "
                f"{counters['updates']}, gaps {counters['gaps']}")
            # Whole episodes only: seen from their first state, and the session scored it
            # (its last step followed this node's answer).
            scored = self.session.eval_episodes > self._eval_episodes_seen
            self._eval_episodes_seen = self.session.eval_episodes
            if self.session.mode == "eval" and scored and self._episode_seen_from_start:
                self.evaluated.append({"episode": state.episode,
                                       "episode_return": self._episode_return,
                                       "metrics": dict(self.session.last_summary)})
            self._episode_seen_from_start = False

    def _on_action_settings(self, msg: String) -> None:
        """Record how the sim reads actions (saved in checkpoints, so an evaluation reads
        them the same way); stop if a sim reads them otherwise than this run's checkpoint
        or an earlier announcement: its steps would mean other moves."""
        try:
            announced = action_settings.parse_settings(msg)
        except ValueError as error:
            self.bad_action_settings += 1
            self.get_logger().error(
                f"ignored a {action_settings.TOPIC} message ({self.bad_action_settings} so "
                f"far): {error}", throttle_duration_sec=ERROR_PERIOD_S)
            return
        recorded = self.session.action_meta
        if recorded is None:
            self.session.action_meta = announced
            if self._resumed:  # a checkpoint of an older ROS run
                self.get_logger().warning(
                    f"{self.checkpoint or 'the resumed checkpoint'} records no action "
                    f"settings: taking the sim's as its own ({announced})")
            else:
                self.get_logger().info(f"the sim reads actions with {announced}")
            return
        differing = action_settings.differences(recorded, announced)
        if differing:
            whose = ("the checkpoint's env.action_* values" if self._resumed
                     else "the env.action_* values it announced first")
            remedy = ("" if self.session.mode == "eval" or self.checkpoint is not None
                      else ", or train in another run folder")
            self._stop_on(ValueError(
                f"the sim reads massage/action otherwise than this run ({differing}): start "
                f"the sim with {whose} (config file or -p env.<name>){remedy}"),
                what="action settings differ")

    def _stop_on(self, error: Exception, what: str = "update failed") -> None:
        """End the run: one logged line, then exit 1 (run_node)."""
        self.get_logger().error(f"{what}, stopping: {error}")
        if not self.finished.done():
            self.finished.set_exception(error)

    def _budget_reached(self) -> bool:
        if self.session.mode == "eval":
            return len(self.evaluated) >= self.agent_cfg.eval_episodes
        return self.session.env_steps >= self.train_cfg.total_steps

    def _say_if_waiting(self) -> None:
        """Every few seconds without a state (no sim yet, or the sim went away): say so."""
        now = time.monotonic()
        silent_s = now - self._waiting_since
        if self.finished.done() or silent_s < WAIT_LOG_S or now - self._last_wait_log < WAIT_LOG_S:
            return
        self._last_wait_log = now
        since = time.strftime("%H:%M:%S", time.localtime(self._waiting_since_wall))
        what = "since start-up" if self.states_received == 0 else "since the last state"
        topic = self._state_sub.topic_name
        self.get_logger().info(
            f"waiting for {topic}: nothing for {silent_s:.0f} s ({what}, at {since}; "
            f"{self.count_publishers(topic)} publisher(s))")

    # ---- learning ---------------------------------------------------------------------
    def _update_loop(self) -> None:
        try:
            lower_this_thread(UPDATE_THREAD_NICE)
        except (AttributeError, OSError) as error:  # not Linux, or not permitted
            self.get_logger().warning(f"update thread keeps the node's priority: {error}")
        try:
            while not self._stopping.is_set():
                if self._update_wanted.wait(timeout=0.1):
                    self._update_wanted.clear()
                    self.session.update()
                    self._publish_losses()
        except Exception as error:  # noqa: BLE001 - any failure must stop the run, loudly
            # Acting on without learning would look like training; end the run instead.
            self.get_logger().error(f"background update failed, stopping: {error!r}")
            if not self.finished.done():
                self.finished.set_exception(error)

    def _publish_losses(self) -> None:
        rows = self.session.logger.losses
        if len(rows) == self._losses_published:
            return
        self._losses_published = len(rows)
        for name, publisher in self._loss_pubs.items():
            if name in rows[-1]:
                publisher.publish(Float32(data=float(rows[-1][name])))

    def close(self) -> None:
        """Stop the update worker, write the final checkpoint, figures and logs."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.join()
        # Stopped before any state: nothing learned, nothing to write over.
        learned = self.session.env_steps > 0 or self._resumed
        self.session.close(final_checkpoint=self.session.mode == "train" and learned)
        if self.session.mode == "eval" and self.evaluated:
            self._write_evaluation()
        reasons = {k: v for k, v in self.bad_states_by_reason.items() if v}
        final_log(self,
            f"stopped at env step {self.session.env_steps}: {self.session.counters()}, "
            f"bad states {self.bad_states}" + (f" {reasons}" if reasons else "")
            + f", foreign-action steps {self.foreign_actions}"
            + (f", bad action settings {self.bad_action_settings}"
               if self.bad_action_settings else ""))

    def _write_evaluation(self) -> None:
        """evaluation.json: per-episode metrics and the aggregate `massage-td3 eval` prints."""
        from massage_td3_ros.evaluation.evaluate import aggregate_metrics, markdown_table

        summary = aggregate_metrics([row["episode_return"] for row in self.evaluated],
                                    [row["metrics"] for row in self.evaluated])
        path = self.run_dir / "evaluation.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"checkpoint": str(self.checkpoint),
                                    "aggregate": summary, "episodes": self.evaluated},
                                   indent=1))
        final_log(self, f"wrote {path}\n" + markdown_table([("td3", summary)]))


def main(args: list[str] | None = None) -> int:
    """Entry point of the ``td3_agent`` executable."""
    return run_node(TD3AgentNode, "td3_agent", args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
