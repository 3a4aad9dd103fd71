"""OnlineLearner: transitions only from consecutive states, gaps, warm-up, updates, threads."""

import threading

import numpy as np
import torch

from massage_td3_ros.td3.config import ExplorationConfig, TD3Config
from massage_td3_ros.td3.policy import Policy
from massage_td3_ros.training.config import TrainConfig
from massage_td3_ros.training.learner import OnlineLearner
from massage_td3_ros.training.step_state import StepState

TD3_SMALL = TD3Config(actor_hidden=(16, 16), critic_hidden=(16, 16), batch_size=8,
                      torch_threads=1)
TRAIN = TrainConfig(warmup_steps=10, updates_per_step=1.0, buffer_size=1000,
                    log_tensorboard=False,
                    eval_every_episodes=0, plot_every_episodes=0, checkpoint_every_steps=0)


def make(train=TRAIN):
    learner = OnlineLearner(2, 1, TD3_SMALL, ExplorationConfig(), train)
    learner.start_episode(training=True)
    return learner


def state(episode, step, reward=0.0, terminated=False, truncated=False):
    return StepState(obs=np.full(2, step, dtype=np.float32), episode=episode, step=step,
                     first=step == 0, reward=reward, terminated=terminated, truncated=truncated)


def run_due_updates(learner):
    done = 0
    while learner.update_once() is not None:
        done += 1
    return done


def test_consecutive_states_are_stored_with_the_sent_action():
    learner = make()
    action, follows = learner.on_state(state(0, 0))
    assert not follows and action.shape == (1,) and -1 <= action[0] <= 1
    assert learner.on_state(state(0, 1, reward=2.5)).follows
    buffer = learner.buffer
    assert len(buffer) == 1 and learner.gaps == 0
    assert buffer.obs[0].tolist() == [0, 0] and buffer.next_obs[0].tolist() == [1, 1]
    assert buffer.action[0] == action and buffer.reward[0, 0] == 2.5


def test_gaps_are_counted_and_never_stored():
    learner = make()
    learner.on_state(state(0, 0))
    learner.on_state(state(0, 1))
    assert not learner.on_state(state(0, 3)).follows     # step 2 lost
    assert len(learner.buffer) == 1 and learner.gaps == 1
    learner.on_state(state(0, 4))     # follows 3 again
    assert len(learner.buffer) == 2
    learner.on_state(state(1, 0))     # new episode before the old one ended
    assert learner.gaps == 2 and len(learner.buffer) == 2
    learner.on_state(state(2, 5))     # joined mid-episode, nothing pending
    assert learner.gaps == 3 and len(learner.buffer) == 2
    assert learner.env_steps == 2


def test_episode_end_returns_no_action_and_only_a_termination_stops_bootstrapping():
    learner = make()
    learner.on_state(state(0, 0))
    learner.on_state(state(0, 1))
    assert learner.on_state(state(0, 2, truncated=True)) == (None, True)
    learner.on_state(state(1, 0))
    assert learner.on_state(state(1, 1, terminated=True)) == (None, True)
    assert learner.buffer.terminated[:3, 0].tolist() == [0, 0, 1]
    assert learner.gaps == 0


def test_evaluation_episodes_act_deterministically_and_store_nothing():
    learner = make()
    learner.start_episode(training=False)
    obs = np.full(2, 0, dtype=np.float32)
    action, _ = learner.on_state(state(0, 0))
    assert np.array_equal(action, learner.policy.act(obs))
    learner.on_state(state(0, 1))
    assert len(learner.buffer) == 0 and learner.env_steps == 0 and learner.gaps == 0


def test_warmup_then_updates_at_the_configured_ratio():
    learner = make(TrainConfig(warmup_steps=10, updates_per_step=0.5, buffer_size=1000,
                               log_tensorboard=False, eval_every_episodes=0,
                               plot_every_episodes=0))
    ran = []
    for step in range(31):
        learner.on_state(state(0, step))
        ran.append(run_due_updates(learner))
    assert sum(ran[:11]) == 0          # warm-up: 10 stored transitions, no update
    assert learner.updates == 10       # 20 steps after warm-up at 0.5 per step


def test_acting_never_waits_for_a_gradient_step():
    """The ROS agent acts while a worker thread updates: acting must not need the
    network lock an update holds, and must follow the actor once an update ends."""
    learner = make(TrainConfig(warmup_steps=5, buffer_size=1000, log_tensorboard=False,
                               eval_every_episodes=0, plot_every_episodes=0))
    for step in range(60):
        learner.on_state(state(0, step))
        run_due_updates(learner)
    obs = np.ones(learner.obs_dim, dtype=np.float32)
    np.testing.assert_array_equal(learner.policy.act(obs),
                                  Policy(learner.agent.actor).act(obs))

    answered = []
    with learner._net_lock:  # as if an update were in progress on another thread
        thread = threading.Thread(target=lambda: answered.append(learner.policy.act(obs)))
        thread.start()
        thread.join(timeout=10.0)
        assert answered, "acting blocked on the lock held by a gradient update"


def test_training_changes_the_weights():
    learner = make()
    before = [p.clone() for p in learner.agent.actor.parameters()]
    rng = np.random.default_rng(0)
    for step in range(300):
        obs = rng.normal(size=2).astype(np.float32)
        learner.on_state(StepState(obs=obs, episode=0, step=step, first=step == 0,
                                   reward=-float(np.sum(obs ** 2))))
        run_due_updates(learner)
    assert learner.updates == 299 - 10
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.agent.actor.parameters()))
    assert all(torch.isfinite(p).all() for p in learner.agent.critic.parameters())


def test_forget_pending_turns_the_next_state_into_a_gap():
    learner = make()
    learner.on_state(state(0, 0))
    learner.forget_pending()
    learner.on_state(state(0, 1))
    assert learner.gaps == 1 and len(learner.buffer) == 0
    learner.on_state(state(0, 2))
    assert len(learner.buffer) == 1


def test_a_learner_with_a_fixed_policy_never_learns():
    source = make()
    learner = OnlineLearner(2, 1, TD3_SMALL, None, TRAIN, policy=source.policy)
    learner.start_episode(training=True)
    for step in range(30):
        learner.on_state(state(0, step))
    assert learner.buffer is None and learner.agent is None and not learner.training
    assert learner.update_once() is None and learner.env_steps == 0
