"""OnlineLearner: transitions only from consecutive states, gaps, eval, threads."""

import random
import threading

import numpy as np
import pytest
import torch

from massage_td3_ros.env.metrics import STEP_INFO_KEYS
from massage_td3_ros.td3.config import ExplorationConfig, TD3Config
from massage_td3_ros.training.config import TrainConfig
from massage_td3_ros.training.learner import OnlineLearner, StepState

TD3_SMALL = TD3Config(actor_hidden=(16, 16), critic_hidden=(16, 16), batch_size=8,
                      torch_threads=1)
TRAIN = TrainConfig(warmup_steps=10, buffer_size=1000, log_tensorboard=False,
                    eval_every_episodes=0, plot_every_episodes=0, checkpoint_every_steps=0)


def make(tmp_path, train=TRAIN, **kwargs):
    return OnlineLearner(2, 1, TD3_SMALL, ExplorationConfig(), train, tmp_path, **kwargs)


def state(episode, step, reward=0.0, terminated=False, truncated=False, info=None):
    return StepState(obs=np.full(2, step, dtype=np.float32), episode=episode, step=step,
                     first=step == 0, reward=reward, terminated=terminated,
                     truncated=truncated, info=info or {})


def test_consecutive_states_are_stored_with_the_sent_action(tmp_path):
    learner = make(tmp_path)
    action = learner.on_state(state(0, 0))
    assert action.shape == (1,) and -1 <= action[0] <= 1
    learner.on_state(state(0, 1, reward=2.5))
    buffer = learner.buffer
    assert len(buffer) == 1 and learner.gaps == 0
    assert buffer.obs[0].tolist() == [0, 0] and buffer.next_obs[0].tolist() == [1, 1]
    assert buffer.action[0] == action and buffer.reward[0, 0] == 2.5


def test_gaps_are_counted_and_never_stored(tmp_path):
    learner = make(tmp_path)
    learner.on_state(state(0, 0))
    learner.on_state(state(0, 1))
    learner.on_state(state(0, 3))     # step 2 lost
    assert len(learner.buffer) == 1 and learner.gaps == 1
    learner.on_state(state(0, 4))     # follows 3 again
    assert len(learner.buffer) == 2
    learner.on_state(state(1, 0))     # new episode before the old one ended
    assert learner.gaps == 2 and len(learner.buffer) == 2
    learner.on_state(state(2, 5))     # joined mid-episode, nothing pending
    assert learner.gaps == 3 and len(learner.buffer) == 2
    assert learner.env_steps == 2 and learner.episodes == 0


def test_episode_end_returns_none_and_logs_return_and_metrics(tmp_path):
    learner = make(tmp_path)
    info = {key: 1.0 for key in STEP_INFO_KEYS}
    learner.on_state(state(0, 0))
    learner.on_state(state(0, 1, reward=1.0, info=info))
    assert learner.on_state(state(0, 2, reward=2.0, truncated=True, info=info)) is None
    assert learner.buffer.truncated[1, 0] == 1 and learner.buffer.terminated[1, 0] == 0
    assert learner.episodes == 1
    row = learner.logger.episodes[-1]
    assert row["episode_return"] == 3.0 and row["episode_length"] == 2
    assert row["metric_in_band_fraction"] == 1.0 and row["metric_steps"] == 2
    assert (tmp_path / "episodes.csv").read_text().count("\n") == 2
    assert learner.last_trace["force_n"] == [1.0, 1.0]


def test_warmup_then_updates_at_the_configured_ratio(tmp_path):
    learner = make(tmp_path, TrainConfig(warmup_steps=10, updates_per_step=0.5,
                                         buffer_size=1000, log_tensorboard=False,
                                         eval_every_episodes=0, plot_every_episodes=0))
    ran = []
    for step in range(31):
        learner.on_state(state(0, step))
        ran.append(learner.update())
    assert sum(ran[:11]) == 0          # warm-up: 10 stored transitions, no update
    assert learner.updates == 10       # 20 steps after warm-up at 0.5 per step


def test_eval_episodes_are_interleaved_deterministic_and_not_stored(tmp_path):
    train = TrainConfig(warmup_steps=0, buffer_size=1000, log_tensorboard=False,
                        eval_every_episodes=1, eval_episodes=2, plot_every_episodes=0,
                        checkpoint_every_steps=0)
    learner = make(tmp_path, train)

    def episode(index, length=4):
        actions = [learner.on_state(state(index, 0))]
        for step in range(1, length + 1):
            actions.append(learner.on_state(state(index, step, reward=-1.0,
                                                  truncated=step == length)))
            learner.update()
        return actions[:-1]

    episode(0)
    assert learner.episodes == 1 and len(learner.buffer) == 4
    eval_actions = episode(1)
    assert len(learner.buffer) == 4 and learner.eval_episodes == 1
    assert np.array_equal(eval_actions[0], learner.act(np.zeros(2, dtype=np.float32)))
    episode(2)
    assert learner.eval_episodes == 2 and learner.best_score == -4.0
    assert (tmp_path / "checkpoints" / "best.pt").is_file()
    episode(3)
    assert learner.episodes == 2 and len(learner.buffer) == 8


def test_background_updates_while_acting(tmp_path):
    learner = make(tmp_path, TrainConfig(warmup_steps=5, buffer_size=1000,
                                         log_tensorboard=False, eval_every_episodes=0,
                                         plot_every_episodes=0, log_every_updates=10))
    stop = threading.Event()
    errors = []

    def worker():
        try:
            while not stop.is_set():
                if learner.update() == 0:
                    stop.wait(0.001)
        except Exception as error:  # surfaced to the test below
            errors.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        for step in range(200):
            learner.on_state(state(0, step))
    finally:
        stop.set()
        thread.join()
    learner.update()
    assert not errors
    # updates start once past warm-up (5) and the buffer holds a batch (8)
    assert learner.env_steps == 199 and learner.updates == 199 - 7


def test_acting_never_waits_for_a_gradient_step(tmp_path):
    """The ROS agent acts while a worker thread updates: act() must not need the
    network lock an update holds, and must follow the actor once an update ends."""
    learner = make(tmp_path, TrainConfig(warmup_steps=5, buffer_size=1000,
                                         log_tensorboard=False, eval_every_episodes=0,
                                         plot_every_episodes=0))
    for step in range(60):
        learner.on_state(state(0, step))
        learner.update()
    obs = np.ones(learner.obs_dim, dtype=np.float32)
    np.testing.assert_array_equal(learner.act(obs), learner.agent.select_action(obs))

    answered = []
    with learner._net_lock:  # as if an update were in progress on another thread
        thread = threading.Thread(target=lambda: answered.append(learner.act(obs)))
        thread.start()
        thread.join(timeout=10.0)
        assert answered, "act() blocked on the lock held by a gradient update"


def test_training_changes_the_weights(tmp_path):
    learner = make(tmp_path)
    before = [p.clone() for p in learner.agent.actor.parameters()]
    rng = np.random.default_rng(0)
    for step in range(300):
        obs = rng.normal(size=2).astype(np.float32)
        learner.on_state(StepState(obs=obs, episode=0, step=step, first=step == 0,
                                   reward=-float(np.sum(obs ** 2))))
        learner.update()
    assert learner.updates == 299 - 10
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.agent.actor.parameters()))
    assert all(torch.isfinite(p).all() for p in learner.agent.critic.parameters())


def test_forget_pending_turns_the_next_state_into_a_gap(tmp_path):
    learner = make(tmp_path)
    learner.on_state(state(0, 0))
    learner.forget_pending()
    learner.on_state(state(0, 1))
    assert learner.gaps == 1 and len(learner.buffer) == 0
    learner.on_state(state(0, 2))
    assert len(learner.buffer) == 1


def test_tensorboard_event_files_when_enabled(tmp_path):
    pytest.importorskip("tensorboard")
    learner = make(tmp_path, TrainConfig(warmup_steps=0, buffer_size=100, log_every_updates=1,
                                         eval_every_episodes=0, plot_every_episodes=0))
    for step in range(12):
        learner.on_state(state(0, step, reward=1.0, truncated=step == 11))
        learner.update()
    learner.close()
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    assert (tmp_path / "figures" / "training.png").is_file()
    assert (tmp_path / "checkpoints" / "final.pt").is_file()


def test_an_eval_learner_leaves_the_callers_random_streams_alone(tmp_path):
    """Building one (a baseline report, an evaluation) does not reseed python's and
    numpy's global generators to the config's seed."""
    random.seed(123)
    np.random.seed(123)
    expected_python, expected_numpy = random.getstate(), np.random.get_state()[1].copy()
    OnlineLearner(4, 2, TD3Config(actor_hidden=(8,), critic_hidden=(8,)), None,
                  TrainConfig(log_tensorboard=False), tmp_path / "eval", mode="eval")
    assert random.getstate() == expected_python
    np.testing.assert_array_equal(np.random.get_state()[1], expected_numpy)
