"""``massage_bridge``: the massage task on a real arm, through standard driver interfaces.

Where massage_sim steps MassageEnv, the bridge steps BridgeEnv (bridge_env.py): the same
task code (strokes, pressure profile, action handling, IK, observation, reward, episode
metrics) on an arm it knows only through its driver: ``joint_states``, a flange
force/torque sensor (WrenchStamped) and a position controller (``<controller>/commands``
or ``<controller>/joint_trajectory``), all set by the ``bridge`` parameters. Everything
the agent sees is massage_sim's: ``massage/state`` in the same layout with the same
counters, stamps, ``held`` flags and reset service (this node *is* MassageSimNode with
another env), except that time is the wall clock (no ``clock``) and ``joint_states`` /
``robot_description`` are left to the driver.

It runs in lockstep on a fixed control grid: an answer is commanded at once, the state
comes at the end of the control period. Safety is the bridge's own:

- the hard force limit (env.safety_force_limit_n) is checked on every wrench message;
  above it the tool retracts along the surface normal at once, the episode ends
  (terminal, counted, logged) and the arm takes no new target until ``massage/reset``;
- sensors older than ``bridge.sensor_timeout_s``: no new targets (the driver holds the
  arm), warned; silent for ``bridge.retract_after_s``: retract, end the episode, wait
  for ``massage/reset``;
- at start-up, joint states and a wrench must arrive within ``bridge.start_timeout_s``
  and the joint names must include the URDF's arm joints: else exit code 2 with the
  reason.

The stroke (``bridge.stroke_source``) is planned on the twin's body model, or, with
``taught``, is the nav_msgs/Path last received on ``bridge.taught_stroke_topic``
(reliable, transient local): each pose's position the tool centre just touching the
skin, its z axis the outward surface normal, in ``sim.frame_id``. The bridge waits for
a valid one before its first episode (saying every few seconds where it listens); a
path in another frame, with fewer than 2 poses, non-finite values or an unusable shape
is rejected (logged, counted by reason, the node carries on); a new valid path
replaces the stroke from the next episode on. In taught mode the surface quantities
of the observation come from the taught path, not from the twin's body (bridge_env.py).
``massage/stroke`` shows the stroke in use, as massage_sim's does.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path as FilePath

from nav_msgs.msg import Path
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from std_msgs.msg import String

from massage_td3_ros.env.strokes import TaughtStrokeError
from massage_td3_ros.ros import sim_messages
from massage_td3_ros.ros.arm_link import ArmLink
from massage_td3_ros.ros.common import (
    LATCHED_QOS,
    final_log,
    run_node,
    side_node,
    steady_clock,
)
from massage_td3_ros.ros.driver_interfaces import ROBOT_DESCRIPTION_TOPIC, arm_joint_names
from massage_td3_ros.ros.latency import LatencyRecord
from massage_td3_ros.ros.realtime import use_realtime_priority
from massage_td3_ros.ros.robot_urdf import TwinUrdf, twin_urdf
from massage_td3_ros.ros.sim_node import MassageSimNode

WAIT_LOG_S = 5.0   # taught mode without a stroke yet: say where the bridge listens this often


class MassageBridgeNode(MassageSimNode):
    """MassageSimNode on a real arm (see the module doc)."""

    NODE_NAME = "massage_bridge"
    SIM_TIME = False
    ROBOT_TOPICS = False
    _paused = False     # a fault ended the last episode: wait for massage/reset
    _awaiting_stroke = False  # taught mode, no valid stroke yet: no episode has started

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: list[Parameter] | None = None) -> None:
        self.link: ArmLink | None = None
        self.taught_strokes = 0              # valid taught strokes received
        self.rejected_strokes: dict[str, int] = {}  # invalid ones, by reason
        self._waiting_since = time.monotonic()
        # From a state's publication to the joint command of the agent's answer to it.
        self.state_to_command = LatencyRecord()
        super().__init__(context=context, parameter_overrides=parameter_overrides)
        bridge = self.groups["bridge"]
        if bridge.stroke_source == "taught":
            self._taught_sub = self.create_subscription(
                Path, bridge.taught_stroke_topic, self._on_taught_stroke, LATCHED_QOS)
            self.create_timer(WAIT_LOG_S, self._log_waiting, clock=steady_clock())
            self._log_waiting()
        if bridge.realtime_priority > 0:  # every thread exists now: DDS's, the sensor watch
            use_realtime_priority(self, bridge.realtime_priority)

    def _make_env(self):
        from massage_td3_ros.ros.bridge_env import BridgeEnv, check_bridge_config  # PyBullet

        bridge, env = self.groups["bridge"], self.env_cfg
        if self.sim_cfg.mode != "lockstep":
            raise ValueError("massage_bridge paces itself on the control grid: sim.mode "
                             "must be lockstep")
        check_bridge_config(env)
        twin = self._robot_twin()
        joints = arm_joint_names() if twin is None else twin.joint_names
        self.link = ArmLink(self.context, f"{self.get_name()}_driver_io", joints,
                            bridge, env.tool_mass_kg, env.safety_force_limit_n,
                            namespace=self.get_namespace())
        try:
            self.link.wait_for_sensors(bridge.start_timeout_s)
        except (TimeoutError, ValueError) as error:
            self.link.close()
            if isinstance(error, ValueError):
                raise
            raise ValueError(f"{error} on {bridge.joint_states_topic} / "
                             f"{bridge.wrench_topic}: is the arm's driver running?") from error
        self.get_logger().info(
            f"driver found: joints {list(joints)}, commands on "
            f"{bridge.controller} ({bridge.controller_kind}), wrench in "
            f"'{bridge.sensor_frame}'; force limit {env.safety_force_limit_n:g} N")
        return BridgeEnv(env, self.link, bridge, None if twin is None else twin.model)

    def _robot_twin(self) -> TwinUrdf | None:
        """The robot's URDF for the twin (bridge.urdf_source), checked; None: the
        package's arm."""
        bridge, env = self.groups["bridge"], self.env_cfg
        if bridge.urdf_source == "package":
            return None
        base_dir = None  # where relative mesh paths start (a file's folder)
        if bridge.urdf_source == "file":
            path = FilePath(bridge.urdf_file).expanduser()
            try:
                text, where, base_dir = path.read_text(), str(path), path.parent
            except OSError as error:
                raise ValueError(f"bridge.urdf_file {str(path)!r}: {error.strerror}") from error
        else:
            text = wait_for_text(self.context, f"{self.get_name()}_description",
                                 ROBOT_DESCRIPTION_TOPIC, bridge.start_timeout_s,
                                 namespace=self.get_namespace())
            where = self.resolve_topic_name(ROBOT_DESCRIPTION_TOPIC)
        twin = twin_urdf(text, frame_id=self.sim_cfg.frame_id, flange_link=bridge.flange_link,
                         tool_offset_m=bridge.tool_offset_m, tool_radius_m=env.tool_radius_m,
                         tool_mass_kg=env.tool_mass_kg, rest_pose_rad=bridge.rest_pose_rad,
                         base_dir=base_dir)
        tool = f"added on {bridge.flange_link}" if twin.tool_added else "its own"
        missing = (f", {twin.meshes_left_out} mesh(es) not found (left out of the twin)"
                   if twin.meshes_left_out else "")
        self.get_logger().info(f"robot URDF from {where}: joints {list(twin.joint_names)}, "
                               f"placed by {twin.placed_by}, tool {tool}{missing}")
        return twin

    def _reset_episode(self) -> None:
        if self.link is not None and self.link.fault is not None:
            if not self._paused:
                self._paused = True
                self.get_logger().error(
                    f"fault ({self.link.fault}): the arm holds its retracted pose; call "
                    f"{self.resolve_service_name('massage/reset')} to start the next episode")
            return
        if self.env.taught_mode and self.env.taught is None:
            self._awaiting_stroke = True   # the first valid taught stroke starts it
            return
        super()._reset_episode()

    def _on_reset(self, request, response):
        if self._awaiting_stroke:
            response.success = False
            response.message = (f"no taught stroke yet on "
                                f"{self._taught_sub.topic_name}: no episode to start")
            return response
        if self.link is not None:
            self.link.clear_fault()
        self._paused = False
        return super()._on_reset(request, response)

    def _on_action(self, msg) -> None:
        if not (self._paused or self._awaiting_stroke):
            super()._on_action(msg)

    def _apply(self, action, held: bool) -> None:
        # The state this action answers went out last at (re-announced to a late agent).
        state_out_ns = max(self._state_time_ns, self._announced_ns)
        self.env.answer_sent_ns = 0
        super()._apply(action, held)
        sent_ns = self.env.answer_sent_ns   # 0: no command went out (fault, stale sensors)
        if not held and sent_ns > state_out_ns > 0:
            self.state_to_command.add((sent_ns - state_out_ns) * 1e-9)

    def _lockstep_tick(self) -> None:
        if not (self._paused or self._awaiting_stroke):
            super()._lockstep_tick()

    def _on_next_episode(self, msg) -> None:
        if self._awaiting_stroke:  # no episode to leave: the first one starts there
            self._next_episode_heard = True
            self._next_episode = max(self._next_episode, int(msg.data))
            return
        super()._on_next_episode(msg)

    # ---- taught strokes -----------------------------------------------------------------
    def _on_taught_stroke(self, msg: Path) -> None:
        topic = self._taught_sub.topic_name
        try:
            # The path's frame, and any pose's own (empty: the path's).
            frames = {msg.header.frame_id} | ({p.header.frame_id for p in msg.poses} - {""})
            if frames != {self.frame_id}:
                raise TaughtStrokeError("frame", f"in frame {', '.join(map(repr, sorted(frames)))}"
                                        f"; the bridge works in '{self.frame_id}' "
                                        "(sim.frame_id)")
            length_m = self.env.set_taught_stroke(*sim_messages.path_polyline(msg))
        except TaughtStrokeError as error:
            self.rejected_strokes[error.reason] = self.rejected_strokes.get(error.reason, 0) + 1
            self.get_logger().error(
                f"rejected the taught stroke on {topic} ({error.reason}): {error}; "
                f"{sum(self.rejected_strokes.values())} rejected so far "
                f"{self.rejected_strokes}")
            return
        self.taught_strokes += 1
        what = f"taught stroke on {topic}: {len(msg.poses)} poses, {length_m:.3f} m"
        if self._awaiting_stroke:
            self._awaiting_stroke = False
            self.get_logger().info(f"{what}; the first episode starts")
            self._reset_episode()
        else:
            self.get_logger().info(f"new {what}: it replaces the stroke from the next "
                                   f"episode on (after episode {self._episode})")

    def _log_waiting(self) -> None:
        if not self._awaiting_stroke:
            return
        topic = self._taught_sub.topic_name
        self.get_logger().info(
            f"waiting for a taught stroke (nav_msgs/Path in '{self.frame_id}') on {topic} "
            f"for {time.monotonic() - self._waiting_since:.0f} s; "
            f"{self.count_publishers(topic)} publisher(s), "
            f"{sum(self.rejected_strokes.values())} path(s) rejected")

    def close(self) -> None:
        super().close()
        if self.link is not None:
            final_log(self, f"driver link: {self.link.counts}, held periods on stale "
                      f"sensors {getattr(self.env, 'stale_holds', 0)}, taught strokes "
                      f"{self.taught_strokes} (rejected {self.rejected_strokes}); "
                      f"state-to-command latency {self.state_to_command.describe()}")
            self.link.close()


def wait_for_text(context: Context, node_name: str, topic: str, timeout_s: float,
                  namespace: str = "") -> str:
    """The first std_msgs/String on a latched ``topic`` (ValueError after ``timeout_s``)."""
    node = side_node(context, node_name, namespace)
    texts: list[str] = []
    node.create_subscription(String, topic, lambda msg: texts.append(msg.data), LATCHED_QOS)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    end = time.monotonic() + timeout_s
    try:
        while not texts and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
        name = node.resolve_topic_name(topic)
    finally:
        executor.shutdown()
        node.destroy_node()
    if not texts:
        raise ValueError(f"no robot description on {name} within {timeout_s:g} s "
                         "(bridge.start_timeout_s): is robot_state_publisher or the "
                         "driver running? (or set bridge.urdf_source file)")
    return texts[0]


def main(args: list[str] | None = None) -> int:
    """Entry point of the ``massage_bridge`` executable."""
    return run_node(MassageBridgeNode, "massage_bridge", args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
