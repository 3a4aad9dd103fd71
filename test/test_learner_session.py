"""Session: episode logs, interleaved evaluation rounds and `best`, background updates,
output files, and an evaluation session that leaves the caller's RNG alone."""

import random
import threading

import numpy as np
import pytest

from massage_td3_ros.env.metrics import STEP_INFO_KEYS
from massage_td3_ros.td3.config import ExplorationConfig, TD3Config
from massage_td3_ros.training.config import TrainConfig
from massage_td3_ros.training.session import Session
from massage_td3_ros.training.step_state import StepState

TD3_SMALL = TD3Config(actor_hidden=(16, 16), critic_hidden=(16, 16), batch_size=8,
                      torch_threads=1)
TRAIN = TrainConfig(warmup_steps=10, buffer_size=1000, log_tensorboard=False,
                    eval_every_episodes=0, plot_every_episodes=0, checkpoint_every_steps=0)


def make(tmp_path, train=TRAIN, **kwargs):
    return Session(2, 1, TD3_SMALL, ExplorationConfig(), train, tmp_path, **kwargs)


def state(episode, step, reward=0.0, truncated=False, info=None):
    return StepState(obs=np.full(2, step, dtype=np.float32), episode=episode, step=step,
                     first=step == 0, reward=reward, truncated=truncated, info=info or {})


def test_episode_end_returns_none_and_logs_return_and_metrics(tmp_path):
    session = make(tmp_path)
    info = {key: 1.0 for key in STEP_INFO_KEYS}
    session.on_state(state(0, 0))
    session.on_state(state(0, 1, reward=1.0, info=info))
    assert session.on_state(state(0, 2, reward=2.0, truncated=True, info=info)) is None
    assert session.episodes == 1 and session.env_steps == 2
    row = session.logger.episodes[-1]
    assert row["episode_return"] == 3.0 and row["episode_length"] == 2
    assert row["metric_in_band_fraction"] == 1.0 and row["metric_steps"] == 2
    assert (tmp_path / "episodes.csv").read_text().count("\n") == 2
    assert session.last_trace["force_n"] == [1.0, 1.0]


def test_eval_episodes_are_interleaved_deterministic_and_not_stored(tmp_path):
    train = TrainConfig(warmup_steps=0, buffer_size=1000, log_tensorboard=False,
                        eval_every_episodes=1, eval_episodes=2, plot_every_episodes=0,
                        checkpoint_every_steps=0)
    session = make(tmp_path, train)
    buffer = session.learner.buffer

    def episode(index, length=4):
        actions = [session.on_state(state(index, 0))]
        for step in range(1, length + 1):
            actions.append(session.on_state(state(index, step, reward=-1.0,
                                                  truncated=step == length)))
            session.update()
        return actions[:-1]

    episode(0)
    assert session.episodes == 1 and len(buffer) == 4
    assert session.next_eval_index == 0
    eval_actions = episode(1)
    assert len(buffer) == 4 and session.eval_episodes == 1 and session.next_eval_index == 1
    assert np.array_equal(eval_actions[0],
                          session.learner.policy.act(np.zeros(2, dtype=np.float32)))
    episode(2)
    assert session.eval_episodes == 2 and session.best_score == -4.0
    assert session.next_eval_index is None
    assert (tmp_path / "checkpoints" / "best.pt").is_file()
    episode(3)
    assert session.episodes == 2 and len(buffer) == 8


def test_background_updates_while_acting(tmp_path):
    session = make(tmp_path, TrainConfig(warmup_steps=5, updates_per_step=1.0,
                                         buffer_size=1000,
                                         log_tensorboard=False, eval_every_episodes=0,
                                         plot_every_episodes=0, log_every_updates=10))
    stop = threading.Event()
    errors = []

    def worker():
        try:
            while not stop.is_set():
                if session.update() == 0:
                    stop.wait(0.001)
        except Exception as error:  # surfaced to the test below
            errors.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        for step in range(200):
            session.on_state(state(0, step))
    finally:
        stop.set()
        thread.join()
    session.update()
    assert not errors
    # updates start once past warm-up (5) and the buffer holds a batch (8)
    assert session.env_steps == 199 and session.learner.updates == 199 - 7
    assert [row["updates"] for row in session.logger.losses] == list(range(10, 193, 10))


def test_tensorboard_event_files_when_enabled(tmp_path):
    pytest.importorskip("tensorboard")
    session = make(tmp_path, TrainConfig(warmup_steps=0, buffer_size=100, log_every_updates=1,
                                         eval_every_episodes=0, plot_every_episodes=0))
    for step in range(12):
        session.on_state(state(0, step, reward=1.0, truncated=step == 11))
        session.update()
    session.close()
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    assert (tmp_path / "figures" / "training.png").is_file()
    assert (tmp_path / "checkpoints" / "final.pt").is_file()


def test_an_eval_session_leaves_the_callers_random_streams_alone(tmp_path):
    """Building one (a baseline report, an evaluation) does not reseed python's and
    numpy's global generators to the config's seed."""
    random.seed(123)
    np.random.seed(123)
    expected_python, expected_numpy = random.getstate(), np.random.get_state()[1].copy()
    session = Session(4, 2, TD3Config(actor_hidden=(8,), critic_hidden=(8,)), None,
                      TrainConfig(log_tensorboard=False), tmp_path / "eval", mode="eval")
    assert random.getstate() == expected_python
    np.testing.assert_array_equal(np.random.get_state()[1], expected_numpy)
    with pytest.raises(RuntimeError, match="no checkpoint to save"):
        session.save_checkpoint("final")


def test_the_next_producer_episode_survives_a_checkpoint(tmp_path):
    """What a restarted ROS sim continues from (massage/next_episode): 1 + the highest
    episode index seen, kept in the checkpoint."""
    session = make(tmp_path)
    for episode in (0, 7):
        session.on_state(state(episode, 0))
        session.on_state(state(episode, 1, truncated=True))
    assert session.counters()["next_episode"] == 8
    session.save_checkpoint("latest")
    resumed = make(tmp_path)  # resumes from the folder's latest
    assert resumed.next_episode == 8 and resumed.counters()["next_episode"] == 8


def test_periodic_figures_are_drawn_on_a_thread_from_a_snapshot(tmp_path, monkeypatch):
    # A refresh must not hold up the next action (a lockstep sim steps on without it
    # after sim.action_timeout_s): the episode end returns while the figure draws.
    from massage_td3_ros.training import plots

    started, release, drawn = threading.Event(), threading.Event(), []

    def slow_plot(episodes, losses, path, evals):
        started.set()
        release.wait(timeout=30)
        drawn.append(len(episodes))

    monkeypatch.setattr(plots, "plot_training", slow_plot)
    monkeypatch.setattr(plots, "plot_diagnostics", lambda *args, **kwargs: None)
    session = make(tmp_path, TrainConfig(warmup_steps=10, buffer_size=1000,
                                         log_tensorboard=False, eval_every_episodes=0,
                                         plot_every_episodes=1, checkpoint_every_steps=0))
    for episode in range(3):   # ends 2 and 3 come while the first refresh still draws
        session.on_state(state(episode, 0))
        session.on_state(state(episode, 1, truncated=True))
        assert started.wait(timeout=30)
    assert drawn == [] and session.episodes == 3
    release.set()
    session.wait_for_plots()
    assert drawn == [1]         # its own snapshot; the refreshes asked meanwhile skipped
    session.close(final_checkpoint=False)
    assert drawn == [1, 3]      # close draws the final figures, after the last refresh


def test_a_resumed_run_keeps_its_action_settings_and_refuses_others(tmp_path):
    """A checkpoint records how the env read its actions. Resuming with none known (the
    ROS agent before the sim announces them) takes the checkpoint's; resuming with other
    settings is a CheckpointError, and the replay buffer is left empty (its actions
    would mean other moves)."""
    import shutil

    from massage_td3_ros.env.config import EnvConfig
    from massage_td3_ros.env.episode import action_meta
    from massage_td3_ros.td3.checkpoint import CheckpointError, buffer_path, previous_path

    plain = action_meta(EnvConfig())  # 2 mm increments in world axes, no base controller
    assert plain["action_increment_m"] == 0.002
    session = make(tmp_path, action_meta=plain)
    for step in range(4):
        session.on_state(state(0, step, truncated=step == 3))
    latest = session.save_checkpoint("latest")
    # A previous pair kept beside it (as after a write cut short) must not be fallen back
    # on: the settings refuse both alike, and that is no damaged file.
    previous = previous_path(latest)
    shutil.copyfile(latest, previous)
    shutil.copyfile(buffer_path(latest), buffer_path(previous))
    assert make(tmp_path).action_meta == plain
    with pytest.raises(CheckpointError, match=r"env.action_increment_m 0.002 in the "
                                              r"checkpoint, 0.004 now") as refused:
        make(tmp_path, action_meta={**plain, "action_increment_m": 0.004})
    assert "previous" not in str(refused.value)
    fresh = Session(2, 1, TD3_SMALL, ExplorationConfig(), TRAIN, tmp_path / "other",
                    action_meta={**plain, "action_increment_m": 0.004})
    with pytest.raises(CheckpointError):
        fresh.load_checkpoint(tmp_path / "checkpoints" / "latest.pt")
    assert len(fresh.learner.buffer) == 0 and fresh.env_steps == 0
