"""Checkpoints: round trip, size/layout mismatch and corrupt files fail loudly."""

import numpy as np
import pytest
import torch

from massage_td3_ros.td3.checkpoint import CheckpointError, buffer_path, load_checkpoint
from massage_td3_ros.td3.config import ExplorationConfig, TD3Config
from massage_td3_ros.training.config import TrainConfig
from massage_td3_ros.training.learner import OnlineLearner, StepState

TD3_SMALL = TD3Config(actor_hidden=(16, 16), critic_hidden=(16, 16), batch_size=16,
                      torch_threads=1)
TRAIN = TrainConfig(warmup_steps=20, buffer_size=500, log_tensorboard=False,
                    eval_every_episodes=0, plot_every_episodes=0, checkpoint_every_steps=0)
LAYOUT = [("joint_pos", 2), ("force", 1)]


def trained_learner(run_dir, obs_dim=3, act_dim=2, layout=LAYOUT, steps=60):
    learner = OnlineLearner(obs_dim, act_dim, TD3_SMALL, ExplorationConfig(), TRAIN, run_dir,
                            obs_labels=layout)
    rng = np.random.default_rng(0)
    for step in range(steps + 1):
        state = StepState(obs=rng.normal(size=obs_dim).astype(np.float32), episode=0,
                          step=step, first=step == 0, reward=float(rng.normal()),
                          truncated=step == steps)
        learner.on_state(state)
        learner.update()
    return learner


def test_round_trip_restores_weights_counters_and_buffer(tmp_path):
    learner = trained_learner(tmp_path / "a")
    assert learner.updates > 0 and learner.episodes == 1
    path = learner.save_checkpoint("latest")
    assert path.is_file() and buffer_path(path).is_file()
    assert not list(path.parent.glob("*.tmp"))
    other = OnlineLearner(3, 2, TD3_SMALL, ExplorationConfig(), TRAIN, tmp_path / "b",
                          obs_labels=LAYOUT)
    other.load_checkpoint(path)
    for mine, theirs in zip(learner.agent.state_dict()["actor"].values(),
                            other.agent.state_dict()["actor"].values()):
        assert torch.equal(mine, theirs)
    assert other.counters() == learner.counters()
    assert len(other.buffer) == len(learner.buffer) == 60
    meta = load_checkpoint(path)["meta"]
    assert meta["obs_labels"] == [["joint_pos", 2], ["force", 1]]
    assert meta["config"]["td3"]["actor_hidden"] == [16, 16]
    assert set(meta["rng"]) == {"global", "warmup", "buffer"}
    assert "previous" in meta["exploration"]


def test_run_folder_latest_resumes_automatically(tmp_path):
    learner = trained_learner(tmp_path)
    learner.save_checkpoint("latest")
    resumed = OnlineLearner(3, 2, TD3_SMALL, ExplorationConfig(), TRAIN, tmp_path,
                            obs_labels=LAYOUT)
    assert resumed.env_steps == 60 and resumed.updates == learner.updates


@pytest.mark.parametrize("obs_dim, act_dim, layout, message", [
    (4, 2, None, "observation size mismatch: checkpoint has 3, expected 4"),
    (3, 1, LAYOUT, "action size mismatch: checkpoint has 2, expected 1"),
    (3, 2, [("joint_pos", 1), ("force", 2)], "observation layout mismatch"),
])
def test_mismatch_errors_name_the_mismatch(tmp_path, obs_dim, act_dim, layout, message):
    path = trained_learner(tmp_path / "a").save_checkpoint("latest")
    other = OnlineLearner(obs_dim, act_dim, TD3_SMALL, ExplorationConfig(), TRAIN,
                          tmp_path / "b", obs_labels=layout)
    before = [p.clone() for p in other.agent.actor.parameters()]
    with pytest.raises(CheckpointError, match=message):
        other.load_checkpoint(path)
    assert all(torch.equal(a, b) for a, b in zip(before, other.agent.actor.parameters()))


def test_network_size_mismatch_is_named(tmp_path):
    path = trained_learner(tmp_path / "a").save_checkpoint("latest")
    wider = TD3Config(actor_hidden=(32, 16), critic_hidden=(16, 16))
    other = OnlineLearner(3, 2, wider, ExplorationConfig(), TRAIN, tmp_path / "b")
    with pytest.raises(CheckpointError, match=r"td3.actor_hidden is \[16, 16\]"):
        other.load_checkpoint(path)


def test_corrupt_truncated_and_missing_files(tmp_path):
    path = trained_learner(tmp_path / "a").save_checkpoint("latest")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00garbage" * 100)
    for bad in (truncated, garbage):
        with pytest.raises(CheckpointError, match="corrupt or truncated"):
            load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"meta": "{}", "agent": {}, "torch_rng": torch.get_rng_state()}, foreign)
    with pytest.raises(CheckpointError, match="not a massage_td3_ros"):
        load_checkpoint(foreign)


def test_eval_mode_loads_weights_and_acts_deterministically(tmp_path):
    learner = trained_learner(tmp_path / "a")
    path = learner.save_checkpoint("best", with_buffer=False)
    evaluator = OnlineLearner(3, 2, TD3_SMALL, ExplorationConfig(), TRAIN, tmp_path / "e",
                              obs_labels=LAYOUT, mode="eval", checkpoint=path)
    obs = np.ones(3, dtype=np.float32)
    action = evaluator.on_state(StepState(obs=obs, episode=0, step=0, first=True))
    assert np.array_equal(action, learner.act(obs))
    assert evaluator.buffer is None and evaluator.update() == 0
    evaluator.on_state(StepState(obs=obs, episode=0, step=1, first=False, reward=-2.0,
                                 truncated=True))
    assert evaluator.eval_episodes == 1 and evaluator.env_steps == 0
    assert evaluator.logger.evals[-1]["mean_return"] == -2.0
    assert (tmp_path / "e" / "eval.csv").is_file()


def test_corrupt_buffer_beside_checkpoint_fails_before_changing_anything(tmp_path):
    path = trained_learner(tmp_path / "a").save_checkpoint("latest")
    buffer_path(path).write_bytes(b"broken")
    other = OnlineLearner(3, 2, TD3_SMALL, ExplorationConfig(), TRAIN, tmp_path / "b",
                          obs_labels=LAYOUT)
    before = [p.clone() for p in other.agent.actor.parameters()]
    with pytest.raises(CheckpointError, match="replay buffer"):
        other.load_checkpoint(path)
    assert all(torch.equal(a, b) for a, b in zip(before, other.agent.actor.parameters()))
    assert other.env_steps == 0 and len(other.buffer) == 0


def test_a_buffer_from_another_save_is_never_paired_with_the_checkpoint(tmp_path):
    """As after a crash between writing the buffer and the checkpoint file."""
    learner = trained_learner(tmp_path / "a")
    path = learner.save_checkpoint("latest")
    old_checkpoint = path.read_bytes()
    learner.save_checkpoint("latest")  # a newer buffer and checkpoint...
    path.write_bytes(old_checkpoint)   # ...but only the buffer made it to disk
    other = OnlineLearner(3, 2, TD3_SMALL, ExplorationConfig(), TRAIN, tmp_path / "b",
                          obs_labels=LAYOUT)
    with pytest.raises(CheckpointError, match="written by another save"):
        other.load_checkpoint(path)
    assert other.env_steps == 0 and len(other.buffer) == 0
