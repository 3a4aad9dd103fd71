"""arm_sim over real DDS with real PyBullet: the node runs on its own executor thread (so
the test's waiting does not pace its timers) and a probe node in the test's thread uses
only its topics, as the massage bridge or `ros2 topic` would; one test starts the
executable as a process. The test's
own PyBullet client (the same scene) gives forward and inverse kinematics, as TF and
an IK solver would on a real arm."""

import math
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pybullet as pb
import pytest
from geometry_msgs.msg import WrenchStamped
from rcl_interfaces.msg import Log
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.robot_description import robot_description
from massage_td3_ros.env.scene import BODY_GROUP, build_scene
from massage_td3_ros.ros.arm_sim_node import ArmSimNode
from massage_td3_ros.ros.common import LATCHED_QOS, RELIABLE_QOS
from massage_td3_ros.ros.driver_interfaces import (
    FLANGE_LINK,
    POSITION_COMMAND_TOPIC,
    TRAJECTORY_TOPIC,
    WRENCH_TOPIC,
    arm_joint_names,
    position_command,
    urdf_joint_names,
    wrench_vectors,
)
from massage_td3_ros.ros.launcher import ros_environment

TOOL_WEIGHT_N = EnvConfig().tool_mass_kg * 9.81
DEEP = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)


class Probe(Node):
    """Keeps every joint state and wrench, the ERROR lines of /rosout; sends commands."""

    def __init__(self, context, namespace: str = "") -> None:
        super().__init__("arm_sim_probe", context=context, namespace=namespace)
        self.joint_states: list[JointState] = []
        self.wrenches = []
        self.errors: list[str] = []
        self.create_subscription(JointState, "joint_states", self.joint_states.append, DEEP)
        self.create_subscription(WrenchStamped, WRENCH_TOPIC, self.wrenches.append, DEEP)
        self.create_subscription(Log, "/rosout", self._on_log, DEEP)
        self.commands = self.create_publisher(Float64MultiArray, POSITION_COMMAND_TOPIC,
                                              RELIABLE_QOS)
        self.trajectories = None  # made by the one test that needs trajectory_msgs
        self.spinner = SingleThreadedExecutor(context=context)  # the test thread spins it
        self.spinner.add_node(self)

    def close(self) -> None:
        self.spinner.shutdown()
        self.destroy_node()

    def _on_log(self, msg: Log) -> None:
        if msg.name == "arm_sim" and msg.level == Log.ERROR:
            self.errors.append(msg.msg)

    def positions(self) -> np.ndarray:
        return np.array(self.joint_states[-1].position)


class Kinematics:
    """The scene in the test's own PyBullet client: where the frames are for joint
    positions, and joint positions for a tool position."""

    def __init__(self) -> None:
        self.config = EnvConfig()
        self.client = pb.connect(pb.DIRECT)
        self.scene = build_scene(self.client, self.config)
        self.arm = self.scene.arm

    def frame(self, joint_pos_rad, link_name: str) -> tuple[np.ndarray, np.ndarray]:
        """World position and rotation of a link's frame with the arm at these joints."""
        self.arm.reset(joint_pos_rad)
        state = pb.getLinkState(self.arm.body_id, self.arm.link_names.index(link_name),
                                computeForwardKinematics=True, physicsClientId=self.client)
        return np.asarray(state[4]), np.reshape(pb.getMatrixFromQuaternion(state[5]), (3, 3))

    def surface_below(self, point_m) -> float:
        """Height of the person's back straight below ``point_m``."""
        x, y = point_m[0], point_m[1]
        hit = pb.rayTest((x, y, point_m[2]), (x, y, 0.0), collisionFilterMask=BODY_GROUP,
                         physicsClientId=self.client)[0]
        assert hit[0] == self.scene.body_id, hit
        return hit[3][2]

    def solve(self, tool_centre_m) -> np.ndarray:
        return self.arm.settle_ik(tool_centre_m, rounds=20)

    def close(self) -> None:
        pb.disconnect(self.client)


@pytest.fixture
def kinematics():
    model = Kinematics()
    yield model
    model.close()


class Running:
    """A node spun by its own executor on a thread."""

    def __init__(self, node: Node, context) -> None:
        self.node = node
        self._executor = SingleThreadedExecutor(context=context)
        self._executor.add_node(node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            self._executor.spin_once(timeout_sec=0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._executor.shutdown()


@pytest.fixture
def start_arm_sim(ros_context):
    """start(**parameters) -> the running ArmSimNode; stopped and closed afterwards."""
    running: list[Running] = []

    def start(**parameters) -> ArmSimNode:
        node = ArmSimNode(context=ros_context, parameter_overrides=[
            Parameter(name, value=value) for name, value in parameters.items()])
        running.append(Running(node, ros_context))
        return node
    yield start
    for item in running:
        item.stop()
        item.node.close()
        item.node.destroy_node()


@pytest.fixture
def probe(ros_context):
    node = Probe(ros_context)
    yield node
    node.close()


def spin_until(probe: Probe, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        probe.spinner.spin_once(timeout_sec=0.02)
    return True


def spin_for(probe: Probe, seconds: float) -> None:
    spin_until(probe, lambda: False, seconds)


def settled(probe: Probe, target_rad, tolerance_rad: float, timeout_s: float) -> bool:
    """The measured joints within ``tolerance_rad`` of the target, and still."""
    def there() -> bool:
        if not probe.joint_states:
            return False
        msg = probe.joint_states[-1]
        return (np.max(np.abs(np.array(msg.position) - target_rad)) < tolerance_rad
                and np.max(np.abs(msg.velocity)) < 0.01)
    return spin_until(probe, there, timeout_s)


def test_joint_states_and_wrench_at_the_set_rate_with_the_urdf_joints(start_arm_sim,
                                                                       probe):
    node = start_arm_sim(**{"arm_sim.publish_hz": 100.0})
    assert spin_until(probe, lambda: len(probe.joint_states) >= 5, 10)
    first = len(probe.joint_states), len(probe.wrenches)
    spin_for(probe, 2.0)
    joint_hz = (len(probe.joint_states) - first[0]) / 2.0
    wrench_hz = (len(probe.wrenches) - first[1]) / 2.0
    assert 75 <= joint_hz <= 110 and 75 <= wrench_hz <= 110, (joint_hz, wrench_hz)
    names = urdf_joint_names(robot_description(EnvConfig()))
    assert len(names) == 7 and names == arm_joint_names()
    for msg in probe.joint_states[-20:]:
        assert tuple(msg.name) == names
        assert len(msg.position) == len(msg.velocity) == len(msg.effort) == 7
    assert probe.wrenches[-1].header.frame_id == FLANGE_LINK
    # Wall-clock stamps (the node's ROS clock), as a real driver's.
    stamp = probe.joint_states[-1].header.stamp
    assert abs(stamp.sec + stamp.nanosec * 1e-9 - time.time()) < 1.0
    # Simulated time keeps up with wall time.
    rates = node.rates()
    assert 0.9 < rates["real_time_factor"] < 1.01, rates


def test_robot_description_reaches_a_late_subscriber(start_arm_sim, probe):
    start_arm_sim()
    spin_for(probe, 0.5)  # published at start-up, before this subscriber existed
    received: list[str] = []
    probe.create_subscription(String, "robot_description", lambda m: received.append(m.data),
                              LATCHED_QOS)
    assert spin_until(probe, lambda: received, 10)
    assert received[0] == robot_description(EnvConfig())


def test_position_command_moves_the_joints_there(start_arm_sim, probe):
    node = start_arm_sim()
    assert spin_until(probe, lambda: probe.joint_states, 10)
    start = probe.positions()
    assert np.allclose(start, node.arm.start_pose_rad, atol=0.01)  # held until commanded
    # Up and away from the person: shoulder and elbow raised, wrist turned.
    target = start + np.array([0.2, -0.25, 0.1, 0.25, -0.1, -0.2, 0.5])
    assert spin_until(probe, lambda: probe.commands.get_subscription_count() > 0, 10)
    probe.commands.publish(position_command(target))
    sent = time.monotonic()
    assert settled(probe, target, 0.01, 5), (probe.positions() - target)
    assert time.monotonic() - sent < 2.0
    assert node.accepted_commands == 1 and sum(node.rejected_commands.values()) == 0


def test_trajectory_first_point_is_the_target_reordered_by_joint_name(start_arm_sim, probe):
    messages = pytest.importorskip("trajectory_msgs.msg")
    trajectory, point = messages.JointTrajectory, messages.JointTrajectoryPoint
    probe.trajectories = probe.create_publisher(trajectory, TRAJECTORY_TOPIC, RELIABLE_QOS)
    node = start_arm_sim()
    assert spin_until(probe, lambda: probe.joint_states, 10)
    assert spin_until(probe, lambda: probe.trajectories.get_subscription_count() > 0, 10)
    start = probe.positions()
    names = list(arm_joint_names())
    probe.trajectories.publish(trajectory(  # a joint the arm does not have
        joint_names=[*names[:6], "elbow_of_someone_else"],
        points=[point(positions=start.tolist())]))
    assert spin_until(probe, lambda: node.rejected_commands["unknown_joint"] == 1, 5)
    assert spin_until(probe, lambda: probe.errors, 5)
    assert "elbow_of_someone_else" in probe.errors[0], probe.errors
    target = start + np.array([0.15, -0.2, 0.0, 0.2, 0.0, -0.1, -0.4])
    order = [6, 2, 0, 5, 1, 4, 3]  # any order: matched by name
    probe.trajectories.publish(trajectory(joint_names=[names[i] for i in order], points=[
        point(positions=[float(target[i]) for i in order]),
        point(positions=[0.0] * 7)]))  # later points: not this driver's
    assert settled(probe, target, 0.01, 5), (probe.positions() - target)
    assert node.accepted_commands == 1 and sum(node.rejected_commands.values()) == 1


def test_tool_hanging_free_reads_its_weight_along_gravity(start_arm_sim, probe,
                                                          kinematics):
    start_arm_sim()
    assert spin_until(probe, lambda: len(probe.wrenches) > 20 and probe.joint_states, 10)
    force, torque = wrench_vectors(probe.wrenches[-1])
    _, sensor_rot = kinematics.frame(probe.positions(), FLANGE_LINK)
    gravity_in_sensor = sensor_rot.T @ np.array([0.0, 0.0, -1.0])
    # The tool's load on the flange: its weight, pointing down.
    assert abs(np.linalg.norm(force) - TOOL_WEIGHT_N) < 0.1 * TOOL_WEIGHT_N, force
    assert np.dot(force, gravity_in_sensor) > 0.99 * np.linalg.norm(force), (
        force, gravity_in_sensor)
    # The tool's centre of mass is on the flange's axis, which hangs along gravity.
    assert np.linalg.norm(torque) < 0.05, torque


def test_pressing_the_tool_into_the_back_pushes_the_flange_up(start_arm_sim, probe,
                                                               kinematics):
    start_arm_sim()
    assert spin_until(probe, lambda: probe.joint_states, 10)
    tool_centre, _ = kinematics.frame(probe.positions(), "massage_tool")
    touching_z = kinematics.surface_below(tool_centre) + kinematics.config.tool_radius_m
    pressed = kinematics.solve([tool_centre[0], tool_centre[1], touching_z - 0.008])
    assert spin_until(probe, lambda: probe.commands.get_subscription_count() > 0, 10)
    probe.commands.publish(position_command(pressed))
    spin_for(probe, 1.5)
    force, _ = wrench_vectors(probe.wrenches[-1])
    _, sensor_rot = kinematics.frame(probe.positions(), FLANGE_LINK)
    up_in_sensor = sensor_rot.T @ np.array([0.0, 0.0, 1.0])
    pushed_up_n = float(np.dot(force, up_in_sensor))  # the back's push, less the weight
    assert 15.0 < pushed_up_n < 100.0, force
    assert np.linalg.norm(force) > 15.0


def test_malformed_commands_are_rejected_counted_logged_and_the_node_goes_on(
        start_arm_sim, probe):
    node = start_arm_sim()
    assert spin_until(probe, lambda: probe.joint_states, 10)
    assert spin_until(probe, lambda: probe.commands.get_subscription_count() > 0, 10)
    start = probe.positions()
    bad = [Float64MultiArray(data=start[:6].tolist()),                 # 6 values
           Float64MultiArray(data=[*start[:6], math.nan]),             # NaN
           Float64MultiArray(data=[*start[:6], math.inf])]             # inf
    for msg in bad:
        probe.commands.publish(msg)
    counted = {"wrong_length": 1, "non_finite": 2}
    assert spin_until(probe, lambda: {k: v for k, v in node.rejected_commands.items() if v}
                      == counted, 5), node.rejected_commands
    # One line per kind (a second of a kind within 2 s is only counted).
    assert spin_until(probe, lambda: len(probe.errors) >= 2, 5), probe.errors
    assert "rejected" in probe.errors[0] and "expected 7" in probe.errors[0], probe.errors
    assert "non-finite" in probe.errors[1], probe.errors
    spin_for(probe, 0.2)
    assert len(probe.errors) == 2, probe.errors
    # Still running, still holding its pose, still obeying a good command: here one
    # beyond joint 7's limit, which is clamped to it.
    arrived = len(probe.joint_states)
    spin_for(probe, 0.3)
    assert len(probe.joint_states) > arrived
    assert np.allclose(probe.positions(), start, atol=0.01)
    target = start.copy()
    target[6] = 10.0
    probe.commands.publish(position_command(target))
    target[6] = node.arm.limits_rad[1][6]
    assert settled(probe, target, 0.01, 5), probe.positions() - target
    assert node.clamped_commands == 1 and node.accepted_commands == 1
    assert sum(node.rejected_commands.values()) == 3


def _arm_sim_command(*ros_args: str) -> list[str]:
    return [sys.executable, "-m", "massage_td3_ros.ros.arm_sim_node", "--ros-args",
            *ros_args]


def test_executable_in_a_namespace_stops_cleanly_on_sigint(ros_context):
    process = subprocess.Popen(
        _arm_sim_command("-r", "__ns:=/bed7", "-p", "arm_sim.publish_hz:=50.0"),
        env=ros_environment(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        node = Probe(ros_context, namespace="/bed7")
        assert spin_until(node, lambda: len(node.joint_states) >= 10, 30)
        assert node.joint_states[-1].name == list(arm_joint_names())
        process.send_signal(signal.SIGINT)  # as Ctrl-C
        assert process.wait(timeout=20) == 0
        text = process.stderr.read()
        assert "/bed7/joint_states" in text and "x real time" in text, text
        node.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_an_unknown_sensor_frame_stops_start_up_with_one_line():
    result = subprocess.run(_arm_sim_command("-p", "arm_sim.sensor_frame:=elbow"),
                            env=ros_environment(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "sensor_frame" in result.stderr and "Traceback" not in result.stderr
