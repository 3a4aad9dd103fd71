"""Checkpoints: round trip, size/layout mismatch and corrupt files fail loudly; a Policy
loads a checkpoint's actor alone."""

import hashlib
import re

import numpy as np
import pytest
import torch

from massage_td3_ros.td3 import policy as policy_module
from massage_td3_ros.td3.checkpoint import CheckpointError, buffer_path, load_checkpoint
from massage_td3_ros.td3.config import ExplorationConfig, TD3Config
from massage_td3_ros.td3.policy import Policy
from massage_td3_ros.training.config import TrainConfig
from massage_td3_ros.training.session import Session
from massage_td3_ros.training.step_state import StepState

TD3_SMALL = TD3Config(actor_hidden=(16, 16), critic_hidden=(16, 16), batch_size=16,
                      torch_threads=1)
TRAIN = TrainConfig(warmup_steps=20, buffer_size=500, log_tensorboard=False,
                    eval_every_episodes=0, plot_every_episodes=0, checkpoint_every_steps=0)
LAYOUT = [("joint_pos", 2), ("force", 1)]


def session(run_dir, obs_dim=3, act_dim=2, layout=LAYOUT, td3=TD3_SMALL, **kwargs):
    return Session(obs_dim, act_dim, td3, ExplorationConfig(), TRAIN, run_dir,
                   obs_labels=layout, **kwargs)


class Tampered:
    """What a tampered checkpoint could hold: code torch.load must not run."""

    def __reduce__(self):
        return (print, ("ran code from a checkpoint",))


def actor_weights(run):
    return [p.clone() for p in run.learner.agent.actor.parameters()]


def trained_session(run_dir, obs_dim=3, act_dim=2, layout=LAYOUT, steps=60):
    trained = session(run_dir, obs_dim, act_dim, layout)
    rng = np.random.default_rng(0)
    for step in range(steps + 1):
        state = StepState(obs=rng.normal(size=obs_dim).astype(np.float32), episode=0,
                          step=step, first=step == 0, reward=float(rng.normal()),
                          truncated=step == steps)
        trained.on_state(state)
        trained.update()
    return trained


def test_round_trip_restores_weights_counters_and_buffer(tmp_path):
    trained = trained_session(tmp_path / "a")
    assert trained.learner.updates > 0 and trained.episodes == 1
    path = trained.save_checkpoint("latest")
    assert path.is_file() and buffer_path(path).is_file()
    assert not list(path.parent.glob("*.tmp"))
    other = session(tmp_path / "b")
    other.load_checkpoint(path)
    for mine, theirs in zip(actor_weights(trained), actor_weights(other)):
        assert torch.equal(mine, theirs)
    obs = np.ones(3, dtype=np.float32)
    assert np.array_equal(other.learner.policy.act(obs), trained.learner.policy.act(obs))
    assert other.counters() == trained.counters()
    assert len(other.learner.buffer) == len(trained.learner.buffer) == 60
    meta = load_checkpoint(path)["meta"]
    assert meta["obs_labels"] == [["joint_pos", 2], ["force", 1]]
    assert meta["config"]["td3"]["actor_hidden"] == [16, 16]
    assert set(meta["rng"]) == {"global", "warmup", "buffer"}
    assert "previous" in meta["exploration"]


def test_run_folder_latest_resumes_automatically(tmp_path):
    trained = trained_session(tmp_path)
    trained.save_checkpoint("latest")
    resumed = session(tmp_path)
    assert resumed.env_steps == 60 and resumed.learner.updates == trained.learner.updates


@pytest.mark.parametrize("obs_dim, act_dim, layout, message", [
    (4, 2, None, "observation size mismatch: checkpoint has 3, expected 4"),
    (3, 1, LAYOUT, "action size mismatch: checkpoint has 2, expected 1"),
    (3, 2, [("joint_pos", 1), ("force", 2)], "observation layout mismatch"),
])
def test_mismatch_errors_name_the_mismatch(tmp_path, obs_dim, act_dim, layout, message):
    path = trained_session(tmp_path / "a").save_checkpoint("latest")
    other = session(tmp_path / "b", obs_dim, act_dim, layout)
    before = actor_weights(other)
    with pytest.raises(CheckpointError, match=message):
        other.load_checkpoint(path)
    assert all(torch.equal(a, b) for a, b in zip(before, actor_weights(other)))
    with pytest.raises(CheckpointError, match=message):
        Policy.load(path, obs_dim, act_dim, layout)


def test_network_size_mismatch_is_named(tmp_path):
    path = trained_session(tmp_path / "a").save_checkpoint("latest")
    wider = TD3Config(actor_hidden=(32, 16), critic_hidden=(16, 16))
    other = session(tmp_path / "b", layout=None, td3=wider)
    with pytest.raises(CheckpointError, match=r"td3.actor_hidden is \[16, 16\]"):
        other.load_checkpoint(path)


def test_corrupt_truncated_and_missing_files(tmp_path):
    path = trained_session(tmp_path / "a").save_checkpoint("latest")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00garbage" * 100)
    tampered = tmp_path / "tampered.pt"
    torch.save({"meta": "{}", "agent": {}, "torch_rng": Tampered()}, tampered)
    for bad, reason in ((truncated, "Error: "), (garbage, "UnpicklingError: Unsupported "),
                        (tampered, "UnpicklingError: Unsupported global: GLOBAL "
                                   "print was not an allowed global")):
        with pytest.raises(CheckpointError) as error:
            load_checkpoint(bad)
        # One line: the file, what is wrong, torch's reason; none of torch's advice
        # (such as loading with weights_only=False, which would run the tampered code).
        message = str(error.value)
        assert message.startswith(f"{bad}: corrupt or truncated checkpoint file ("), message
        assert reason in message and "\n" not in message, message
        assert not re.search("weights_only|trust|documentation|issue", message), message
        assert error.value.__cause__ is None and error.value.__suppress_context__
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"meta": "{}", "agent": {}, "torch_rng": torch.get_rng_state()}, foreign)
    with pytest.raises(CheckpointError, match="not a massage_td3_ros"):
        load_checkpoint(foreign)


def test_eval_mode_loads_the_policy_and_acts_deterministically(tmp_path):
    trained = trained_session(tmp_path / "a")
    path = trained.save_checkpoint("best", with_buffer=False)
    # Other widths in the node's td3 settings: the policy's come from the checkpoint.
    evaluator = session(tmp_path / "e", td3=TD3Config(actor_hidden=(8,), critic_hidden=(8,)),
                        mode="eval", checkpoint=path)
    obs = np.ones(3, dtype=np.float32)
    action = evaluator.on_state(StepState(obs=obs, episode=0, step=0, first=True))
    assert np.array_equal(action, trained.learner.policy.act(obs))
    assert evaluator.learner.buffer is None and evaluator.update() == 0
    evaluator.on_state(StepState(obs=obs, episode=0, step=1, first=False, reward=-2.0,
                                 truncated=True))
    assert evaluator.eval_episodes == 1 and evaluator.env_steps == 0
    assert evaluator.logger.evals[-1]["mean_return"] == -2.0
    assert (tmp_path / "e" / "eval.csv").is_file()


def test_a_policy_reads_its_checkpoint_once(tmp_path, monkeypatch):
    path = trained_session(tmp_path / "a").save_checkpoint("best", with_buffer=False)
    reads = []

    def counting(*args, **kwargs):
        reads.append(args[0])
        return load_checkpoint(*args, **kwargs)
    monkeypatch.setattr(policy_module, "load_checkpoint", counting)
    policy = Policy.load(path, 3, 2, LAYOUT)
    assert reads == [path]
    assert policy.meta["counters"]["env_steps"] == 60
    assert policy.config.actor_hidden == (16, 16)


def test_a_policy_names_the_exact_file_it_loaded(tmp_path):
    # The digest is of the bytes loaded: a path replaced afterwards (best.pt) no
    # longer matches it (scripts/train.sh relies on this).
    run = trained_session(tmp_path / "a")
    path = run.save_checkpoint("best", with_buffer=False)
    policy = Policy.load(path, 3, 2, LAYOUT)
    assert policy.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    run.on_state(StepState(obs=np.zeros(3, dtype=np.float32), episode=1, step=0, first=True))
    run.save_checkpoint("best", with_buffer=False)
    assert hashlib.sha256(path.read_bytes()).hexdigest() != policy.sha256


def test_corrupt_buffer_beside_checkpoint_fails_before_changing_anything(tmp_path):
    path = trained_session(tmp_path / "a").save_checkpoint("latest")
    buffer_path(path).write_bytes(b"broken")
    other = session(tmp_path / "b")
    before = actor_weights(other)
    with pytest.raises(CheckpointError, match="replay buffer"):
        other.load_checkpoint(path)
    assert all(torch.equal(a, b) for a, b in zip(before, actor_weights(other)))
    assert other.env_steps == 0 and len(other.learner.buffer) == 0


def test_a_buffer_from_another_save_is_never_paired_with_the_checkpoint(tmp_path):
    """As after a crash between writing the buffer and the checkpoint file."""
    trained = trained_session(tmp_path / "a")
    path = trained.save_checkpoint("latest")
    old_checkpoint = path.read_bytes()
    trained.save_checkpoint("latest")  # a newer buffer and checkpoint...
    path.write_bytes(old_checkpoint)   # ...but only the buffer made it to disk
    other = session(tmp_path / "b")
    with pytest.raises(CheckpointError, match="written by another save"):
        other.load_checkpoint(path)
    assert other.env_steps == 0 and len(other.learner.buffer) == 0
