"""``massage_sim``: MassageEnv as a ROS 2 node (one env step per control step).

Publishes, once per control step and with one shared stamp in simulated time:
joint_states, massage/contact_wrench, massage/contacts (RViz arrows),
massage/tool_pose, reward and massage/state (observation + outcome, see
state_message.py); clock (rosgraph_msgs/Clock: the simulated time, for use_sim_time
nodes); kept for late joiners: robot_description (the arm's URDF with the tool), per
episode massage/stroke (the planned stroke, nav_msgs/Path; each pose's z axis is the
surface normal), and massage/over_force_count (std_msgs/UInt64: steps that exceeded
the safety limit so far).
Subscribes massage/action (Vector3Stamped in [-1, 1]; its stamp echoes the state it
answers) and massage/next_episode (latched std_msgs/UInt64 from the agent: the episode
index it expects next, so a restarted sim never repeats the episodes already seen), and
serves massage/reset. Latched massage/action_settings (std_msgs/String, JSON) says how
it reads an action (env.action_mode, increments, base controller). Names are relative:
a namespace moves the whole setup.
``sim.mode``: lockstep (step on each answer, hold the tool target after
``sim.action_timeout_s``) or realtime (step at env.control_hz of wall time).
All env logic stays in MassageEnv; this node only moves values between it and topics.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
from geometry_msgs.msg import PoseStamped, Vector3Stamped, WrenchStamped
from nav_msgs.msg import Path
from rclpy.context import Context
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import Float32, Float64MultiArray, String, UInt64
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from massage_td3_ros.env.episode import episode_seed, evaluation_episode
from massage_td3_ros.env.snapshot import ArmSnapshot
from massage_td3_ros.evaluation.suites import SUITES, suite_episodes
from massage_td3_ros.ros import action_settings, sim_messages
from massage_td3_ros.ros.common import (
    LATCHED_QOS,
    MONITOR_QOS,
    RELIABLE_QOS,
    PackageNode,
    final_log,
    run_node,
    steady_clock,
)
from massage_td3_ros.ros.state_message import StateCodec

WARN_PERIOD_S = 2.0
REANNOUNCE_S = 0.25  # lockstep: resend an unanswered state this often (same stamp)
OVER_FORCE_LOG_S = 10.0  # log the over-force count this often, when it has grown
# A publisher of massage/next_episode is known but its latched value has not arrived:
# hold the first state back this long at most, so a restarted sim does not show the
# agent an episode it has already seen.
NEXT_EPISODE_WAIT_S = 2.0


class MassageSimNode(PackageNode):
    """Steps MassageEnv on /massage/action and publishes each step's outcome."""

    NODE_NAME = "massage_sim"
    # The simulator owns time (stamps in simulated time, published on clock) and the
    # robot's own topics (joint_states, robot_description); a real arm's bridge owns
    # neither: its driver publishes those, and time is the wall clock.
    SIM_TIME = True
    ROBOT_TOPICS = True

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: list[Parameter] | None = None) -> None:
        super().__init__(self.NODE_NAME, context=context,
                         parameter_overrides=parameter_overrides)
        groups = self.groups
        self.sim_cfg, self.env_cfg = groups["sim"], groups["env"]
        self.env = self._make_env()
        self.codec = StateCodec.for_env()
        self.frame_id = self.sim_cfg.frame_id

        self._state_pub = self.create_publisher(Float64MultiArray, "massage/state", RELIABLE_QOS)
        self._reward_pub = self.create_publisher(Float32, "reward", MONITOR_QOS)
        self._clock_pub = (self.create_publisher(Clock, "clock", RELIABLE_QOS)
                           if self.SIM_TIME else None)
        self._joints_pub = (self.create_publisher(JointState, "joint_states", RELIABLE_QOS)
                            if self.ROBOT_TOPICS else None)
        self._wrench_pub = self.create_publisher(WrenchStamped, "massage/contact_wrench",
                                                 RELIABLE_QOS)
        self._pose_pub = self.create_publisher(PoseStamped, "massage/tool_pose", RELIABLE_QOS)
        # Reliable: RViz subscribes reliably by default (a best-effort publisher would
        # match no such subscriber); best-effort subscribers are served too.
        self._markers_pub = self.create_publisher(MarkerArray, "massage/contacts",
                                                  RELIABLE_QOS)
        self._stroke_pub = self.create_publisher(Path, "massage/stroke", LATCHED_QOS)
        self._description_pub = (self.create_publisher(String, "robot_description",
                                                       LATCHED_QOS)
                                 if self.ROBOT_TOPICS else None)
        self._over_force_pub = self.create_publisher(UInt64, "massage/over_force_count",
                                                     LATCHED_QOS)
        # Latched, before any state: how this node reads massage/action (the agent
        # records it in its checkpoints).
        self._settings_pub = self.create_publisher(String, action_settings.TOPIC, LATCHED_QOS)
        self._settings_pub.publish(action_settings.settings_message(self.env_cfg))
        self.create_subscription(Vector3Stamped, "massage/action", self._on_action,
                                 RELIABLE_QOS)
        self._next_episode_sub = self.create_subscription(
            UInt64, "massage/next_episode", self._on_next_episode, LATCHED_QOS)
        self.create_service(Trigger, "massage/reset", self._on_reset)
        if self._description_pub is not None:
            from massage_td3_ros.env.robot_description import robot_description
            self._description_pub.publish(String(data=robot_description(self.env_cfg)))

        # Counters (read by tests and logged at shutdown).
        self.steps_taken = 0
        self.episodes_started = 0
        self.dropped_actions = {"non_finite": 0, "wrong_stamp": 0}
        self.clamped_actions = 0
        self.held_steps = 0
        self.over_force_steps = 0
        self.governed_steps = 0   # steps whose force passed env.force_governor_n
        self._over_force_logged = 0
        self.last_applied_action = np.zeros(3)

        self._episode = -1
        self._next_episode = 0            # no episode index below this (the agent's wish)
        self._next_episode_heard = False
        self._next_episode_seen_ns: int | None = None  # when its publisher was first seen
        self._step = 0
        # Simulated time: one control period per step (a reset takes one too, so every
        # state has its own stamp). Starts one period after zero: time 0 reads as unset.
        self._dt_ns = round(self.env_cfg.control_dt_s * 1e9)
        self._sim_time_ns = 0
        self._state_stamp_ns = 0          # stamp of the state awaiting an answer
        self._state_published = False     # the current state went out to a subscriber
        self._state_time_ns = 0           # when it went out, monotonic (lockstep timeout)
        self._fresh_action: np.ndarray | None = None  # realtime: answer to the current state
        self._marker_count = 0
        self._state_msg: Float64MultiArray | None = None
        self._announced_ns = 0
        self._over_force_pub.publish(UInt64(data=0))
        self._reset_episode()
        # Wall-time timers: pacing and timeouts are about the agent's real reaction time.
        if self.sim_cfg.mode == "realtime":
            self.create_timer(1.0 / self.env_cfg.control_hz, self._realtime_tick,
                              clock=steady_clock())
        else:
            self.create_timer(min(0.05, self.sim_cfg.action_timeout_s / 4), self._lockstep_tick,
                              clock=steady_clock())
        self.create_timer(OVER_FORCE_LOG_S, self._log_over_force, clock=steady_clock())
        self.get_logger().info(
            f"mode {self.sim_cfg.mode}, {self.sim_cfg.episodes} episodes, control "
            f"{self.env_cfg.control_hz:g} Hz, frame '{self.frame_id}', state on "
            f"{self._state_pub.topic_name}")
        self.get_logger().debug(f"{self._state_pub.topic_name} layout: {self.codec.describe()}")

    def _make_env(self):
        from massage_td3_ros.env import MassageEnv  # PyBullet: only when a sim is wanted
        return MassageEnv(self.env_cfg, render_mode="human" if self.sim_cfg.gui else None)

    # ---- episode and step -------------------------------------------------------------
    def _next_stamp_ns(self) -> int:
        """Simulated time: advance one control period and publish it on clock. Wall
        time (no SIM_TIME): now, strictly after the last stamp."""
        if not self.SIM_TIME:
            self._sim_time_ns = max(self.get_clock().now().nanoseconds, self._sim_time_ns + 1)
            return self._sim_time_ns
        self._sim_time_ns += self._dt_ns
        self._clock_pub.publish(sim_messages.clock_at(self._sim_time_ns))
        return self._sim_time_ns

    def _reset_episode(self) -> None:
        self._episode = max(self._episode + 1, self._next_episode)
        if self.sim_cfg.episodes == "evaluation":
            seed, options = evaluation_episode(self.sim_cfg.seed, self._episode)
        elif self.sim_cfg.episodes in SUITES:  # in the order massage-td3 eval runs them
            cases = suite_episodes(self.sim_cfg.episodes, self.env.config)
            case = cases[self._episode % len(cases)]
            seed, options = case.seed, dict(case.options)
        else:
            # The in-process trainer's episode seeds: with the same seed both see the
            # same sequence of episodes (bodies, strokes, targets).
            seed, options = episode_seed(self.sim_cfg.seed, self._episode), None
        obs, info = self.env.reset(seed=seed, options=options)
        self._step = 0
        self.episodes_started += 1
        self._pending = (obs, 0.0, False, False, False, np.zeros(3), info)
        self._state_published = False
        self._state_stamp_ns = self._next_stamp_ns()
        self._fresh_action = None
        self._stroke_pub.publish(sim_messages.stroke_path(
            sim_messages.header_at(self._state_stamp_ns, self.frame_id),
            self.env.stroke.touch_m[:self.env_cfg.max_episode_steps + 1],
            self.env.stroke.normal[:self.env_cfg.max_episode_steps + 1]))
        self._publish_state_if_heard()

    def _publish_state_if_heard(self) -> None:
        """Send the pending state once someone listens (a state nobody hears stalls lockstep)."""
        if self._state_published or self._state_pub.get_subscription_count() == 0:
            return
        if self._awaiting_next_episode():
            return
        obs, reward, terminated, truncated, held, applied, info = self._pending
        self._publish_step(self._state_stamp_ns, obs, reward, terminated, truncated, held,
                           applied, info, with_reward=False)
        self._state_published = True
        self._state_time_ns = time.monotonic_ns()

    def _apply(self, action: np.ndarray, held: bool) -> None:
        """One env step with a checked action; publish it, and reset after an episode end."""
        self.last_applied_action = action
        obs, reward, terminated, truncated, info = self.env.step(action.astype(np.float32))
        self._step += 1
        self.steps_taken += 1
        self.held_steps += int(held)
        self.governed_steps += int(info.get("governed", 0.0) > 0.5)
        stamp = self._next_stamp_ns()
        if info.get("over_force", 0.0) > 0.5:
            self.over_force_steps += 1
            self._over_force_pub.publish(UInt64(data=self.over_force_steps))
            # the limit watches every physics substep: report the peak that tripped it
            peak_n = max(info.get("force_n", math.nan), info.get("peak_force_n", math.nan))
            self.get_logger().warning(
                f"force peaked at {peak_n:.1f} N, above the hard limit "
                f"{self.env_cfg.safety_force_limit_n:g} N (episode {self._episode}, "
                f"step {self._step}); the episode ends", throttle_duration_sec=WARN_PERIOD_S)
        self._publish_step(stamp, obs, reward, terminated, truncated, held, action, info,
                           with_reward=True)
        self._state_stamp_ns = stamp
        self._state_time_ns = time.monotonic_ns()
        self._fresh_action = None
        if terminated or truncated:
            self._reset_episode()

    def _publish_step(self, stamp_ns: int, obs, reward: float, terminated: bool,
                      truncated: bool, held: bool, applied: np.ndarray, info: dict, *,
                      with_reward: bool) -> None:
        header = sim_messages.header_at(stamp_ns, self.frame_id)
        # Sensor and visualisation topics are built only when someone listens (they
        # would be dropped anyway); this keeps an unobserved lock-step loop fast.
        listening = [(publisher, build) for publisher, build in (
            (self._joints_pub, sim_messages.joint_state),
            (self._wrench_pub, sim_messages.contact_wrench),
            (self._pose_pub, sim_messages.tool_pose),
            (self._markers_pub, self._markers))
            if publisher is not None and publisher.get_subscription_count() > 0]
        if listening:
            snapshot = self.env.snapshot()
            for publisher, build in listening:
                publisher.publish(build(header, snapshot))
        if with_reward:
            self._reward_pub.publish(Float32(data=float(reward)))
        self._state_msg = self.codec.encode(
            stamp_sec=header.stamp.sec, stamp_nanosec=header.stamp.nanosec,
            episode=self._episode, step=self._step, first=self._step == 0,
            terminated=terminated, truncated=truncated, held=held, applied_action=applied,
            reward=float(reward), obs=obs, info=info)
        self._state_pub.publish(self._state_msg)
        self._announced_ns = time.monotonic_ns()

    def _markers(self, header, snapshot: ArmSnapshot):
        markers = sim_messages.contact_markers(header, snapshot, self._marker_count)
        self._marker_count = len(snapshot.contacts)
        return markers

    # ---- inputs -----------------------------------------------------------------------
    def _checked_action(self, msg: Vector3Stamped) -> np.ndarray | None:
        """The action clamped to [-1, 1], or None (counted, warned) if it must be dropped."""
        values = np.array([msg.vector.x, msg.vector.y, msg.vector.z], dtype=np.float64)
        if not np.all(np.isfinite(values)):
            self.dropped_actions["non_finite"] += 1
            self.get_logger().warning(
                f"dropped a non-finite action {values.tolist()} "
                f"({self.dropped_actions['non_finite']} so far)",
                throttle_duration_sec=WARN_PERIOD_S)
            return None
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        if stamp_ns != self._state_stamp_ns or not self._state_published:
            self.dropped_actions["wrong_stamp"] += 1
            self.get_logger().warning(
                f"dropped an action stamped {stamp_ns} ns: it does not answer the current "
                f"state ({self._state_stamp_ns} ns) ({self.dropped_actions['wrong_stamp']} "
                "so far)", throttle_duration_sec=WARN_PERIOD_S)
            return None
        if np.any(np.abs(values) > 1.0):
            self.clamped_actions += 1
            self.get_logger().warning(
                f"clamped an out-of-range action {values.tolist()} to [-1, 1] "
                f"({self.clamped_actions} so far)", throttle_duration_sec=WARN_PERIOD_S)
            values = np.clip(values, -1.0, 1.0)
        return values

    def _on_action(self, msg: Vector3Stamped) -> None:
        action = self._checked_action(msg)
        if action is None:
            return
        if self.sim_cfg.mode == "realtime":
            self._fresh_action = action  # applied at the next tick
        else:
            self._apply(action, held=False)

    def _on_next_episode(self, msg: UInt64) -> None:
        """The agent's next expected episode index: this sim never draws an index below
        it again, and leaves at once an episode the agent has already seen (a sim
        restarted mid-training starts at 0)."""
        self._next_episode_heard = True
        wanted = int(msg.data)
        if wanted <= self._next_episode:
            return
        self._next_episode = wanted
        # The agent has seen episode wanted - 1: from this sim if its state went out.
        shown = self._state_published or self._step > 0
        if self._episode < wanted - 1 or (self._episode < wanted and not shown):
            self.get_logger().info(
                f"the agent has seen episodes up to {wanted - 1}: leaving episode "
                f"{self._episode} (step {self._step}) for episode {wanted}")
            self._reset_episode()

    def _awaiting_next_episode(self) -> bool:
        """True while a massage/next_episode publisher is known but its latched value
        has not arrived (for NEXT_EPISODE_WAIT_S at most)."""
        if self._next_episode_heard:
            return False
        if self.count_publishers(self._next_episode_sub.topic_name) == 0:
            return False
        now = time.monotonic_ns()
        if self._next_episode_seen_ns is None:
            self._next_episode_seen_ns = now
        if (now - self._next_episode_seen_ns) * 1e-9 < NEXT_EPISODE_WAIT_S:
            return True
        self._next_episode_heard = True  # never arrived (a volatile publisher?): go on
        return False

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response):
        self._reset_episode()
        response.success = True
        response.message = f"episode {self._episode} started"
        return response

    # ---- timers -----------------------------------------------------------------------
    def _lockstep_tick(self) -> None:
        if not self._state_published:
            self._publish_state_if_heard()
            return
        now_ns = time.monotonic_ns()
        waited_s = (now_ns - self._state_time_ns) * 1e-9
        if waited_s < self.sim_cfg.action_timeout_s:
            since_announced_s = (now_ns - self._announced_ns) * 1e-9
            if since_announced_s >= min(REANNOUNCE_S, self.sim_cfg.action_timeout_s / 2):
                # An agent that joined after the state went out never saw it; agents
                # ignore a stamp they have already handled.
                self._state_pub.publish(self._state_msg)
                self._announced_ns = now_ns
            return
        if self._state_pub.get_subscription_count() == 0:
            return  # nobody to act: hold still rather than run the episode alone
        self.get_logger().warning(
            f"no action within {self.sim_cfg.action_timeout_s:g} s: stepping with the tool "
            "target held", throttle_duration_sec=WARN_PERIOD_S)
        self._apply(self.env.hold_action(), held=True)

    def _realtime_tick(self) -> None:
        if not self._state_published:
            self._publish_state_if_heard()
            return
        fresh = self._fresh_action
        # No answer in time: hold the tool target (in increment mode repeating the last
        # action would keep moving it).
        self._apply(fresh if fresh is not None else self.env.hold_action(), held=fresh is None)

    def _log_over_force(self) -> None:
        """Every OVER_FORCE_LOG_S: the running count of over-force steps, if it grew."""
        new = self.over_force_steps - self._over_force_logged
        if new <= 0:
            return
        self._over_force_logged = self.over_force_steps
        self.get_logger().warning(
            f"over-force steps: {self.over_force_steps} in total, {new} in the last "
            f"{OVER_FORCE_LOG_S:g} s (force above {self.env_cfg.safety_force_limit_n:g} N; "
            f"each ended its episode)")

    def close(self) -> None:
        final_log(self,
            f"{self.steps_taken} steps, {self.episodes_started} episodes, dropped actions "
            f"{self.dropped_actions}, clamped {self.clamped_actions}, held steps "
            f"{self.held_steps}, over-force steps {self.over_force_steps}"
            + (f", governed steps {self.governed_steps}" if self.env_cfg.force_governor_n
               else ""))
        self.env.close()


def main(args: list[str] | None = None) -> int:
    """Entry point of the ``massage_sim`` executable."""
    return run_node(MassageSimNode, "massage_sim", args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
