"""``td3_agent``: the online TD3 learner (a training Session) as a ROS 2 node.

On each massage/state: decode, ``session.on_state`` (stores the transition the state
completes, chooses the next action), publish massage/action at once (stamped with the
state's stamp), then run the gradient updates now due, inline or, with
``agent.background_updates``, on a worker thread so the state-to-action time does not
depend on training. Publishes massage/episode_return and the loss averages the session
logs (massage/critic_loss, massage/actor_loss, massage/q_mean). Train mode stops after
``train.total_steps`` stored steps and writes a final checkpoint; eval mode stops after
``agent.eval_episodes`` whole episodes and writes evaluation.json. Names are relative,
so a namespace moves the node with its sim.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from geometry_msgs.msg import Vector3Stamped
from rclpy.context import Context
from rclpy.parameter import Parameter
from rclpy.task import Future
from std_msgs.msg import Float32, Float64MultiArray

from massage_td3_ros.env.episode import MASSAGE_ENV_ID
from massage_td3_ros.env.observation import OBS_LAYOUT
from massage_td3_ros.ros.common import (
    MONITOR_QOS,
    RELIABLE_QOS,
    PackageNode,
    final_log,
    run_node,
    steady_clock,
)
from massage_td3_ros.ros.state_message import StateCodec, StateMessage
from massage_td3_ros.td3.checkpoint import checkpoint_path
from massage_td3_ros.training.config import run_folder
from massage_td3_ros.training.session import Session

ACT_DIM = 3
LOSS_TOPICS = ("critic_loss", "actor_loss", "q_mean")
ERROR_PERIOD_S = 2.0
WAIT_LOG_S = 5.0   # say that no state arrives after this long, and again as often


class TD3AgentNode(PackageNode):
    """Answers every /massage/state with an action and learns online from the stream."""

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: list[Parameter] | None = None) -> None:
        super().__init__("td3_agent", context=context, parameter_overrides=parameter_overrides)
        groups = self.groups
        self.agent_cfg = groups["agent"]
        self.train_cfg = groups["train"]
        self.checkpoint = checkpoint = self._start_checkpoint()
        self.run_dir = self._run_folder(checkpoint)
        self.codec = StateCodec.for_env()
        self.session = Session(
            self.codec.obs_dim, ACT_DIM, groups["td3"], groups["exploration"], self.train_cfg,
            self.run_dir, obs_labels=list(OBS_LAYOUT), mode=self.agent_cfg.mode,
            checkpoint=checkpoint)
        self._resumed = checkpoint is not None or self.session.env_steps > 0
        self.finished = Future()           # done when the budget is reached
        self.bad_states = 0
        self.states_received = 0
        self.steps_answered = 0
        self._last_answer: tuple[int, int] | None = None   # (episode, step) last answered
        self._episode_return = 0.0
        self._episode_seen_from_start = False
        self.evaluated: list[dict] = []    # eval mode: one row per whole episode
        self._eval_episodes_seen = 0       # session.eval_episodes at the last episode end
        self._last_stamp_ns = -1
        self._losses_published = len(self.session.logger.losses)
        self._waiting_since = time.monotonic()   # of the last state (or of the start)
        self._waiting_since_wall = time.time()
        self._last_wait_log = self._waiting_since

        self._action_pub = self.create_publisher(Vector3Stamped, "massage/action",
                                                 RELIABLE_QOS)
        self._return_pub = self.create_publisher(Float32, "massage/episode_return",
                                                 MONITOR_QOS)
        self._loss_pubs = {name: self.create_publisher(Float32, f"massage/{name}",
                                                       MONITOR_QOS) for name in LOSS_TOPICS}
        self._state_sub = self.create_subscription(Float64MultiArray, "massage/state",
                                                   self._on_state, RELIABLE_QOS)
        self.create_timer(1.0, self._say_if_waiting, clock=steady_clock())
        self._update_wanted = threading.Event()
        self._stopping = threading.Event()
        self._worker = None
        if self.agent_cfg.background_updates and self.agent_cfg.mode == "train":
            self._worker = threading.Thread(target=self._update_loop, name="td3-updates",
                                            daemon=True)
            self._worker.start()
        if self._budget_reached():
            self.get_logger().info("the run folder's checkpoint has the whole budget: done")
            self.finished.set_result(True)
        if self.agent_cfg.mode == "eval":
            budget = f"evaluating {checkpoint} for {self.agent_cfg.eval_episodes} episodes"
        else:
            budget = (f"starting at env step {self.session.env_steps} of "
                      f"{self.train_cfg.total_steps}, updates "
                      f"{'in the background' if self._worker else 'inline'}")
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
        except ValueError as error:
            self.bad_states += 1
            self.get_logger().error(f"ignored a /massage/state message: {error}",
                                    throttle_duration_sec=ERROR_PERIOD_S)
            return
        self._waiting_since, self._waiting_since_wall = time.monotonic(), time.time()
        if state.stamp_ns == self._last_stamp_ns:
            return  # the sim re-announced a state this node has already handled
        self._last_stamp_ns = state.stamp_ns
        self.states_received += 1
        if not state.first and not self._continues_my_answer(state):
            # The step was not taken with this process's answer to the previous state
            # (held action, lost messages, a restart): never a stored transition.
            self.session.forget_pending()
        action = self.session.on_state(state)
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
                self.session.update()
                self._publish_losses()
        if done:
            self.finished.set_result(True)

    def _continues_my_answer(self, state: StateMessage) -> bool:
        return not state.held and self._last_answer == (state.episode, state.step - 1)

    def _publish_action(self, state: StateMessage, action) -> None:
        msg = Vector3Stamped()
        msg.header.stamp.sec, msg.header.stamp.nanosec = state.stamp_sec, state.stamp_nanosec
        msg.header.frame_id = "action"
        msg.vector.x, msg.vector.y, msg.vector.z = (float(v) for v in action[:ACT_DIM])
        self._action_pub.publish(msg)
        self._last_answer = (state.episode, state.step)
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
        final_log(self,
            f"stopped at env step {self.session.env_steps}: {self.session.counters()}, "
            f"bad states {self.bad_states}")

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
