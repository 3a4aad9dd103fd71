"""In-process trainer on Pendulum-v1: outputs, and a resumed run equals an uninterrupted one."""

import csv

import gymnasium as gym
import numpy as np
import torch

from massage_td3_ros.config import Config
from massage_td3_ros.evaluation.evaluate import play
from massage_td3_ros.td3.checkpoint import checkpoint_path, load_checkpoint
from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.training.trainer import action_scaler, train

# Pendulum cut to 50-step episodes keeps these runs short.
ENV_ID = "ShortPendulum-v1"
if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point="gymnasium.envs.classic_control.pendulum:PendulumEnv",
                 max_episode_steps=50)

# The paper's TD3 (no tracking model: Pendulum has no force error entry).
SMALL = Config(td3=TD3Config()).replace(
    td3={"actor_hidden": [32, 32], "critic_hidden": [32, 32], "batch_size": 16,
         "torch_threads": 1},
    exploration={"smoothing": True, "oscillation": True},
    train={"warmup_steps": 25, "updates_per_step": 1.0, "buffer_size": 2000,
           "log_tensorboard": False,
           "eval_every_episodes": 1, "eval_episodes": 1, "plot_every_episodes": 2,
           "checkpoint_every_steps": 50, "log_every_updates": 20})


def test_train_writes_logs_figures_and_checkpoints(tmp_path):
    run = train(SMALL, steps=100, seed=3, out=tmp_path / "run", env_id=ENV_ID)
    with open(run / "episodes.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["env_steps"]) for r in rows] == [50, 100]
    assert (run / "eval.csv").is_file() and (run / "losses.csv").is_file()
    assert (run / "figures" / "training.png").stat().st_size > 0
    for name in ("latest", "best", "final"):
        assert checkpoint_path(run, name).is_file()
    meta = load_checkpoint(checkpoint_path(run, "final"))["meta"]
    assert meta["counters"]["env_steps"] == 100 and meta["counters"]["updates"] == 75


class _WithTime(gym.ObservationWrapper):
    """Pendulum's observation and one more entry, with its layout declared."""

    obs_layout = [("pendulum", 3), ("time", 1)]

    def __init__(self, env):
        super().__init__(env)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)

    def observation(self, obs):
        return np.append(obs, 0.5).astype(np.float32)


def test_an_env_wrapper_changes_the_observation_the_agent_trains_on(tmp_path):
    # the layout is found under another wrapper too
    run = train(SMALL, steps=60, seed=3, out=tmp_path / "run", env_id=ENV_ID,
                env_wrapper=lambda env: gym.wrappers.RecordEpisodeStatistics(_WithTime(env)))
    meta = load_checkpoint(checkpoint_path(run, "final"))["meta"]
    assert meta["obs_dim"] == 4
    assert meta["obs_labels"] == [["pendulum", 3], ["time", 1]]


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    config = SMALL.replace(train={"plot_every_episodes": 0})
    torch.use_deterministic_algorithms(True)
    try:
        whole = train(config, steps=200, seed=5, out=tmp_path / "whole", env_id=ENV_ID)
        part = train(config, steps=100, seed=5, out=tmp_path / "part", env_id=ENV_ID)
        part = train(config, steps=200, seed=5, out=part, env_id=ENV_ID)
    finally:
        torch.use_deterministic_algorithms(False)
    assert_same_final_checkpoint(whole, part)
    returns = [[row["episode_return"] for row in csv.DictReader(open(run / "episodes.csv"))]
               for run in (whole, part)]
    assert returns[0] == returns[1]


def assert_same_final_checkpoint(whole, part):
    a = load_checkpoint(checkpoint_path(whole, "final"))
    b = load_checkpoint(checkpoint_path(part, "final"))
    assert a["meta"]["counters"] == b["meta"]["counters"]
    for net in ("actor", "critic", "critic_target"):
        for key, tensor in a["agent"][net].items():
            assert torch.equal(tensor, b["agent"][net][key]), f"{net}.{key} differs"


def test_a_run_killed_mid_episode_resumes_exactly(tmp_path):
    """Killed between checkpoints: the resumed run starts from the last one (written
    when an episode ended, before that state's updates ran) and ends where the
    uninterrupted run does."""
    from massage_td3_ros.training.session import Session
    from massage_td3_ros.training.trainer import run_loop

    # 76 updates by step 100: the one its last state made due updates the actor too.
    config = SMALL.replace(train={"plot_every_episodes": 0, "seed": 5, "warmup_steps": 24})
    torch.use_deterministic_algorithms(True)
    try:
        whole = train(config, steps=200, out=tmp_path / "whole", env_id=ENV_ID)
        env = gym.make(ENV_ID)
        killed = Session(3, 1, config.td3, config.exploration, config.train,
                         tmp_path / "part")
        run_loop(env, killed, total_steps=130, seed=5)  # then dies: no close()
        env.close()
        assert load_checkpoint(checkpoint_path(tmp_path / "part", "latest"))["meta"][
            "counters"]["env_steps"] == 100
        part = train(config, steps=200, out=tmp_path / "part", env_id=ENV_ID)
    finally:
        torch.use_deterministic_algorithms(False)
    assert_same_final_checkpoint(whole, part)
    for log in ("episodes.csv", "eval.csv"):
        assert (whole / log).read_text() == (part / log).read_text(), log


class Idle:
    """A controller that never pushes."""

    name = "idle"

    def reset(self, env):
        pass

    def act(self, obs, env):
        return np.zeros(1, dtype=np.float32)


def test_action_scaling_and_the_episode_loop_on_another_env():
    env = gym.make("Pendulum-v1")
    scale = action_scaler(env.action_space)
    assert np.allclose(scale(np.array([-1.0])), [-2.0])
    assert np.allclose(scale(np.array([0.5])), [1.0])

    def returns():
        return [play(env, Idle(), env.reset(seed=seed)[0])[0]
                for seed in (0, 1)]
    first = returns()
    assert len(first) == 2 and all(-2000 < r < 0 for r in first)
    assert first == returns()
    total, info, trace = play(env, Idle(), env.reset(seed=0)[0])
    assert total == first[0] and trace == {}


class RecordingResets(gym.Wrapper):
    """Keeps the options of every reset."""

    def __init__(self, env):
        super().__init__(env)
        self.options = []

    def reset(self, *, seed=None, options=None):
        self.options.append(options)
        return self.env.reset(seed=seed, options=options)


def test_every_evaluation_round_meets_the_same_cases(tmp_path):
    """The rounds that choose `best` see the four stroke/direction cases in order, not
    whatever the episode seeds would draw; training episodes keep their own draw."""
    from massage_td3_ros.env.massage_env import MassageEnv
    from massage_td3_ros.env.observation import OBS_DIM
    from massage_td3_ros.training.session import Session
    from massage_td3_ros.training.trainer import MASSAGE_EVAL_CASES, run_loop

    config = SMALL.replace(env={"episode_time_s": 0.2},
                           exploration={"smoothing": False, "oscillation": False},
                           train={"eval_episodes": 4, "plot_every_episodes": 0,
                                  "checkpoint_every_steps": 0})
    env = RecordingResets(MassageEnv(config.env))
    session = Session(OBS_DIM, 3, config.td3, config.exploration, config.train,
                      tmp_path / "run")
    try:
        run_loop(env, session, total_steps=18, seed=0, eval_cases=MASSAGE_EVAL_CASES)
    finally:
        session.close()
        env.close()
    round_ = list(MASSAGE_EVAL_CASES)
    assert env.options == [None, *round_, None, *round_, None]
