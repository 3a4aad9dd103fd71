"""A NaN or an infinity stops training loudly and never reaches a checkpoint file: an
absurd reward (an infinite loss), a state beyond float32, weights gone non-finite; the
last good `latest` stays on disk and loads."""

import numpy as np
import pytest
import torch
from test_checkpoint_crash import make

from massage_td3_ros.td3.checkpoint import (
    CheckpointError,
    NonFiniteError,
    buffer_path,
    checkpoint_path,
    first_non_finite,
    load_checkpoint,
)
from massage_td3_ros.td3.policy import Policy
from massage_td3_ros.training.step_state import StepState


def feed(session, episode, steps, rng, reward=None, obs=None):
    """One episode of ``steps`` steps, updates after every state, as the drivers do."""
    for step in range(steps + 1):
        state = StepState(obs=rng.normal(size=3) if obs is None or step == 0 else obs,
                          episode=episode, step=step, first=step == 0,
                          reward=float(rng.normal()) if reward is None else reward,
                          truncated=step == steps)
        session.on_state(state)
        session.update()


def good_latest(tmp_path):
    """A session trained for one episode with a good latest checkpoint on disk."""
    session = make(tmp_path)
    feed(session, 0, 60, np.random.default_rng(0))
    path = session.save_checkpoint("latest")
    return session, path, path.read_bytes(), buffer_path(path).read_bytes()


def assert_latest_is_the_good_one(tmp_path, path, data, buffer_data):
    assert path.read_bytes() == data and buffer_path(path).read_bytes() == buffer_data
    assert not checkpoint_path(tmp_path, "final").exists()
    assert not list(path.parent.glob("*.tmp")) and not list(path.parent.glob("*previous*"))
    loaded = load_checkpoint(path)
    assert first_non_finite(loaded["agent"]) is None
    assert loaded["meta"]["counters"]["env_steps"] == 60
    resumed = make(tmp_path)  # the run resumes from it
    assert resumed.env_steps == 60 and len(resumed.learner.buffer) == 60


def test_an_absurd_reward_stops_training_and_the_good_checkpoint_stays(tmp_path):
    session, path, data, buffer_data = good_latest(tmp_path)
    updates_before = session.learner.updates
    # 1e30 is finite (it passes the learner's input check, as it would a bounds check
    # that let it through); its square overflows the critic loss.
    with pytest.raises(NonFiniteError, match=r"non-finite critic_loss \((inf|nan)\) at "
                       r"gradient update \d+ \(env step \d+\)") as stopped:
        feed(session, 1, 200, np.random.default_rng(1), reward=1e30)
    assert f"gradient update {session.learner.updates + 1} " in str(stopped.value)
    assert session.learner.updates > updates_before
    assert "training stopped" in session.learner.failure
    with pytest.raises(NonFiniteError, match="not writing checkpoint .*latest.pt"):
        session.save_checkpoint("latest")
    with pytest.raises(NonFiniteError):  # no further update runs on the poisoned weights
        session.learner.updates_due = 1.0
        session.update()
    session.close()  # logs the failure; writes neither final nor latest
    assert_latest_is_the_good_one(tmp_path, path, data, buffer_data)


@pytest.mark.parametrize("field", ["obs", "reward"])
def test_a_state_beyond_float32_is_refused_before_it_is_stored(tmp_path, field):
    session, path, data, buffer_data = good_latest(tmp_path)
    rng = np.random.default_rng(2)
    session.on_state(StepState(obs=rng.normal(size=3), episode=1, step=0, first=True))
    bad = StepState(obs=np.array([0.0, 1e39, 0.0]) if field == "obs" else rng.normal(size=3),
                    episode=1, step=1, first=False,
                    reward=1e39 if field == "reward" else 0.0)
    with pytest.raises(ValueError, match=rf"episode 1, step 1: {field}.* is inf as float32"):
        session.on_state(bad)
    assert session.env_steps == 60 and len(session.learner.buffer) == 60
    assert np.isfinite(session.learner.buffer.obs).all()
    assert np.isfinite(session.learner.buffer.reward).all()


def test_weights_gone_non_finite_are_never_written(tmp_path):
    session, path, data, buffer_data = good_latest(tmp_path)
    with torch.no_grad():  # whatever the cause, found only at the write
        session.learner.agent.critic_target.layers[0].bias[1, 0, 1] = float("nan")  # Q2
    with pytest.raises(NonFiniteError, match=r"refusing to write checkpoint .*final.pt: the "
                       r"agent state has non-finite values in critic_target\.layers\.0\.bias"):
        session.close()
    assert (tmp_path / "losses.csv").is_file()  # the logs were still flushed
    with pytest.raises(NonFiniteError, match=r"not writing checkpoint .*latest.pt"):
        session.save_checkpoint("latest")
    assert_latest_is_the_good_one(tmp_path, path, data, buffer_data)


def test_a_non_finite_action_stops_training(tmp_path):
    session, path, data, buffer_data = good_latest(tmp_path)
    with torch.no_grad():
        session.learner.agent.actor.net[0].weight.fill_(float("inf"))
    session.learner.policy.refresh(session.learner.agent.actor)
    with pytest.raises(NonFiniteError, match=r"the actor's action \[nan, nan\] is non-finite "
                       r"after gradient update \d+ \(env step 60\)"):
        session.on_state(StepState(obs=np.ones(3), episode=1, step=0, first=True))
    session.close()
    assert_latest_is_the_good_one(tmp_path, path, data, buffer_data)


def test_a_checkpoint_with_non_finite_weights_is_refused(tmp_path):
    session, path, _, _ = good_latest(tmp_path)
    loaded = torch.load(path, weights_only=True)
    loaded["agent"]["actor"]["net.2.weight"][0, 0] = float("nan")
    torch.save(loaded, path)  # as written by a version that did not check
    for load in (load_checkpoint, Policy.load, make):
        with pytest.raises(CheckpointError, match=r"latest.pt: non-finite values in "
                           r"actor\.net\.2\.weight"):
            load(path if load is not make else tmp_path)
