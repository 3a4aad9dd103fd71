"""td3_agent over real DDS with a sim: a non-finite loss stops the run loudly on both
update paths (inline or background, the ``finished`` future fails with the error, which
run_node turns into exit 1), and close() then writes no checkpoint: the last good
latest.pt stays and loads. The poison goes straight into the replay buffer, past every
check of the state messages."""

import pytest
from test_ros_nodes import _params, _spin_until, executor_fixture  # noqa: F401 - executor

from massage_td3_ros.ros.agent_node import TD3AgentNode
from massage_td3_ros.ros.sim_node import MassageSimNode
from massage_td3_ros.td3.checkpoint import (
    NonFiniteError,
    buffer_path,
    checkpoint_path,
    first_non_finite,
    load_checkpoint,
)

AGENT = [("td3.actor_hidden", [16, 16]), ("td3.critic_hidden", [16, 16]),
         ("td3.batch_size", 16), ("td3.torch_threads", 1), ("train.log_tensorboard", False),
         ("train.eval_every_episodes", 0), ("train.plot_every_episodes", 0),
         ("train.warmup_steps", 30), ("train.checkpoint_every_steps", 30),
         ("train.total_steps", 100_000)]


@pytest.mark.parametrize("background", [False, True], ids=["inline", "background"])
def test_a_non_finite_loss_stops_the_agent_and_keeps_the_good_checkpoint(
        ros_context, executor, tmp_path, background):
    sim = MassageSimNode(context=ros_context, parameter_overrides=_params(
        [("sim.action_timeout_s", 10.0), ("env.episode_time_s", 1.5)]))
    agent = TD3AgentNode(context=ros_context, parameter_overrides=_params(AGENT + [
        ("agent.run_folder", str(tmp_path)), ("agent.background_updates", background)]))
    executor.add_node(sim)
    executor.add_node(agent)
    latest = checkpoint_path(tmp_path, "latest")
    assert _spin_until(executor, latest.is_file, 30.0)  # an episode ended: a good checkpoint
    good, good_buffer = latest.read_bytes(), buffer_path(latest).read_bytes()
    learner = agent.session.learner
    with learner.locked():  # absurd rewards that no state message could carry
        learner.buffer.reward[:len(learner.buffer)] = 1e30
    # Either path ends the run the same way: the finished future fails (run_node: exit 1).
    assert _spin_until(executor, agent.finished.done, 30.0)
    error = agent.finished.exception()
    assert isinstance(error, NonFiniteError), error
    assert "non-finite critic_loss" in str(error) and "gradient update" in str(error)
    agent.close()  # as run_node does after either: no checkpoint from poisoned weights
    assert latest.read_bytes() == good and buffer_path(latest).read_bytes() == good_buffer
    assert not checkpoint_path(tmp_path, "final").exists()
    assert first_non_finite(load_checkpoint(latest)["agent"]) is None
