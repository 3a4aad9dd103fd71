"""Replay buffer: ring wrap-around, terminations, save/load (also of older files)."""

import numpy as np
import pytest
import torch

from massage_td3_ros.td3.replay_buffer import ReplayBuffer, required_bytes


def filled(capacity, count, obs_dim=2, act_dim=1, seed=0):
    buffer = ReplayBuffer(capacity, obs_dim, act_dim, np.random.default_rng(seed))
    for i in range(count):
        buffer.add(np.full(obs_dim, i), np.full(act_dim, -i), float(i), np.full(obs_dim, i + 1),
                   terminated=(i % 5 == 4))
    return buffer


def test_wrap_around_overwrites_the_oldest():
    buffer = filled(5, 7)
    assert len(buffer) == 5 and buffer.ptr == 2
    assert sorted(buffer.reward[:, 0].tolist()) == [2, 3, 4, 5, 6]
    assert buffer.reward[0, 0] == 5 and buffer.reward[1, 0] == 6


def test_terminations_are_stored():
    buffer = filled(10, 6)
    assert buffer.terminated[:6, 0].tolist() == [0, 0, 0, 0, 1, 0]


def test_sample_shapes_types_and_range():
    buffer = filled(100, 30, obs_dim=3, act_dim=2)
    batch = buffer.sample(64)
    assert batch.obs.shape == (64, 3) and batch.action.shape == (64, 2)
    assert batch.reward.shape == batch.terminated.shape == (64, 1)
    assert all(t.dtype == torch.float32 for t in batch)
    assert batch.reward.max() <= 29 and batch.reward.min() >= 0
    # rows stay consistent: next_obs = obs + 1 in this buffer
    assert torch.equal(batch.next_obs, batch.obs + 1)


@pytest.mark.parametrize(("capacity", "count"), [(10, 10), (10, 17), (10, 9), (10, 8)])
def test_sampling_avoids_the_slots_the_next_stores_fill(capacity, count):
    """A reader in another process (the learner process) never meets a slot being
    written; every other held slot is drawn."""
    buffer = filled(capacity, count, seed=count)
    avoided = {(buffer.ptr + k) % capacity for k in range(2)}
    held = set(range(len(buffer)))
    drawn = set(buffer.sample(2000, avoid_next=2).reward[:, 0].long().tolist())
    slots = {int(np.flatnonzero(buffer.reward[:, 0] == value)[0]) for value in drawn}
    assert slots == held - avoided


def test_storage_given_is_the_storage_used_and_can_be_let_go():
    shapes = ReplayBuffer.shapes(4, 2, 1)
    storage = {name: np.zeros(shape, np.float32) for name, shape in shapes.items()}
    buffer = ReplayBuffer(4, 2, 1, storage=storage)
    buffer.add(np.ones(2), np.ones(1), 3.0, np.ones(2), terminated=False)
    assert storage["reward"][0, 0] == 3.0
    buffer.own_storage()
    storage["reward"][0, 0] = 0.0
    assert buffer.reward[0, 0] == 3.0 and len(buffer) == 1
    with pytest.raises(ValueError, match="storage for obs"):
        ReplayBuffer(4, 3, 1, storage=storage)


def test_memory_figure():
    buffer = ReplayBuffer(1000, 10, 3)
    assert buffer.nbytes == required_bytes(1000, 10, 3) == 4 * 1000 * (20 + 3 + 2)


def test_save_load_exact_copy_continues_sampling_identically(tmp_path):
    buffer = filled(5, 8, seed=3)
    path = buffer.save(tmp_path / "b.npz")
    copy = ReplayBuffer(5, 2, 1, np.random.default_rng(3))
    copy.load(path)
    assert copy.ptr == buffer.ptr and len(copy) == len(buffer)
    assert np.array_equal(copy.reward, buffer.reward)
    assert torch.equal(copy.sample(16).obs, buffer.sample(16).obs)
    assert not list(tmp_path.glob("*.tmp"))


def test_load_into_smaller_buffer_keeps_newest_in_order(tmp_path):
    path = filled(5, 8).save(tmp_path / "b.npz")  # holds 3..7, wrapped
    small = ReplayBuffer(3, 2, 1)
    small.load(path)
    assert small.reward[:, 0].tolist() == [5, 6, 7] and small.ptr == 0


def test_load_size_mismatch_and_garbage_are_named(tmp_path):
    path = filled(5, 3).save(tmp_path / "b.npz")
    with pytest.raises(ValueError, match="observation size 2 != expected 4"):
        ReplayBuffer(5, 4, 1).load(path)
    with pytest.raises(ValueError, match="action size 1 != expected 2"):
        ReplayBuffer(5, 2, 2).load(path)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable replay buffer"):
        ReplayBuffer(5, 2, 1).load(bad)


def test_a_file_with_the_former_truncated_column_still_loads(tmp_path):
    """Buffer files saved beside checkpoints before the unused column was dropped."""
    buffer = filled(5, 4)
    path = tmp_path / "old.npz"
    np.savez(path, obs_dim=2, act_dim=1, capacity=5, ptr=buffer.ptr, token=np.array("t"),
             truncated=np.zeros((4, 1), dtype=np.float32),
             **{name: getattr(buffer, name)[:4]
                for name in ("obs", "action", "reward", "next_obs", "terminated")})
    copy = ReplayBuffer(5, 2, 1)
    copy.load(path)
    assert ReplayBuffer.read_token(path) == "t" and len(copy) == 4
    assert np.array_equal(copy.reward, buffer.reward)
    assert np.array_equal(copy.terminated, buffer.terminated)
