"""massage_bridge on arm_sim over real DDS: the task through a driver's interfaces, and
its faults.

arm_sim's sensor topics are remapped to raw/..., and a relay node in this test passes
them on to the bridge: a real sensor stream (arm_sim's PyBullet) that the test can
silence, spike or rename, as a broken cable or a wrong driver would. A probe agent
answers every state with a zero action (or a simple force controller's). Each test has a
DDS domain of its own, on loopback.
"""

import os
import random
import re
import threading
import time

import numpy as np
import pytest
import yaml
from geometry_msgs.msg import Vector3Stamped, WrenchStamped
from nav_msgs.msg import Path
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, Header, UInt64
from std_srvs.srv import Trigger
from test_ros_processes import NodeProcess

from massage_td3_ros.config import default_config_path
from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.robot_description import robot_description
from massage_td3_ros.ros import sim_messages
from massage_td3_ros.ros.common import LATCHED_QOS, RELIABLE_QOS
from massage_td3_ros.ros.state_message import StateCodec

# Domain ids for this module's tests, one each (not the run's own, conftest.py).
_DOMAINS = iter(random.SystemRandom().sample(
    [d for d in range(1, 102) if str(d) != os.environ.get("ROS_DOMAIN_ID")], 100))


@pytest.fixture(autouse=True)
def own_domain(monkeypatch):
    """A DDS domain of the test's own, on loopback: set before the test's rclpy context
    and inherited by every node process it starts."""
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    monkeypatch.setenv("ROS_DOMAIN_ID", str(next(_DOMAINS)))

INCREMENT_M = EnvConfig().action_increment_m
RAW = ["-r", "force_torque_sensor_broadcaster/wrench:=raw/wrench",
       "-r", "joint_states:=raw/joint_states"]


def robot_params(tmp_path, action_timeout_s: float = 0.1, env: dict | None = None,
                 **bridge) -> str:
    """config/hardware_sim.yaml with 3 s episodes, the given env values for the bridge,
    and the given bridge values."""
    document = yaml.safe_load(default_config_path().with_name("hardware_sim.yaml").read_text())
    params = document["/**/massage_bridge"]["ros__parameters"]
    params["env"].update({"episode_time_s": 3.0, **(env or {})})
    params["sim"]["action_timeout_s"] = action_timeout_s
    params["bridge"].update({"start_timeout_s": 20.0, **bridge})
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(document))
    return str(path)


class Relay(Node):
    """Passes arm_sim's raw sensor topics to the bridge, unless told otherwise."""

    def __init__(self, context) -> None:
        super().__init__("sensor_relay", context=context)
        self.forward_wrench = self.forward_joints = True
        self.extra_force_n = np.zeros(3)
        self.joint_prefix = ""
        self._wrench = self.create_publisher(WrenchStamped, "force_torque_sensor_broadcaster/"
                                             "wrench", RELIABLE_QOS)
        self._joints = self.create_publisher(JointState, "joint_states", RELIABLE_QOS)
        self.create_subscription(WrenchStamped, "raw/wrench", self._on_wrench,
                                 qos_profile_sensor_data)
        self.create_subscription(JointState, "raw/joint_states", self._on_joints,
                                 qos_profile_sensor_data)

    def _on_wrench(self, msg: WrenchStamped) -> None:
        if self.forward_wrench:
            msg.wrench.force.x += float(self.extra_force_n[0])
            msg.wrench.force.y += float(self.extra_force_n[1])
            msg.wrench.force.z += float(self.extra_force_n[2])
            self._wrench.publish(msg)

    def _on_joints(self, msg: JointState) -> None:
        if self.forward_joints:
            msg.name = [self.joint_prefix + name for name in msg.name]
            self._joints.publish(msg)


class ProbeAgent(Node):
    """Answers each new state with a zero action, or ``policy(state)`` when set; keeps
    the decoded states, commands and the strokes on massage/stroke."""

    def __init__(self, context) -> None:
        super().__init__("probe_agent", context=context)
        self.codec = StateCodec.for_env()
        self.states, self.commands, self.strokes = [], [], []
        self.policy = None
        self._answered: set[int] = set()
        self.create_subscription(Path, "massage/stroke", self.strokes.append, LATCHED_QOS)
        self._action = self.create_publisher(Vector3Stamped, "massage/action", RELIABLE_QOS)
        self.create_subscription(Float64MultiArray, "massage/state", self._on_state,
                                 RELIABLE_QOS)
        self.create_subscription(Float64MultiArray, "forward_position_controller/commands",
                                 lambda msg: self.commands.append(
                                     (time.monotonic(), list(msg.data))), RELIABLE_QOS)
        self.reset = self.create_client(Trigger, "massage/reset")

    def _on_state(self, msg) -> None:
        state = self.codec.decode(msg)
        if state.stamp_ns in self._answered:
            return
        self._answered.add(state.stamp_ns)
        self.states.append(state)
        if state.terminated or state.truncated:
            return
        answer = Vector3Stamped()
        answer.header.stamp.sec, answer.header.stamp.nanosec = state.stamp_sec, \
            state.stamp_nanosec
        if self.policy is not None:
            answer.vector.x, answer.vector.y, answer.vector.z = (
                float(v) for v in self.policy(state))
        self._action.publish(answer)


@pytest.fixture
def rig(ros_context, tmp_path):
    """arm_sim (raw sensor topics) + relay + probe agent; ``start_bridge(**bridge)``."""
    executor = SingleThreadedExecutor(context=ros_context)
    relay, probe = Relay(ros_context), ProbeAgent(ros_context)
    for node in (relay, probe):
        executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    started = [NodeProcess("arm_sim_node", robot_params(tmp_path), {}, extra_args=RAW)]

    def start_bridge(extra_args=(), **bridge) -> NodeProcess:
        process = NodeProcess("bridge_node", robot_params(tmp_path, **bridge), {},
                              extra_args=extra_args)
        started.append(process)
        return process

    yield relay, probe, start_bridge
    for process in reversed(started):
        process.kill()
    executor.shutdown(timeout_sec=1.0)


def wait_until(condition, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_the_bridge_runs_episodes_at_the_control_rate(rig):
    relay, probe, start_bridge = rig
    bridge = start_bridge()
    assert wait_until(lambda: len(probe.states) > 120, 40), bridge.text
    first = probe.states[0]
    assert first.first and first.step == 0
    steps = [s.step for s in probe.states[:60]]
    assert steps == list(range(60))
    ends = [s for s in probe.states if s.truncated]
    assert ends and ends[0].step == 90  # 3 s at 30 Hz, then the next stroke
    stamps = np.array([s.stamp_ns for s in probe.states[5:60]]) * 1e-9
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert 24.0 < rate < 31.0, rate   # the control grid: 30 Hz of wall time
    assert max(s.info["over_force"] for s in probe.states) == 0.0
    forces = [s.info["force_n"] for s in probe.states[10:80]]
    assert 3.0 < np.mean(forces) < 30.0  # the tool on the back, read from the F/T sensor
    # It timed every answer from its state to the joint command, and says so at the end.
    answered = len(probe.states)
    assert bridge.stop() == 0, bridge.text
    latency = re.search(r"state-to-command latency p50 ([\d.]+) ms, p99 ([\d.]+) ms, max "
                        r"([\d.]+) ms over (\d+) control steps", bridge.text)
    assert latency, bridge.text
    p50, p99, most, steps = (float(v) for v in latency.groups())
    assert 0.5 * answered <= steps <= answered + 5
    assert 0.0 < p50 <= p99 <= most


def test_a_launch_files_node_name_names_the_bridge_only(rig):
    relay, probe, start_bridge = rig
    # launch_ros's Node(name=...) passes __node:=, which renames every node of a process:
    # the bridge's driver I/O node must keep its own name.
    bridge = start_bridge(extra_args=["-r", "__node:=massage_bridge"])
    assert wait_until(lambda: len(probe.states) > 5, 40), bridge.text
    names = probe.get_node_names()
    assert names.count("massage_bridge") == 1, names
    assert "massage_bridge_driver_io" in names, names


def test_the_twin_from_the_drivers_robot_description_runs_the_same_task(rig):
    # arm_sim publishes its URDF (world root, tool) on robot_description, as a driver does.
    relay, probe, start_bridge = rig
    bridge = start_bridge(urdf_source="topic")
    assert wait_until(lambda: len(probe.states) > 60, 40), bridge.text
    assert "robot URDF from /robot_description" in bridge.text
    assert "placed by the URDF's own world root, tool its own" in bridge.text
    assert [s.step for s in probe.states[:40]] == list(range(40))
    assert max(s.info["over_force"] for s in probe.states) == 0.0
    forces = [s.info["force_n"] for s in probe.states[10:60]]
    assert 3.0 < np.mean(forces) < 30.0


def test_a_urdf_file_that_does_not_fit_stops_the_bridge_with_exit_code_2(rig, tmp_path):
    relay, probe, start_bridge = rig
    urdf = tmp_path / "six_joints.urdf"
    urdf.write_text(robot_description().replace(
        '<joint name="lbr_iiwa_joint_7" type="revolute">',
        '<joint name="lbr_iiwa_joint_7" type="fixed">'))
    bridge = start_bridge(urdf_source="file", urdf_file=str(urdf))
    assert bridge.process.wait(timeout=40) == 2, bridge.text
    assert "6 movable joints" in bridge.text


def test_the_sims_force_governor_is_refused_by_the_bridge_with_exit_code_2(tmp_path):
    """It models a driver's force stop inside the simulation; a bridge that ignored it
    would leave a user believing a limit acts that does not."""
    bridge = NodeProcess("bridge_node", robot_params(tmp_path, env={"force_governor_n": 38.0}),
                         {})
    try:
        code = bridge.process.wait(timeout=40)
    finally:
        bridge.kill()  # and the whole of stderr read
    assert code == 2, bridge.text
    assert "force_governor_n" in bridge.text


def test_an_over_force_spike_retracts_ends_the_episode_and_waits_for_reset(rig):
    relay, probe, start_bridge = rig
    bridge = start_bridge()
    assert wait_until(lambda: len(probe.states) > 20, 40), bridge.text
    relay.extra_force_n = np.array([0.0, 0.0, 100.0])  # one hard push on the sensor
    assert wait_until(lambda: any(s.terminated for s in probe.states), 5), bridge.text
    relay.extra_force_n = np.zeros(3)
    end = next(s for s in probe.states if s.terminated)
    assert end.info["over_force"] == 1.0
    assert bridge.wait_for(r"above the hard limit 45 N: retracting", 5), bridge.text
    assert bridge.wait_for(r"call /massage/reset to start the next episode", 5), bridge.text
    count = len(probe.states)
    time.sleep(1.0)
    assert len(probe.states) == count  # nothing moves until the reset
    assert probe.reset.wait_for_service(timeout_sec=5)
    future = probe.reset.call_async(Trigger.Request())
    assert wait_until(future.done, 30) and future.result().success
    assert wait_until(lambda: len(probe.states) > count and probe.states[count].first, 30)


def test_a_spike_between_two_control_periods_is_the_next_periods_over_force(ros_context):
    # The force watch sees every wrench message; one that trips the limit while no period
    # runs (the task between its read and the next command) must not be lost from the
    # peak, or the episode would end on a fault with over_force 0: a silent crossing.
    from massage_td3_ros.config import BridgeConfig
    from massage_td3_ros.ros.arm_link import ArmLink
    from massage_td3_ros.ros.driver_interfaces import arm_joint_names

    link = ArmLink(ros_context, "link_under_test", arm_joint_names(), BridgeConfig(),
                   tool_mass_kg=0.3, force_limit_n=45.0)
    sensor = Node("spiking_sensor", context=ros_context)
    publisher = sensor.create_publisher(WrenchStamped, BridgeConfig().wrench_topic,
                                        RELIABLE_QOS)
    try:
        assert link.end_period() == (0.0, False)
        spike = WrenchStamped()
        spike.wrench.force.z = 80.0   # the tool pushed hard against the flange
        assert wait_until(lambda: publisher.get_subscription_count() > 0, 10)
        # The watch subscribes best effort: repeat until one arrives, then let any
        # message in flight land before the period ends.
        end = time.monotonic() + 10
        while link.fault is None and time.monotonic() < end:
            publisher.publish(spike)
            time.sleep(0.05)
        assert link.fault == "over_force"
        time.sleep(0.3)
        peak, fault = link.end_period()
        assert fault and peak > 45.0, peak
        assert link.end_period()[0] == 0.0   # counted once, in one period
    finally:
        link.close()
        sensor.destroy_node()


def test_a_silent_wrench_holds_then_retracts(rig):
    relay, probe, start_bridge = rig
    bridge = start_bridge()
    assert wait_until(lambda: len(probe.states) > 20, 40), bridge.text
    relay.forward_wrench = False
    assert bridge.wait_for(r"holding the arm", 5), bridge.text
    assert bridge.wait_for(r"silent for .* retracted the tool; the episode ends", 5), \
        bridge.text
    assert wait_until(lambda: any(s.terminated for s in probe.states), 5)
    assert bridge.wait_for(r"fault \(sensors_silent\)", 5), bridge.text


def test_stopped_joint_states_hold_then_retract(rig):
    relay, probe, start_bridge = rig
    bridge = start_bridge()
    assert wait_until(lambda: len(probe.states) > 20, 40), bridge.text
    relay.forward_joints = False
    assert bridge.wait_for(r"silent for .* retracted the tool; the episode ends", 5), \
        bridge.text
    assert wait_until(lambda: any(s.terminated for s in probe.states), 5)


def test_a_command_topic_nobody_listens_to_is_named_once(rig):
    relay, probe, start_bridge = rig
    bridge = start_bridge(controller="no_such_controller")
    assert bridge.wait_for(r"nobody subscribes /no_such_controller/commands", 40), bridge.text
    time.sleep(1.0)
    assert sum("nobody subscribes" in line for line in bridge.lines) == 1


def test_joint_names_unlike_the_urdf_stop_the_bridge_with_exit_code_2(rig):
    relay, probe, start_bridge = rig
    relay.joint_prefix = "other_robot_"
    bridge = start_bridge()
    assert bridge.process.wait(timeout=40) == 2, bridge.text
    assert "do not include the URDF's arm joints" in bridge.text


def test_without_a_driver_the_bridge_exits_2_naming_the_topics(tmp_path):
    bridge = NodeProcess("bridge_node", robot_params(tmp_path, start_timeout_s=1.0), {},
                         namespace="no_robot_here")
    try:
        assert bridge.process.wait(timeout=30) == 2, bridge.text
        assert "no joint states and no wrench within 1 s on joint_states / " \
               "force_torque_sensor_broadcaster/wrench: is the arm's driver running?" \
               in bridge.text
    finally:
        bridge.kill()


def test_a_policy_scores_through_the_hardware_sim_as_in_the_sim(tmp_path):
    """`massage-td3 launch --hardware-sim` (arm_sim + bridge + agent, wall-clock time)
    scores a policy trained on massage_sim close to the in-process evaluation of the
    same fixed episode: the same steps (+/-1) and over-force count, the RMS force error
    within 30 % or 0.5 N (the bridge reads the F/T sensor, the sim the contact
    forces; docs/ros.md has the full-length comparison)."""
    import json
    import subprocess
    import sys

    import torch
    from test_ros_launcher import small_params

    # Steps of 4 mm on both paths: a pressing 300-step policy then crosses the force
    # limit within a step or two, so the step counts compare sharply. At the default
    # 2 mm the force nears the limit at 1.5-2.5 N per step, and the F/T sensor's few
    # newtons of difference from the contact force (friction, tool inertia) move the
    # crossing by 2-4 steps on a loaded machine (3 of 9 runs, session 13).
    # Plain TD3, whose 300-step policy presses: the tracking model's (the package
    # default) already tracks near 20 N after 300 steps, and then the bridge path ended
    # on over-force mid-episode where the in-process sim never did (2 runs of 4, session
    # 25; docs/ros.md), which this comparison cannot resolve.
    params = small_params(tmp_path, warmup_steps=100, env={"action_increment_m": 0.004},
                          td3={"tracking_model_weight": 0.0, "tracking_entry": -1})
    common = [sys.executable, "-m", "massage_td3_ros.cli"]
    run = tmp_path / "run"
    trained = subprocess.run(common + ["launch", "--config", str(params), "--steps", "300",
                                       "--out", str(run)], capture_output=True, text=True,
                             timeout=180)
    assert trained.returncode == 0, trained.stderr
    checkpoint = str(run / "checkpoints" / "final.pt")
    # A generous answer timeout: on a loaded test machine a late answer must not turn
    # into a held step (which the sim, in lockstep, never has).
    hardware = subprocess.run(common + ["launch", "--hardware-sim", "--robot-config",
                                        robot_params(tmp_path, action_timeout_s=1.0,
                                                     env={"action_increment_m": 0.004}),
                                        "--config", str(params),
                                        "--mode", "eval", "--checkpoint", checkpoint,
                                        "--eval-episodes", "1", "--out", str(tmp_path / "hw")],
                              capture_output=True, text=True, timeout=180)
    assert hardware.returncode == 0, hardware.stderr
    over_ros = json.loads((tmp_path / "hw" / "evaluation.json").read_text())["aggregate"]
    # the bridge applies no force governor (a real driver's is its own): the same plant
    in_process = subprocess.run(common + ["eval", "--config", str(params), "--checkpoint",
                                          checkpoint, "--episodes", "1", "--set",
                                          "env.randomize=false", "--set",
                                          "env.episode_time_s=3", "--set",
                                          "env.force_governor_n=0", "--json",
                                          str(tmp_path / "sim.json")],
                                capture_output=True, text=True, timeout=180)
    assert in_process.returncode == 0, in_process.stderr
    # the sim announced how it reads actions and the checkpoint recorded it: scored the
    # same way in process, without the warning a checkpoint without them gets
    assert "records no action settings" not in in_process.stderr
    recorded = json.loads(torch.load(checkpoint, weights_only=False)["meta"])
    assert recorded["config"]["action"]["action_increment_m"] == 0.004
    in_sim = json.loads((tmp_path / "sim.json").read_text())["aggregate"]
    # (a 300-step policy may press too hard: then both end on over-force, at one step)
    assert abs(over_ros["steps"] - in_sim["steps"]) <= 1
    assert over_ros["over_force_steps"] == in_sim["over_force_steps"]
    difference = abs(over_ros["rms_force_error_n"] - in_sim["rms_force_error_n"])
    assert difference <= max(0.5, 0.3 * in_sim["rms_force_error_n"]), (over_ros, in_sim)


# ---- taught strokes ---------------------------------------------------------------------
TAUGHT_TOPIC = "massage/taught_stroke"


@pytest.fixture(scope="module")
def nominal_touch():
    """The nominal person's along-spine touch points and normals (dense, one per control
    step, start to end), as someone teaching on arm_sim's person would record them."""
    from massage_td3_ros.env import MassageEnv

    env = MassageEnv(randomize=False, kneading_amplitude_m=0.0, stroke="along_spine",
                     stroke_direction="forward")
    try:
        env.reset(seed=0)
        end = int(np.argmax(env.stroke.progress))   # where it turns back
        return env.stroke.touch_m[:end + 1].copy(), env.stroke.normal[:end + 1].copy()
    finally:
        env.close()


def taught_path(points, normals, frame: str = "world", every: int = 10) -> Path:
    """A taught stroke as the bridge takes it: positions = touch points, z = normals;
    every ``every``-th point and the last."""
    keep = np.unique(np.r_[0:len(points):every, len(points) - 1])
    return sim_messages.stroke_path(Header(frame_id=frame), points[keep], normals[keep],
                                    every=1)


def force_controller(state) -> np.ndarray:
    """Integral force control in increment mode: move the tool target down (world z) by
    half the depth that would close the force error on the nominal 2 N/mm tissue, in
    the bridge's increments (hardware_sim.yaml keeps the default)."""
    error_n = state.info["target_force_n"] - state.info["force_n"]
    return np.clip([0.0, 0.0, -0.5 * error_n / 2000.0 / INCREMENT_M], -1.0, 1.0)


def stroke_points(path: Path) -> np.ndarray:
    return sim_messages.path_polyline(path)[0]


def test_a_taught_stroke_drives_episodes_through_the_bridge(rig, ros_context, nominal_touch):
    """A Path published once before the bridge starts (transient local) is the stroke:
    an episode runs on it on the control grid, in massage_sim's state layout, with the
    surface taken from the path (no tissue region), and a simple force controller holds
    the target."""
    relay, probe, start_bridge = rig
    points, normals = nominal_touch
    teacher = Node("teacher", context=ros_context)
    try:
        taught = taught_path(points, normals)
        teacher.create_publisher(Path, TAUGHT_TOPIC, LATCHED_QOS).publish(taught)
        probe.policy = force_controller
        bridge = start_bridge(stroke_source="taught")
        assert bridge.wait_for(r"taught stroke on /massage/taught_stroke: \d+ poses, "
                               r"[\d.]+ m; the first episode starts", 60), bridge.text
        assert wait_until(lambda: any(s.truncated for s in probe.states), 60), bridge.text
    finally:
        teacher.destroy_node()
    episode = [s for s in probe.states if s.episode == probe.states[0].episode]
    assert episode[0].first and [s.step for s in episode] == list(range(91)), bridge.text
    assert episode[-1].truncated and not any(s.terminated for s in episode)
    assert all(s.info["tissue_region"] == -1.0 for s in episode)   # the taught surface
    assert max(s.info["over_force"] for s in episode) == 0.0
    # After the first second (the controller closing the initial 12 N error): the
    # measured force near the target, 1.5 N RMS and every step within the 5 N comfort
    # band. Measured here: 0.63 N RMS, 1.6 N at most, with a training run on the same
    # 2 cores; a policy through the bridge on the body-model stroke reads 1.15 N RMS
    # (docs/ros.md): the F/T sensor at 125 Hz carries friction and tool inertia.
    errors = np.array([s.info["force_n"] - s.info["target_force_n"] for s in episode[30:]])
    assert np.sqrt(np.mean(errors ** 2)) < 1.5, errors.round(2)
    assert np.max(np.abs(errors)) < 5.0, errors.round(2)
    # massage/stroke shows the taught stroke: from its first point, on its polyline,
    # with its normals.
    used, used_normals = sim_messages.path_polyline(probe.strokes[-1])
    np.testing.assert_allclose(used[0], points[0], atol=1e-9)
    for point, normal in zip(used, used_normals, strict=True):
        distance_m, taught_normal = on_polyline(point, taught)
        assert distance_m < 1e-6 and normal @ taught_normal > 1.0 - 1e-9


def on_polyline(point, path: Path) -> tuple[float, np.ndarray]:
    """Distance of ``point`` from the polyline of ``path``'s positions, and the normal
    (pose z axis) interpolated there."""
    vertices, normals = sim_messages.path_polyline(path)
    starts, segments = vertices[:-1], np.diff(vertices, axis=0)
    t = np.clip(np.einsum("ij,ij->i", point - starts, segments)
                / np.einsum("ij,ij->i", segments, segments), 0.0, 1.0)
    distances = np.linalg.norm(starts + t[:, None] * segments - point, axis=1)
    i = int(np.argmin(distances))
    normal = (1.0 - t[i]) * normals[i] + t[i] * normals[i + 1]
    return float(distances[i]), normal / np.linalg.norm(normal)


def test_bad_taught_strokes_are_rejected_and_a_new_one_replaces_the_stroke(
        rig, ros_context, nominal_touch):
    """Without a stroke the bridge waits and says where; a path in another frame and one
    with a single pose are rejected, counted and logged, the node runs on; a valid one
    starts the episodes (at the index an agent asked for meanwhile) and a later one is
    the stroke from the next episode on."""
    relay, probe, start_bridge = rig
    points, normals = nominal_touch
    teacher = Node("teacher", context=ros_context)
    publisher = teacher.create_publisher(Path, TAUGHT_TOPIC, LATCHED_QOS)
    teacher.create_publisher(UInt64, "massage/next_episode", LATCHED_QOS).publish(
        UInt64(data=5))   # an agent that has seen episodes 0-4
    try:
        bridge = start_bridge(stroke_source="taught")
        assert bridge.wait_for(r"waiting for a taught stroke \(nav_msgs/Path in 'world'\) "
                               r"on /massage/taught_stroke", 60), bridge.text
        assert wait_until(lambda: publisher.get_subscription_count() > 0, 30)
        publisher.publish(taught_path(points, normals, frame="map"))
        assert bridge.wait_for(r"rejected the taught stroke on /massage/taught_stroke "
                               r"\(frame\): in frame 'map'; the bridge works in 'world'", 10), \
            bridge.text
        publisher.publish(taught_path(points[:1], normals[:1]))
        assert bridge.wait_for(r"\(too_few_points\): taught stroke: 1 point\(s\).* 2 rejected "
                               r"so far \{'frame': 1, 'too_few_points': 1\}", 10), bridge.text
        time.sleep(1.0)
        assert bridge.process.poll() is None and not probe.states, bridge.text
        publisher.publish(taught_path(points, normals))
        assert bridge.wait_for(r"the first episode starts", 30), bridge.text
        assert wait_until(lambda: len(probe.states) > 10, 60), bridge.text
        first_stroke = stroke_points(probe.strokes[-1])
        # While episode 5 runs: a bad path changes nothing, a shorter valid one (the
        # first 6 cm) is the stroke from episode 6 on.
        publisher.publish(taught_path(points[:1], normals[:1]))
        assert bridge.wait_for(r"3 rejected so far", 10), bridge.text
        short = int(np.argmax(np.linalg.norm(points - points[0], axis=1) >= 0.06))
        publisher.publish(taught_path(points[:short + 1], normals[:short + 1], every=5))
        assert bridge.wait_for(r"new taught stroke on /massage/taught_stroke: .* replaces "
                               r"the stroke from the next episode on \(after episode 5\)",
                               10), bridge.text
        assert wait_until(lambda: any(s.episode == 6 and s.step > 5 for s in probe.states),
                          60), bridge.text
    finally:
        teacher.destroy_node()
    assert bridge.process.poll() is None
    assert probe.states[0].episode == 5 and "leaving episode" not in bridge.text
    first = [s.step for s in probe.states if s.episode == 5]
    assert first == list(range(91))   # the rejected path did not disturb it
    second_stroke = stroke_points(probe.strokes[-1])
    reach = [np.max(np.linalg.norm(p - p[0], axis=1)) for p in (first_stroke, second_stroke)]
    assert reach[0] > 0.12 and 0.05 < reach[1] < 0.065, reach   # forth and back on 6 cm
