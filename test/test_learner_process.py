"""The learner process (training.learner_process): the same seed gives the same run, a
resumed run equals the uninterrupted one, a failure in the child stops training loudly
with the good checkpoint kept, and closing leaves no process and no shared memory."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from test_checkpoint_crash import TD3_SMALL, TRAIN
from test_learner_trainer import ENV_ID, SMALL, assert_same_final_checkpoint
from torch.nn.utils import parameters_to_vector

from massage_td3_ros.td3.checkpoint import NonFiniteError, checkpoint_path, load_checkpoint
from massage_td3_ros.td3.config import ExplorationConfig
from massage_td3_ros.training.learner_process import (
    LearnerProcessError,
    ProcessLearner,
)
from massage_td3_ros.training.session import Session
from massage_td3_ros.training.step_state import StepState
from massage_td3_ros.training.trainer import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def session(run_dir, **train):
    return Session(3, 2, TD3_SMALL, ExplorationConfig(), TRAIN.__class__(
        **{**TRAIN.__dict__, "save_replay_buffer": True, **train}), run_dir,
        learner_process=True)


def feed(learning, episodes=1, steps=40, reward=None):
    """Episodes of states that do not depend on the actions; returns the actions."""
    actions = []
    for _ in range(episodes):
        episode = learning.next_episode
        rng = np.random.default_rng(episode)
        for step in range(steps + 1):
            action = learning.on_state(StepState(
                obs=rng.normal(size=3), episode=episode, step=step, first=step == 0,
                reward=float(rng.normal()) if reward is None else reward,
                truncated=step == steps))
            learning.update()
            if action is not None:
                actions.append(action)
    return np.array(actions)


def test_the_updates_run_in_the_child_and_reach_the_acting_policy(tmp_path):
    learning = session(tmp_path)
    try:
        learner = learning.learner
        assert isinstance(learner, ProcessLearner)
        before = [p.clone() for p in learner.policy.actor.parameters()]
        feed(learning, episodes=2)
        # Updates ran (the last requests may still be in flight) and were logged.
        assert learner.updates >= 2 * 40 - 20 - learner.max_in_flight and learning.logger.losses
        # The child's actor reached the acting copy (which this process never trains).
        after = list(learner.policy.actor.parameters())
        assert not all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
        with learner.locked():  # the mirror now holds the child's networks
            assert learner.agent.critic_updates == learner.updates
            # no update since the last actor update: the actor the acting copy takes last
            # (once the queued answers are collected) is the child's actor
            if learner.agent.critic_updates % TD3_SMALL.policy_freq == 0:
                lag = learner.get_lag()
                last = [actor for _, actor in lag["queued"] if actor is not None]
                trained = parameters_to_vector(learner.agent.actor.parameters())
                assert torch.equal(last[-1] if last else lag["acting"], trained)
    finally:
        learning.close()


@pytest.mark.parametrize("in_flight", [2, 16])
def test_the_same_seed_gives_the_same_run(tmp_path, in_flight):
    # A 50-transition buffer wraps twice in 3 episodes: the child must never sample a
    # slot the parent is overwriting, however many requests it holds.
    runs = []
    for name in ("a", "b"):
        learning = session(tmp_path / name, learner_in_flight=in_flight, buffer_size=50)
        assert learning.learner.max_in_flight == in_flight
        runs.append(feed(learning, episodes=3))
        learning.close()
    np.testing.assert_array_equal(runs[0], runs[1])


def test_more_requests_in_flight_run_the_same_updates(tmp_path):
    # The schedule is the inline one whatever the depth: after draining, every update
    # due has run, once; only the weights that act lag further behind.
    done = {}
    for in_flight in (2, 8):
        learning = session(tmp_path / str(in_flight), learner_in_flight=in_flight)
        feed(learning, episodes=2)
        list(learning.learner.drain())
        with learning.learner.locked():
            done[in_flight] = (learning.learner.updates, learning.learner.agent.critic_updates)
        learning.close()
    assert done[2] == done[8] and done[2][0] == done[2][1] > 0


@pytest.mark.parametrize("updates_per_step", [1.0, 2.0])
def test_a_resumed_run_equals_the_uninterrupted_one(tmp_path, updates_per_step):
    config = SMALL.replace(train={"plot_every_episodes": 0,
                                  "updates_per_step": updates_per_step})
    torch.use_deterministic_algorithms(True)
    try:
        whole = train(config, steps=200, seed=5, out=tmp_path / "whole", env_id=ENV_ID,
                      learner_process=True)
        part = train(config, steps=100, seed=5, out=tmp_path / "part", env_id=ENV_ID,
                     learner_process=True)
        part = train(config, steps=200, seed=5, out=part, env_id=ENV_ID,
                     learner_process=True)
    finally:
        torch.use_deterministic_algorithms(False)
    assert_same_final_checkpoint(whole, part)
    for log in ("episodes.csv", "eval.csv"):
        assert (whole / log).read_text() == (part / log).read_text(), log


def test_where_checkpoints_fall_changes_no_action(tmp_path):
    # A checkpoint waits for the child's answers; the acting actor must still take them
    # only when it would have without the checkpoint (its lag is part of the state).
    runs = {}
    torch.use_deterministic_algorithms(True)
    try:
        for every in (0, 50):
            config = SMALL.replace(train={"plot_every_episodes": 0, "updates_per_step": 2.0,
                                          "checkpoint_every_steps": every})
            runs[every] = train(config, steps=150, seed=7, out=tmp_path / f"every{every}",
                                env_id=ENV_ID, learner_process=True)
    finally:
        torch.use_deterministic_algorithms(False)
    assert_same_final_checkpoint(runs[0], runs[50])
    for log in ("episodes.csv", "eval.csv"):
        assert (runs[0] / log).read_text() == (runs[50] / log).read_text(), log


def test_a_non_finite_loss_in_the_child_stops_training_and_keeps_the_checkpoint(tmp_path):
    learning = session(tmp_path)
    try:
        feed(learning)
        latest = learning.save_checkpoint("latest")
        data = latest.read_bytes()
        with pytest.raises(NonFiniteError, match=r"non-finite critic_loss"):
            feed(learning, episodes=5, reward=1e30)
        with pytest.raises(NonFiniteError):
            learning.save_checkpoint("latest")
        assert latest.read_bytes() == data
    finally:
        learning.close()   # no final checkpoint from poisoned weights
    assert not checkpoint_path(tmp_path, "final").exists()
    assert load_checkpoint(latest)["meta"]["counters"]["env_steps"] == 40


def shared_blocks() -> set[str]:
    return set(os.listdir("/dev/shm")) if Path("/dev/shm").is_dir() else set()


def test_a_dead_child_is_reported_and_close_leaves_nothing_behind(tmp_path):
    learning = session(tmp_path)
    child = learning.learner._process
    block = learning.learner._shared.block.name   # the buffer's block (others' come and go)
    assert block in shared_blocks()
    feed(learning)
    assert list(learning.learner.drain())   # nothing in flight: the next request meets
    child.kill()                            # the dead child when it is sent
    child.wait()
    with pytest.raises(LearnerProcessError, match=r"learner process (died|closed)"):
        feed(learning, episodes=2)
    learning.learner.close()
    assert block not in shared_blocks()
    held = len(learning.learner.buffer)   # the transitions outlive the block
    assert held == learning.learner.env_steps >= 40
    assert np.isfinite(learning.learner.buffer.obs[:held]).all()
