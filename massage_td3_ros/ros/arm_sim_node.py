"""``arm_sim``: the PyBullet arm, person and table behind a real arm driver's interfaces.

A stand-in for a robot's ros2_control driver, as gazebo_ros2_control is for Gazebo: it
knows joints, motors and a force/torque sensor, nothing of strokes, rewards or agents.
Topics (driver_interfaces.py; relative names, so a namespace moves them all):

* publishes ``joint_states`` (sensor_msgs/JointState: the 7 arm joints in the URDF's
  order, position rad, velocity rad/s, effort = applied motor torque N m) and
  ``force_torque_sensor_broadcaster/wrench`` (geometry_msgs/WrenchStamped, below), both
  at ``arm_sim.publish_hz`` of wall time, stamped with the node's clock (wall time);
* publishes ``robot_description`` (std_msgs/String, transient local): the URDF that
  massage_sim publishes;
* subscribes ``forward_position_controller/commands`` (std_msgs/Float64MultiArray: 7
  positions [rad], URDF order) and, with ``arm_sim.accept_trajectories``,
  ``joint_trajectory_controller/joint_trajectory`` (trajectory_msgs/JointTrajectory:
  the first point's positions become the target at once, reordered by joint name;
  time_from_start is not interpolated). A malformed command (wrong length, unknown or
  missing joint names, non-finite values) is rejected, logged as an error and counted;
  the arm keeps its last target. Positions beyond a joint's limits are clamped (counted).

The joints are position-controlled (PyBullet POSITION_CONTROL with the env's gains and
torque limits, as env.arm.Arm.command) towards the last accepted command; until one
arrives they hold the start pose, the tool centre ``arm_sim.start_clearance_m`` above
touching the middle of the nominal person's back (tool down).

**Force/torque sensor convention.** PyBullet's joint force/torque sensor on the fixed
joint between the flange (``lbr_iiwa_link_7``) and the tool measures, like a real sensor
between them, everything the tool does to the flange: its weight, its inertia and every
contact on it. The reading published is **the wrench the tool exerts on the flange**,
expressed in ``arm_sim.sensor_frame`` (``frame_id``), torque about that frame's origin.
With the tool hanging free and still it is the tool's weight, ``env.tool_mass_kg`` *
9.81 N pointing along gravity; pressing the tool into the back pushes it up, so the
force turns against gravity and grows with the pressure. No bias is removed (a real
sensor is tared with the tool off; here the tool's weight stays in the reading). Unlike
massage_sim's massage/contact_wrench (the body's net normal force on the tool, in the
world frame), it holds friction and the tool's weight and inertia too, as a real one does.

**Real time.** A steady wall-clock timer ticks every ``arm_sim.steps_per_tick`` physics
periods (1 / ``env.physics_hz``); each tick runs as many physics steps as wall time has
advanced since start-up, so simulated time follows wall time whatever rate the timer
achieves (a late tick runs more steps). After a stall longer than MAX_BURST_S the stalled
time is skipped (counted, warned) instead of run in one burst. Measured over 10 s with the
tool pressing the back, on 2 cores shared with other jobs (load ~2), then with two more
busy processes (load ~3.5): a timer at the physics rate (steps_per_tick 1, 240 Hz) made
239.4 ticks/s, then only 193.5 (the rest caught up by double steps); at 120 Hz (2, the
default) 119.9 and 115.1 ticks/s; at 60 Hz (4) 59.9 and 59.8. Physics ran 239.6-240.0
steps per second of wall time in every case (0.998-1.000 x real time, none skipped);
publications 125.0/s, then 119-121/s; CPU 18, 14, 12 % of a core, then 13, 10, 10 %.
``rates()`` and the shutdown log report these figures for a run.

**Parameters.** ``arm_sim.*`` (ArmSimConfig below) and ``env.*``, massage_sim's group,
so one parameter file sets the same scene for both: physics rate and solver iterations,
the arm's gains and torque scale, tool radius and mass, table height, the arm's offset
and the nominal person's build, mass and tissue. The person is always the nominal one:
the randomisation, stroke and reward fields are accepted and unused.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
import pybullet as pb
from geometry_msgs.msg import WrenchStamped
from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.robot_description import robot_description
from massage_td3_ros.env.scene import BODY_GROUP, build_scene, connect_world
from massage_td3_ros.params import param
from massage_td3_ros.ros.common import (
    LATCHED_QOS,
    RELIABLE_QOS,
    final_log,
    route_package_logging,
    run_node,
    steady_clock,
)
from massage_td3_ros.ros.driver_interfaces import (
    FLANGE_LINK,
    JOINT_STATES_TOPIC,
    POSITION_COMMAND_TOPIC,
    REJECTIONS,
    ROBOT_DESCRIPTION_TOPIC,
    SENSOR_FRAMES,
    TRAJECTORY_TOPIC,
    WRENCH_TOPIC,
    CommandError,
    arm_joint_names,
    joint_state_message,
    positions_from_command,
    positions_from_trajectory,
    wrench_message,
)
from massage_td3_ros.ros.parameters import declare_and_read

try:  # the trajectory interface is optional: a machine may lack the message package
    from trajectory_msgs.msg import JointTrajectory
except ImportError:
    JointTrajectory = None

NODE_NAME = "arm_sim"
WARN_PERIOD_S = 2.0
MAX_BURST_S = 0.1      # most simulated time one tick catches up after a stall
START_IK_ROUNDS = 20   # settle rounds of the start pose's IK (as the env's home pose)


@dataclass(frozen=True)
class ArmSimConfig:
    """How the simulated arm driver publishes and paces itself."""

    publish_hz: float = param(125.0, "Rate of joint_states and the wrench, of wall time.",
                              1.0, 1000.0)
    sensor_frame: str = param(FLANGE_LINK, "Frame (frame_id) the flange force/torque "
                              "sensor's wrench is expressed in, torque about its origin.",
                              choices=SENSOR_FRAMES)
    steps_per_tick: int = param(2, "Physics periods (1 / env.physics_hz) per tick of the "
                                "stepping timer; each tick steps as far as wall time has "
                                "advanced, so this sets the timer's load, not the "
                                "simulated time.", 1, 48)
    start_clearance_m: float = param(0.05, "Start pose: the tool centre this far above "
                                     "touching the middle of the back.", 0.005, 0.5)
    accept_trajectories: bool = param(True, "Also take position targets from "
                                      "joint_trajectory_controller/joint_trajectory (its "
                                      "first point).")


# The node's parameter groups (as config.NODE_GROUPS lists the other nodes').
GROUPS: dict[str, type] = {"arm_sim": ArmSimConfig, "env": EnvConfig}


class SimulatedArm:
    """The scene in a PyBullet DIRECT client, with a force/torque sensor on the joint
    between the flange and the tool: step, command the joints, read them and the sensor."""

    def __init__(self, config: EnvConfig, sensor_frame: str, start_clearance_m: float) -> None:
        # The env's physics, so the arm behaves as in training.
        self.client = connect_world(config)
        self.scene = build_scene(self.client, config)
        arm = self.arm = self.scene.arm
        self.joint_names = arm.joint_names
        self.limits_rad = (arm.lower_rad, arm.upper_rad)
        self.sensor_link = arm.link_names.index(sensor_frame)
        # The tool's fixed joint has the tool link's index (PyBullet: joint i -> link i).
        pb.enableJointForceTorqueSensor(arm.body_id, arm.tool_link, True,
                                        physicsClientId=self.client)
        self.start_pose_rad = arm.settle_ik(self._start_point(config, start_clearance_m),
                                            rounds=START_IK_ROUNDS)
        arm.reset(self.start_pose_rad)  # and hold it
        self.step(1)  # the sensor reads zero until the first step

    def _start_point(self, config: EnvConfig, clearance_m: float) -> np.ndarray:
        """The tool centre ``clearance_m`` above touching the middle of the back (on
        the spine, half-way along the back)."""
        scene = self.scene
        lower, upper = scene.geometry.back_x_range_m
        x, y = scene.body_origin_m[0] + (lower + upper) / 2, scene.body_origin_m[1]
        top = config.table_height_m
        hit = pb.rayTest((x, y, top + 1.0), (x, y, top), collisionFilterMask=BODY_GROUP,
                         physicsClientId=self.client)[0]
        surface_z = hit[3][2] if hit[0] == scene.body_id else top
        return np.array([x, y, surface_z + config.tool_radius_m + clearance_m])

    def step(self, count: int) -> None:
        for _ in range(count):
            pb.stepSimulation(physicsClientId=self.client)

    def command(self, positions_rad: np.ndarray) -> None:
        self.arm.command(positions_rad)

    def joint_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions [rad], velocities [rad/s], applied motor torques [N m]."""
        return self.arm.joint_state()

    def _frame(self, link: int) -> tuple[np.ndarray, np.ndarray]:
        """World position and rotation matrix of a link's URDF frame."""
        state = pb.getLinkState(self.arm.body_id, link, computeForwardKinematics=True,
                                physicsClientId=self.client)
        return np.asarray(state[4]), np.reshape(pb.getMatrixFromQuaternion(state[5]), (3, 3))

    def sensor_wrench(self) -> tuple[np.ndarray, np.ndarray]:
        """Force [N] and torque [N m] the tool exerts on the flange at the last physics
        step, in the sensor frame, torque about its origin."""
        arm = self.arm
        reaction = pb.getJointState(arm.body_id, arm.tool_link,
                                    physicsClientId=self.client)[2]
        # PyBullet gives the flange's wrench on the tool, in the tool frame about its
        # origin (the ball's centre, where the fixed joint is).
        tool_pos, tool_rot = self._frame(arm.tool_link)
        sensor_pos, sensor_rot = self._frame(self.sensor_link)
        force_world = tool_rot @ np.asarray(reaction[:3])
        torque_world = (tool_rot @ np.asarray(reaction[3:])
                        + np.cross(tool_pos - sensor_pos, force_world))
        # The tool's wrench on the flange is its opposite.
        return -sensor_rot.T @ force_world, -sensor_rot.T @ torque_world

    def close(self) -> None:
        pb.disconnect(self.client)


class ArmSimNode(Node):
    """The simulated arm behind joint_states, the flange wrench and position commands."""

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: list[Parameter] | None = None) -> None:
        super().__init__(NODE_NAME, context=context,
                         parameter_overrides=parameter_overrides or [])
        route_package_logging(self)
        groups = declare_and_read(self, GROUPS)
        self.cfg, self.env_cfg = groups["arm_sim"], groups["env"]
        self.env_cfg.check()  # the same file drives massage_sim: the same rules
        self.arm = SimulatedArm(self.env_cfg, self.cfg.sensor_frame,
                                self.cfg.start_clearance_m)
        self.joint_names = self.arm.joint_names
        if self.joint_names != arm_joint_names():
            raise RuntimeError(f"PyBullet's joints {self.joint_names} are not the URDF's "
                               f"{arm_joint_names()}")

        self._joints_pub = self.create_publisher(JointState, JOINT_STATES_TOPIC, RELIABLE_QOS)
        self._wrench_pub = self.create_publisher(WrenchStamped, WRENCH_TOPIC, RELIABLE_QOS)
        self._description_pub = self.create_publisher(String, ROBOT_DESCRIPTION_TOPIC,
                                                      LATCHED_QOS)
        self._description_pub.publish(String(data=robot_description(self.env_cfg)))
        self._command_sub = self.create_subscription(
            Float64MultiArray, POSITION_COMMAND_TOPIC, self._on_command, RELIABLE_QOS)
        if self.cfg.accept_trajectories and JointTrajectory is None:
            self.get_logger().warning(f"trajectory_msgs is not installed: not listening on "
                                      f"{TRAJECTORY_TOPIC}")
        elif self.cfg.accept_trajectories:
            self._trajectory_sub = self.create_subscription(
                JointTrajectory, TRAJECTORY_TOPIC, self._on_trajectory, RELIABLE_QOS)

        # Counters (read by tests, logged at shutdown).
        self.accepted_commands = 0
        self.rejected_commands = dict.fromkeys(REJECTIONS, 0)
        self._rejection_logged_ns: dict[str, int] = {}
        self.clamped_commands = 0
        self.ticks = 0
        self.physics_steps = 0
        self.skipped_steps = 0
        self.published = 0

        physics_hz = self.env_cfg.physics_hz
        self._max_burst = max(self.cfg.steps_per_tick, round(MAX_BURST_S * physics_hz))
        self._start_ns = time.monotonic_ns()
        # Wall-time timers: the arm moves in real time whatever /clock says.
        self.create_timer(self.cfg.steps_per_tick / physics_hz, self._physics_tick,
                          clock=steady_clock())
        self.create_timer(1.0 / self.cfg.publish_hz, self._publish, clock=steady_clock())
        self.get_logger().info(
            f"physics {physics_hz:g} Hz in ticks of {self.cfg.steps_per_tick}, publishing "
            f"{self._joints_pub.topic_name} and {self._wrench_pub.topic_name} (frame "
            f"'{self.cfg.sensor_frame}') at {self.cfg.publish_hz:g} Hz, commands on "
            f"{self._command_sub.topic_name}")

    # ---- real time --------------------------------------------------------------------
    def _physics_tick(self) -> None:
        """Step as far as wall time has advanced (bounded after a stall)."""
        elapsed_ns = time.monotonic_ns() - self._start_ns
        due = elapsed_ns * self.env_cfg.physics_hz // 1e9 - self.skipped_steps
        behind = int(due) - self.physics_steps
        if behind > self._max_burst:
            self.skipped_steps += behind - self._max_burst
            self.get_logger().warning(
                f"fell {behind / self.env_cfg.physics_hz:.3f} s behind wall time: skipped "
                f"{behind - self._max_burst} physics steps ({self.skipped_steps} so far)",
                throttle_duration_sec=WARN_PERIOD_S)
            behind = self._max_burst
        self.arm.step(behind)
        self.physics_steps += behind
        self.ticks += 1

    def rates(self) -> dict[str, float]:
        """Achieved since start-up, per second of wall time: timer ticks, physics steps,
        publications; and simulated over wall time (1.0: real time)."""
        wall_s = max((time.monotonic_ns() - self._start_ns) * 1e-9, 1e-9)
        sim_s = self.physics_steps / self.env_cfg.physics_hz
        return {"tick_hz": self.ticks / wall_s, "physics_hz": self.physics_steps / wall_s,
                "publish_hz": self.published / wall_s, "real_time_factor": sim_s / wall_s}

    # ---- outputs ----------------------------------------------------------------------
    def _publish(self) -> None:
        stamp = self.get_clock().now().to_msg()
        position, velocity, effort = self.arm.joint_state()
        self._joints_pub.publish(joint_state_message(stamp, self.joint_names, position,
                                                     velocity, effort))
        force, torque = self.arm.sensor_wrench()
        self._wrench_pub.publish(wrench_message(stamp, self.cfg.sensor_frame, force, torque))
        self.published += 1

    # ---- commands ---------------------------------------------------------------------
    def _on_command(self, msg: Float64MultiArray) -> None:
        self._take(self._command_sub.topic_name,
                   lambda: positions_from_command(msg, len(self.joint_names)))

    def _on_trajectory(self, msg) -> None:
        self._take(self._trajectory_sub.topic_name,
                   lambda: positions_from_trajectory(msg, self.joint_names))

    def _take(self, topic: str, parse) -> None:
        """Make the parsed positions the joints' target, clamped to the joint limits; a
        command that cannot be parsed leaves the target as it was."""
        try:
            positions = parse()
        except CommandError as error:
            self._reject(topic, error)
            return
        lower, upper = self.arm.limits_rad
        clamped = np.clip(positions, lower, upper)
        if np.any(clamped != positions):
            self.clamped_commands += 1
            outside = [self.joint_names[i] for i in np.flatnonzero(clamped != positions)]
            self.get_logger().warning(
                f"clamped a command on {topic} to the joint limits ({', '.join(outside)}; "
                f"{self.clamped_commands} clamped so far)", throttle_duration_sec=WARN_PERIOD_S)
        self.arm.command(clamped)
        self.accepted_commands += 1

    def _reject(self, topic: str, error: CommandError) -> None:
        """Count a refused command; log it unless one of its kind was logged within
        WARN_PERIOD_S (the first of each kind always is)."""
        self.rejected_commands[error.kind] += 1
        now_ns = time.monotonic_ns()
        last_ns = self._rejection_logged_ns.get(error.kind)
        if last_ns is not None and (now_ns - last_ns) * 1e-9 < WARN_PERIOD_S:
            return
        self._rejection_logged_ns[error.kind] = now_ns
        self.get_logger().error(
            f"rejected a command on {topic}: {error} ({self.rejected_commands[error.kind]} "
            f"{error.kind} so far); holding the last target")

    def close(self) -> None:
        rates = self.rates()
        final_log(self,
            f"{self.physics_steps} physics steps ({rates['real_time_factor']:.3f} x real "
            f"time, {rates['tick_hz']:.1f} ticks/s, {self.skipped_steps} skipped), "
            f"{self.published} publications ({rates['publish_hz']:.1f}/s), commands: "
            f"{self.accepted_commands} accepted, rejected {self.rejected_commands}, "
            f"{self.clamped_commands} clamped")
        self.arm.close()


def main(args: list[str] | None = None) -> int:
    """Entry point of the ``arm_sim`` executable."""
    return run_node(ArmSimNode, NODE_NAME, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
