"""Faults and bad input over real DDS (in this process, one executor): another node's
actions on the right stamp, absurd and badly stamped states, a sim that goes away and
a new one that must not repeat episodes, and the over-force count."""

import time

import numpy as np
import pytest
from geometry_msgs.msg import Vector3Stamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float64MultiArray, String, UInt64
from test_ros_nodes import (
    SMALL_AGENT,
    Probe,
    _executor,
    _params,
    _sim_and_agent,
    _spin_for,
    _spin_until,
    _start,
    executor_fixture,  # noqa: F401 - provides the executor fixture
)

from massage_td3_ros.ros import sim_node
from massage_td3_ros.ros.agent_node import TD3AgentNode
from massage_td3_ros.ros.common import LATCHED_QOS, RELIABLE_QOS
from massage_td3_ros.ros.sim_node import MassageSimNode
from massage_td3_ros.ros.state_message import StateCodec

DEEP = QoSProfile(depth=5000, reliability=ReliabilityPolicy.RELIABLE)


class NodeOrderExecutor(SingleThreadedExecutor):
    """Runs the callbacks that are ready together node by node in the order the nodes
    were added (rclpy's own order follows a set, so it changes from run to run): a
    test decides who answers a state first."""

    def __init__(self, *, context) -> None:
        super().__init__(context=context)
        self._rank: dict[int, int] = {}

    def add_node(self, node) -> bool:
        self._rank.setdefault(id(node), len(self._rank))
        return super().add_node(node)

    def get_nodes(self) -> list:
        return sorted(super().get_nodes(), key=lambda node: self._rank[id(node)])


@pytest.fixture
def ordered_executor(ros_context):
    yield from _executor(ros_context, NodeOrderExecutor)


class Rival(Node):
    """Answers some states before (or alongside) the agent with actions of its own, and
    records every state and every action on the topics."""

    def __init__(self, context) -> None:
        super().__init__("test_rival", context=context)
        self.codec = StateCodec.for_env()
        self.states: dict[int, object] = {}            # stamp -> state (first copy)
        self.actions: dict[tuple[int, str], np.ndarray] = {}  # (stamp, frame) -> values
        self.sent = 0
        self._pub = self.create_publisher(Vector3Stamped, "/massage/action", RELIABLE_QOS)
        self.create_subscription(Float64MultiArray, "/massage/state", self._on_state, DEEP)
        self.create_subscription(Vector3Stamped, "/massage/action", self._on_action, DEEP)
        self.rng = np.random.default_rng(11)

    def _on_state(self, msg) -> None:
        state = self.codec.decode(msg)
        if state.stamp_ns in self.states:
            return
        self.states[state.stamp_ns] = state
        if state.last or state.step % 3 != 1:
            return
        values = self.rng.uniform(-1, 1, 3)
        if state.step % 9 == 4:
            values[0] = 1.5   # clamped by the sim: applied as 1.0
        action = Vector3Stamped()
        action.header.stamp.sec, action.header.stamp.nanosec = (state.stamp_sec,
                                                                state.stamp_nanosec)
        action.header.frame_id = "rival"
        action.vector.x, action.vector.y, action.vector.z = (float(v) for v in values)
        self._pub.publish(action)
        self.sent += 1

    def _on_action(self, msg) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.actions[(stamp, msg.header.frame_id)] = np.array(
            [msg.vector.x, msg.vector.y, msg.vector.z])


def test_steps_taken_with_another_node_s_action_are_never_stored(
        ros_context, ordered_executor, tmp_path, capfd):
    executor = ordered_executor
    steps = 240
    # Added first, so its answer to a state goes out before the agent's (which the sim
    # then drops as the answer to a state already stepped).
    rival = _start(executor, Rival(ros_context))
    sim, agent = _sim_and_agent(executor, ros_context, tmp_path, steps, warmup=10_000)
    assert _spin_until(executor, agent.finished.done, 60.0)
    _spin_for(executor, 0.3)

    # What happened, from the topics: the steps the sim took with an action that is not
    # the one the agent sent for the previous state.
    states = sorted(rival.states.values(), key=lambda s: s.stamp_ns)
    foreign = 0
    for before, after in zip(states, states[1:]):
        if after.first or after.held or after.episode != before.episode:
            continue
        mine = rival.actions.get((before.stamp_ns, "action"))
        if mine is not None and not np.array_equal(after.applied_action, mine):
            foreign += 1
    assert rival.sent > 30 and foreign > 20 and sim.clamped_actions > 0
    assert agent.foreign_actions == foreign

    # Every stored transition's action is the action the sim applied to reach next_obs.
    buffer = agent.session.learner.buffer
    assert len(buffer) == agent.session.env_steps == steps
    applied_by_obs = {s.obs.tobytes(): s.applied_action for s in states if not s.first}
    differ = sum(not np.array_equal(applied_by_obs[buffer.next_obs[i].tobytes()],
                                    buffer.action[i].astype(np.float64))
                 for i in range(steps))
    assert differ == 0
    agent.close()
    err = capfd.readouterr().err
    assert f"foreign-action steps {foreign}" in err
    assert "was taken with" in err and "not this agent's" in err


BAD_VALUES = [("obs", 21, 1e39, "out_of_range"), ("obs", 3, 1e30, "out_of_range"),
              ("reward", 0, 1e39, "out_of_range"), ("reward", 0, 1e30, "out_of_range"),
              ("stamp_nanosec", 0, -1.0, "stamp"), ("stamp_sec", 0, 2.0**31, "stamp"),
              ("step", 0, 0.5, "out_of_range")]


def test_absurd_and_badly_stamped_states_are_rejected_counted_and_never_answered(
        ros_context, executor, tmp_path, capfd):
    probe = _start(executor, Probe(ros_context))
    answers: list = []
    probe.create_subscription(Vector3Stamped, "/massage/action", answers.append, RELIABLE_QOS)
    agent = _start(executor, TD3AgentNode(context=ros_context, parameter_overrides=_params(
        SMALL_AGENT + [("agent.run_folder", str(tmp_path))])))
    assert _spin_until(executor, lambda: probe.raw_states.get_subscription_count() >= 2, 5.0)
    codec = probe.codec
    rng = np.random.default_rng(3)

    def state(step: int, replace: dict | None = None) -> Float64MultiArray:
        msg = codec.encode(
            stamp_sec=10, stamp_nanosec=1000 + step, episode=0, step=step, first=step == 0,
            terminated=False, truncated=False, held=False, applied_action=np.zeros(3),
            reward=-0.5, obs=rng.uniform(-0.5, 0.5, codec.obs_dim) + 0.5, info={
                key: 0.0 for key in codec.info_keys})
        data = np.array(msg.data)
        for (label, index), value in (replace or {}).items():
            dim = next(d for d in msg.layout.dim if d.label == label)
            data[dim.stride + index] = value
        msg.data = data
        return msg

    for step, (label, index, value, _) in enumerate(BAD_VALUES):
        probe.raw_states.publish(state(step, {(label, index): value}))
    expected = {}
    for *_, reason in BAD_VALUES:
        expected[reason] = expected.get(reason, 0) + 1
    assert _spin_until(executor, lambda: agent.bad_states == len(BAD_VALUES), 5.0)
    _spin_for(executor, 0.2)
    assert {k: v for k, v in agent.bad_states_by_reason.items() if v} == expected
    assert agent.states_received == agent.steps_answered == 0 and not answers
    # Still alive and answering: a good state gets its action.
    probe.raw_states.publish(state(0))
    assert _spin_until(executor, lambda: answers, 5.0)
    assert agent.steps_answered == 1 and answers[0].header.stamp.nanosec == 1000
    err = capfd.readouterr().err
    # The first rejection is logged with what and where (then throttled).
    assert "obs[21] (force) = 1e+39 is not in [0, 5]" in err
    agent.close()
    assert "bad states 7 {'stamp': 2, 'out_of_range': 5}" in capfd.readouterr().err


def test_a_new_sim_continues_the_episode_sequence_after_the_old_one_went_away(
        ros_context, executor, tmp_path, capfd):
    sim_params = [("sim.action_timeout_s", 30.0), ("env.episode_time_s", 0.5)]
    probe = _start(executor, Probe(ros_context))
    first = _start(executor, MassageSimNode(context=ros_context,
                                            parameter_overrides=_params(sim_params)))
    agent = _start(executor, TD3AgentNode(context=ros_context, parameter_overrides=_params(
        SMALL_AGENT + [("agent.run_folder", str(tmp_path)), ("train.warmup_steps", 10_000)])))
    # Into the middle of the 4th episode (15 steps each).
    assert _spin_until(executor, lambda: agent.next_episode >= 4 and first._step >= 5, 60.0)
    seen = {state.episode for state in probe.states}
    executor.remove_node(first)
    first.close()
    first.destroy_node()
    capfd.readouterr()
    # Gone mid-run: the agent says so, with the time of the last state.
    _spin_for(executor, 6.5)
    err = capfd.readouterr().err
    assert "waiting for /massage/state: nothing for" in err and "since the last state" in err
    assert "1 publisher(s)" in err  # the probe's (it can publish states too)

    probe.states.clear()
    expected_next = max(seen) + 1
    assert agent.next_episode == expected_next
    second = _start(executor, MassageSimNode(context=ros_context,
                                             parameter_overrides=_params(sim_params)))
    assert _spin_until(executor, lambda: len({s.episode for s in probe.states}) >= 3, 30.0)
    episodes = [state.episode for state in probe.states]
    # Its very first state already continues the sequence: no episode draw repeats.
    assert episodes[0] == expected_next and probe.states[0].first
    assert min(episodes) == expected_next and not set(episodes) & seen
    assert agent.session.learner.gaps >= 1  # the episode cut by the sim's end
    second.close()


def test_a_sim_leaves_an_episode_the_agent_has_already_seen(ros_context, executor, capfd):
    """The latched value can also arrive after the sim's first steps (discovery order):
    the sim then leaves the repeated episode at once."""
    probe = _start(executor, Probe(ros_context))
    sim = _start(executor, MassageSimNode(context=ros_context, parameter_overrides=_params(
        [("sim.action_timeout_s", 30.0)])))
    for step in range(3):
        assert _spin_until(executor, lambda n=step: probe.states and
                           probe.states[-1].step == n, 10.0)
        probe.act([0.0, 0.0, 0.0], probe.states[-1].stamp_ns)
    assert _spin_until(executor, lambda: sim._step == 3, 5.0)
    assert sim._episode == 0
    expects = probe.create_publisher(UInt64, "/massage/next_episode", LATCHED_QOS)
    expects.publish(UInt64(data=7))
    assert _spin_until(executor, lambda: probe.states[-1].first
                       and probe.states[-1].episode == 7, 5.0)
    assert "seen episodes up to 6: leaving episode 0 (step 3) for episode 7" in \
        capfd.readouterr().err
    expects.publish(UInt64(data=3))  # lower: changes nothing
    _spin_for(executor, 0.3)
    assert sim._episode == 7


def test_over_force_count_is_published_latched_and_logged(ros_context, executor, capfd,
                                                          monkeypatch):
    monkeypatch.setattr(sim_node, "OVER_FORCE_LOG_S", 0.3)
    probe = _start(executor, Probe(ros_context))
    sim = _start(executor, MassageSimNode(context=ros_context, parameter_overrides=_params(
        [("sim.action_timeout_s", 30.0)])))
    assert _spin_until(executor, lambda: probe.states, 10.0)
    while sim.over_force_steps == 0:  # press down until the safety limit trips
        before = sim.steps_taken
        probe.act([0.0, 0.0, -1.0], sim._state_stamp_ns)
        assert _spin_until(executor, lambda b=before: sim.steps_taken > b, 5.0)
        assert sim.steps_taken < 200, "the safety limit never tripped"
    _spin_for(executor, 0.5)
    # A monitor that starts later still gets the running count.
    counts: list[int] = []
    late = _start(executor, Node("late_monitor", context=ros_context))
    late.create_subscription(UInt64, "/massage/over_force_count",
                             lambda m: counts.append(m.data), LATCHED_QOS)
    assert _spin_until(executor, lambda: counts, 5.0)
    assert counts[-1] == sim.over_force_steps == 1
    err = capfd.readouterr().err
    assert "over-force steps: 1 in total, 1 in the last 0.3 s" in err
    start = time.monotonic()
    _spin_for(executor, 0.7)  # unchanged: not logged again
    assert "over-force steps" not in capfd.readouterr().err and time.monotonic() > start


def test_the_sim_s_action_settings_are_recorded_and_a_sim_reading_actions_otherwise_ends_the_run(
        ros_context, executor, tmp_path, capfd):
    """massage/action_settings (latched, from the sim): the agent records them for its
    checkpoints; a malformed announcement is counted and logged; settings other than the
    run's end the run with an error naming the difference (exit 1 in a process)."""
    from massage_td3_ros.env.config import EnvConfig
    from massage_td3_ros.env.episode import action_meta
    from massage_td3_ros.ros import action_settings

    sim, agent = _sim_and_agent(executor, ros_context, tmp_path, steps=10_000, warmup=10_000)
    assert _spin_until(executor, lambda: agent.session.action_meta is not None, 20.0)
    assert agent.session.action_meta == action_meta(EnvConfig())
    assert "the sim reads actions with" in capfd.readouterr().err
    other = _start(executor, Node("other_sim", context=ros_context))
    announce = other.create_publisher(String, "/" + action_settings.TOPIC, LATCHED_QOS)
    announce.publish(String(data='{"action_mode": "increment"}'))
    assert _spin_until(executor, lambda: agent.bad_action_settings == 1, 5.0)
    assert "missing action_base" in capfd.readouterr().err
    assert not agent.finished.done()
    announce.publish(action_settings.settings_message(EnvConfig(action_increment_m=0.004)))
    assert _spin_until(executor, agent.finished.done, 5.0)
    assert isinstance(agent.finished.exception(), ValueError)
    assert "action settings differ, stopping: the sim reads massage/action otherwise than " \
        "this run (env.action_increment_m: run's 0.002, sim's 0.004): start the sim with the " \
        "env.action_* values it announced first" in capfd.readouterr().err
    sim.close()


def test_agent_refuses_a_max_action_the_sim_would_clamp(ros_context, tmp_path):
    with pytest.raises(ValueError, match=r"td3.max_action 2 > 1"):
        TD3AgentNode(context=ros_context, parameter_overrides=_params(
            SMALL_AGENT + [("agent.run_folder", str(tmp_path)), ("td3.max_action", 2.0)]))



@pytest.mark.parametrize("overrides, reason", [
    ([("agent.background_updates", False)], "needs agent.background_updates"),
    ([("agent.background_updates", True), ("td3.torch_threads", 2)],
     "needs td3.torch_threads 1"),
])
def test_agent_refuses_a_real_time_priority_its_updates_would_inherit(
        ros_context, tmp_path, overrides, reason):
    with pytest.raises(ValueError, match=reason):
        TD3AgentNode(context=ros_context, parameter_overrides=_params(
            SMALL_AGENT + [("agent.run_folder", str(tmp_path)),
                           ("agent.realtime_priority", 50)] + overrides))
