"""massage_sim and td3_agent over real DDS (rclpy from the PyPI wheels), in this process.

Each test has its own rclpy context (conftest.py keeps DDS on loopback with a run-unique
domain). The nodes run on one executor with a probe node standing in for the user's
tools: it counts /reward and publishes malformed actions and states.
"""

import math
import time
from pathlib import Path

import numpy as np
import pytest
from geometry_msgs.msg import Vector3Stamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Float32, Float64MultiArray

from massage_td3_ros.ros.agent_node import LOSS_TOPICS, TD3AgentNode
from massage_td3_ros.ros.common import MONITOR_QOS, RELIABLE_QOS
from massage_td3_ros.ros.sim_node import MassageSimNode
from massage_td3_ros.ros.state_message import BadStateError, StateCodec

SMALL_AGENT = [("td3.actor_hidden", [32, 32]), ("td3.critic_hidden", [32, 32]),
               ("td3.batch_size", 32), ("td3.torch_threads", 1), ("train.log_tensorboard", False),
               ("train.log_every_updates", 20),
               ("train.eval_every_episodes", 0), ("train.plot_every_episodes", 0)]


def _params(pairs) -> list[Parameter]:
    return [Parameter(name, value=value) for name, value in pairs]


class Probe(Node):
    """Counts /reward, keeps the /massage/state messages, publishes actions and states."""

    def __init__(self, context) -> None:
        super().__init__("test_probe", context=context)
        self.codec = StateCodec.for_env()
        self.rewards: list[float] = []
        self.states = []
        self.step_ends: dict[int, tuple[bool, bool]] = {}  # stamp -> (terminated, truncated)
        self.create_subscription(Float32, "/reward", lambda m: self.rewards.append(m.data),
                                 MONITOR_QOS)
        self.create_subscription(Float64MultiArray, "/massage/state", self._on_state,
                                 RELIABLE_QOS)
        self.losses: dict[str, list[float]] = {name: [] for name in LOSS_TOPICS}
        for name, values in self.losses.items():
            self.create_subscription(Float32, f"/massage/{name}",
                                     lambda m, values=values: values.append(m.data), MONITOR_QOS)
        self.actions = self.create_publisher(Vector3Stamped, "/massage/action", RELIABLE_QOS)
        self.raw_states = self.create_publisher(Float64MultiArray, "/massage/state",
                                                RELIABLE_QOS)

    def _on_state(self, msg: Float64MultiArray) -> None:
        try:
            state = self.codec.decode(msg)
        except BadStateError:
            return  # the malformed ones are the test's own
        self.states.append(state)
        if not state.first:  # the outcome of a step (re-announcements share the stamp)
            self.step_ends[state.stamp_ns] = (state.terminated, state.truncated)

    def act(self, values, stamp_ns: int) -> None:
        msg = Vector3Stamped()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        msg.vector.x, msg.vector.y, msg.vector.z = (float(v) for v in values)
        self.actions.publish(msg)


def _spin_until(executor, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        executor.spin_once(timeout_sec=0.05)
    return True


def _spin_for(executor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.02)


def _executor(ros_context, kind=SingleThreadedExecutor):
    """An executor for one test; its nodes are destroyed afterwards."""
    executor = kind(context=ros_context)
    yield executor
    for node in list(executor.get_nodes()):
        executor.remove_node(node)
        node.destroy_node()
    executor.shutdown()


@pytest.fixture(name="executor")
def executor_fixture(ros_context):
    yield from _executor(ros_context)


def _start(executor, node):
    executor.add_node(node)
    return node


def _sim_and_agent(executor, context, run_folder, steps: int, warmup: int):
    """A lock-step sim (patient: 30 s) and a small agent with this budget and warm-up."""
    sim = _start(executor, MassageSimNode(context=context, parameter_overrides=_params(
        [("sim.action_timeout_s", 30.0)])))
    agent = _start(executor, TD3AgentNode(context=context, parameter_overrides=_params(
        SMALL_AGENT + [("train.total_steps", steps), ("train.warmup_steps", warmup),
                       ("agent.run_folder", str(run_folder))])))
    return sim, agent


def test_lockstep_training_500_steps_with_malformed_actions(ros_context, executor, tmp_path):
    steps = 520
    probe = _start(executor, Probe(ros_context))
    sim, agent = _sim_and_agent(executor, ros_context, tmp_path, steps, warmup=450)
    malformed = 0
    while not agent.finished.done():
        assert _spin_until(executor, lambda: agent.finished.done() or probe.states, 20.0)
        if probe.states and malformed < 24 and sim.steps_taken >= 50 * (malformed // 3 + 1):
            stamp = probe.states[-1].stamp_ns
            probe.act([math.nan, 0.0, 0.0], stamp)        # (likely) right stamp, NaN
            probe.act([0.0, math.inf, 0.0], stamp)        # (likely) right stamp, inf
            probe.act([0.1, 0.1, 0.1], stamp + 12_345)    # finite, answers no state
            malformed += 3
        probe.states.clear()
        executor.spin_once(timeout_sec=0.05)
    assert _spin_until(executor, lambda: len(probe.rewards) >= sim.steps_taken, 5.0)
    _spin_for(executor, 0.3)  # anything extra would arrive now

    assert malformed == 24
    assert sim.dropped_actions == {"non_finite": 16, "wrong_stamp": 8}
    assert sim.steps_taken == steps == len(probe.rewards)
    assert sim.held_steps == 0
    learner = agent.session.learner
    assert len(learner.buffer) == learner.env_steps == steps
    assert learner.updates > 0 and learner.gaps == 0
    # The loss rows as topics, the default's tracking model among them; no reward model.
    # (A row is published when the node sees it; rows that come together, the last.)
    fitted = {np.float32(row["tracking_model_loss"]) for row in agent.session.logger.losses}
    published = probe.losses["tracking_model_loss"]
    assert published and len(published) == len(probe.losses["critic_loss"])
    assert {np.float32(value) for value in published} <= fitted
    assert probe.losses["reward_model_loss"] == []
    buffer = learner.buffer
    # Stored in order, each transition the one the sim published, chained state to state.
    np.testing.assert_array_equal(buffer.reward[:steps, 0], np.float32(probe.rewards))
    ends = np.array([probe.step_ends[stamp] for stamp in sorted(probe.step_ends)])
    assert len(ends) == steps
    np.testing.assert_array_equal(buffer.terminated[:steps, 0], np.float32(ends[:, 0]))
    chained = ~ends[:steps - 1].any(axis=1)
    np.testing.assert_array_equal(buffer.next_obs[:steps - 1][chained],
                                  buffer.obs[1:steps][chained])
    agent.close()
    assert (tmp_path / "checkpoints" / "final.pt").is_file()
    assert (tmp_path / "checkpoints" / "latest.pt").is_file()


def test_bad_actions_never_step_and_out_of_range_is_clamped(ros_context, executor):
    probe = _start(executor, Probe(ros_context))
    sim = _start(executor, MassageSimNode(context=ros_context, parameter_overrides=_params(
        [("sim.action_timeout_s", 30.0)])))
    assert _spin_until(executor, lambda: probe.states, 10.0)
    first = probe.states[-1]
    assert first.first and first.step == 0 and not first.held
    for values, stamp in (([math.nan] * 3, first.stamp_ns), ([0.0, -math.inf, 0.0],
                          first.stamp_ns), ([0.2, 0.2, 0.2], first.stamp_ns - 1)):
        probe.act(values, stamp)
    assert _spin_until(executor, lambda: sum(sim.dropped_actions.values()) == 3, 5.0)
    _spin_for(executor, 0.3)
    # Unanswered, the state is re-announced with its own stamp; no new state, no reward.
    assert sim.steps_taken == 0 and not probe.rewards
    assert {state.stamp_ns for state in probe.states} == {first.stamp_ns}

    probe.act([5.0, -3.0, 0.25], first.stamp_ns)
    assert _spin_until(executor, lambda: probe.states[-1].stamp_ns != first.stamp_ns, 5.0)
    assert sim.steps_taken == 1 and len(probe.rewards) == 1
    np.testing.assert_allclose(sim.last_applied_action, [1.0, -1.0, 0.25])
    assert sim.clamped_actions == 1
    second = probe.states[-1]
    assert second.step == 1 and second.episode == first.episode and not second.held
    probe.act([0.0, 0.0, 0.0], first.stamp_ns)  # a stale answer: dropped, no step
    assert _spin_until(executor, lambda: sim.dropped_actions["wrong_stamp"] == 2, 5.0)
    assert sim.steps_taken == 1


def test_step_topics_share_the_state_stamp_and_reset_service(ros_context, executor):
    from geometry_msgs.msg import PoseStamped, WrenchStamped
    from rclpy.qos import qos_profile_sensor_data
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import JointState
    from std_srvs.srv import Trigger
    from visualization_msgs.msg import MarkerArray

    probe = _start(executor, Probe(ros_context))
    seen: dict[str, list] = {"joints": [], "wrench": [], "pose": [], "markers": [],
                             "markers_best_effort": [], "clock": []}
    for key, kind, topic, qos in (
            ("joints", JointState, "/joint_states", RELIABLE_QOS),
            ("wrench", WrenchStamped, "/massage/contact_wrench", RELIABLE_QOS),
            ("pose", PoseStamped, "/massage/tool_pose", RELIABLE_QOS),
            # RViz's default subscription is reliable; plotters often take best effort.
            ("markers", MarkerArray, "/massage/contacts", RELIABLE_QOS),
            ("markers_best_effort", MarkerArray, "/massage/contacts", qos_profile_sensor_data),
            ("clock", Clock, "/clock", RELIABLE_QOS)):
        probe.create_subscription(kind, topic, seen[key].append, qos)
    sim = _start(executor, MassageSimNode(context=ros_context, parameter_overrides=_params(
        [("sim.action_timeout_s", 30.0)])))
    publishers = (sim._joints_pub, sim._wrench_pub, sim._pose_pub, sim._markers_pub)
    assert _spin_until(executor, lambda: probe.states and all(
        p.get_subscription_count() for p in publishers), 10.0)
    for step in range(3):
        probe.act([0.0, 0.0, 0.0], probe.states[-1].stamp_ns)
        assert _spin_until(executor, lambda n=step + 1: sim.steps_taken == n
                           and probe.states[-1].step == n, 5.0)
    _spin_for(executor, 0.2)
    state = probe.states[-1]
    stamp = (state.stamp_sec, state.stamp_nanosec)

    def stamped(msg):
        return (msg.header.stamp.sec, msg.header.stamp.nanosec)
    joints, wrench, pose = seen["joints"][-1], seen["wrench"][-1], seen["pose"][-1]
    assert stamped(joints) == stamped(wrench) == stamped(pose) == stamp
    assert len(joints.name) == len(joints.position) == len(joints.velocity) == 7
    assert wrench.header.frame_id == pose.header.frame_id == "world"
    assert math.isclose(math.hypot(wrench.wrench.force.x, wrench.wrench.force.y,
                                   wrench.wrench.force.z), state.info["force_n"], rel_tol=1e-3,
                        abs_tol=1e-6)
    assert seen["markers"] and seen["markers_best_effort"]
    # Simulated time: one control period per step; /clock carries the state's stamp.
    stamps = [s.stamp_ns for s in {s.stamp_ns: s for s in probe.states}.values()]
    assert np.all(np.diff(stamps) == round(1e9 / sim.env_cfg.control_hz))
    assert (seen["clock"][-1].clock.sec, seen["clock"][-1].clock.nanosec) == stamp

    client = probe.create_client(Trigger, "/massage/reset")
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(Trigger.Request())
    assert _spin_until(executor, future.done, 5.0) and future.result().success
    assert _spin_until(executor, lambda: probe.states[-1].first, 5.0)
    assert probe.states[-1].episode == state.episode + 1 and probe.states[-1].step == 0
    assert len(probe.rewards) == 3  # a reset is not a step

    # Pressing down hard trips the safety limit: final state, then the next episode's first.
    probe.states.clear()
    episode = sim._episode
    while sim._episode == episode:
        before = sim.steps_taken
        probe.act([0.0, 0.0, -1.0], sim._state_stamp_ns)
        assert _spin_until(executor, lambda b=before: sim.steps_taken > b, 5.0)
        assert sim.steps_taken < 200, "the safety limit never ended the episode"
    assert _spin_until(executor, lambda: probe.states and probe.states[-1].first, 5.0)
    unique = list({state.stamp_ns: state for state in probe.states}.values())  # no re-sends
    final, new_first = unique[-2], unique[-1]
    assert final.terminated and final.info["over_force"] == 1.0 and sim.over_force_steps == 1
    assert new_first.episode == final.episode + 1 and new_first.stamp_ns > final.stamp_ns


def test_wrong_length_state_is_ignored_with_an_error(ros_context, executor, tmp_path, capfd):
    probe = _start(executor, Probe(ros_context))
    agent = _start(executor, TD3AgentNode(context=ros_context, parameter_overrides=_params(
        SMALL_AGENT + [("agent.run_folder", str(tmp_path))])))
    assert _spin_until(executor, lambda: probe.raw_states.get_subscription_count() >= 2, 5.0)
    probe.raw_states.publish(Float64MultiArray(data=[0.0] * 10))
    assert _spin_until(executor, lambda: agent.bad_states == 1, 5.0)
    _spin_for(executor, 0.2)
    assert agent.states_received == 0 and agent.steps_answered == 0
    assert agent.session.counters()["gaps"] == 0
    assert "expected 81 float64 values: stamp_sec[1]" in capfd.readouterr().err


def test_restarted_agent_resumes_and_no_transition_spans_the_restart(ros_context, executor,
                                                                     tmp_path):
    sim = _start(executor, MassageSimNode(context=ros_context, parameter_overrides=_params(
        [("sim.action_timeout_s", 5.0)])))
    common = SMALL_AGENT + [("train.warmup_steps", 100), ("agent.run_folder", str(tmp_path))]
    first = _start(executor, TD3AgentNode(context=ros_context, parameter_overrides=_params(
        common + [("train.total_steps", 120)])))
    assert _spin_until(executor, first.finished.done, 30.0)
    first.close()
    executor.remove_node(first)
    first.destroy_node()
    steps_before = sim.steps_taken
    assert steps_before == 120

    second = _start(executor, TD3AgentNode(context=ros_context, parameter_overrides=_params(
        common + [("train.total_steps", 240)])))
    assert second.session.env_steps == 120 and len(second.session.learner.buffer) == 120
    assert _spin_until(executor, second.finished.done, 30.0)
    # The first state the new process saw did not follow its own answer: a gap. Any
    # step the sim took with a held action while nobody answered is not stored either.
    assert second.session.learner.gaps >= 1
    assert len(second.session.learner.buffer) == second.session.env_steps == 240
    assert sim.steps_taken - sim.held_steps == 240
    second.close()
    assert Path(tmp_path, "checkpoints", "final.pt").is_file()


def test_realtime_mode_steps_at_the_control_rate_and_stores_only_answered_steps(
        ros_context, executor, tmp_path):
    control_hz = 60.0
    sim = _start(executor, MassageSimNode(context=ros_context, parameter_overrides=_params(
        [("sim.mode", "realtime"), ("env.control_hz", control_hz)])))
    agent = _start(executor, TD3AgentNode(context=ros_context, parameter_overrides=_params(
        SMALL_AGENT + [("agent.run_folder", str(tmp_path)), ("train.warmup_steps", 10_000)])))
    assert _spin_until(executor, lambda: sim.steps_taken >= 1, 10.0)
    start_steps, start = sim.steps_taken, time.monotonic()
    _spin_for(executor, 2.0)
    rate_hz = (sim.steps_taken - start_steps) / (time.monotonic() - start)
    assert 0.6 * control_hz < rate_hz < 1.2 * control_hz
    # A step taken with a held (not freshly answered) action is never stored.
    assert agent.session.env_steps == len(agent.session.learner.buffer) > 0
    assert agent.session.env_steps <= sim.steps_taken - sim.held_steps
    assert agent.session.env_steps >= sim.steps_taken - sim.held_steps - 2


def test_late_joiners_get_the_robot_description_and_the_stroke(ros_context, executor):
    """RViz and robot_state_publisher start whenever they like: both latched topics
    reach a subscriber that joins after the sim published them."""
    from nav_msgs.msg import Path as PathMsg
    from std_msgs.msg import String

    from massage_td3_ros.ros.common import LATCHED_QOS

    sim = _start(executor, MassageSimNode(context=ros_context, parameter_overrides=_params(
        [("sim.action_timeout_s", 30.0)])))
    _spin_for(executor, 0.5)
    late = _start(executor, Node("late_rviz", context=ros_context))
    got: dict[str, list] = {"description": [], "stroke": []}
    late.create_subscription(String, "/robot_description", got["description"].append,
                             LATCHED_QOS)
    late.create_subscription(PathMsg, "/massage/stroke", got["stroke"].append, LATCHED_QOS)
    assert _spin_until(executor, lambda: got["description"] and got["stroke"], 10.0)
    urdf = got["description"][0].data
    assert "<robot" in urdf and 'link name="massage_tool"' in urdf
    for name in sim.env.scene.arm.joint_names:
        assert f'joint name="{name}"' in urdf
    stroke = got["stroke"][-1]
    assert stroke.header.frame_id == "world" and len(stroke.poses) > 10
    first = stroke.poses[0].pose.position
    np.testing.assert_allclose([first.x, first.y, first.z], sim.env.stroke.touch_m[0],
                               atol=1e-9)
