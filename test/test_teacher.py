"""benchmarks/teacher.py: the demonstrations are whole, consecutive env steps, and the
start it saves is one that training continues from, with them in its buffer and an
actor that imitates them."""

import argparse

import numpy as np
import pytest
import torch
from benchmark_scripts import BENCHMARKS, load_benchmark

from massage_td3_ros.config import load_config
from massage_td3_ros.td3.checkpoint import checkpoint_path, load_checkpoint

SHORT = ["env.episode_time_s=0.5"]   # 15 steps an episode


@pytest.fixture(scope="module")
def teacher():
    import sys
    sys.path.insert(0, str(BENCHMARKS))   # the script imports its neighbours
    try:
        yield load_benchmark("teacher")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def demos(teacher):
    return teacher.demo_episodes(SHORT, stream=100, first=0, count=2)


def test_demonstrations_are_consecutive_steps_of_whole_episodes(demos):
    arrays, episodes = demos["arrays"], demos["episodes"]
    lengths = [e["steps"] for e in episodes]
    assert len(arrays["reward"]) == sum(lengths) and all(n > 0 for n in lengths)
    ends = np.cumsum(lengths)
    for i in range(len(arrays["reward"]) - 1):
        if i + 1 not in ends:   # within an episode each step starts where the last ended
            np.testing.assert_array_equal(arrays["next_obs"][i], arrays["obs"][i + 1])
    assert np.all(np.abs(arrays["action"]) <= 1.0)
    # the oracle presses: by the end of a short episode the tool reads a force
    assert all(e["rms_force_error_n"] < 30.0 for e in episodes)


def test_start_holds_the_demonstrations_and_imitates_them(teacher, demos, tmp_path):
    config = teacher.training_config(
        load_config(None), argparse.Namespace(overrides=SHORT, eval_every=10)
    ).replace(td3={"batch_size": 16, "actor_hidden": [32, 32], "critic_hidden": [32, 32]},
              train={"buffer_size": 1000})
    arrays = demos["arrays"]
    count = len(arrays["reward"])
    run_dir = tmp_path / "seed3"
    teacher.pretrain_seed(config, arrays, 3, run_dir, updates=300)
    saved = load_checkpoint(checkpoint_path(run_dir, "latest"))
    assert saved["meta"]["counters"]["env_steps"] == count
    assert checkpoint_path(run_dir, f"steps{count}").read_bytes() == \
        checkpoint_path(run_dir, "latest").read_bytes()
    with np.load(checkpoint_path(run_dir, "latest").with_suffix(".buffer.npz")) as buffer:
        np.testing.assert_array_equal(buffer["action"][:count], arrays["action"])
        np.testing.assert_array_equal(buffer["obs"][:count], arrays["obs"])

    from massage_td3_ros.td3.networks import Actor
    cloned = Actor(arrays["obs"].shape[1], 3, [32, 32], 1.0)
    cloned.load_state_dict(saved["agent"]["actor"])
    fresh = Actor(arrays["obs"].shape[1], 3, [32, 32], 1.0)
    obs, wanted = torch.from_numpy(arrays["obs"]), torch.from_numpy(arrays["action"])
    with torch.no_grad():
        cloned_error = torch.mean((cloned(obs) - wanted) ** 2)
        assert cloned_error < 0.5 * torch.mean((fresh(obs) - wanted) ** 2)
    with pytest.raises(SystemExit, match="already holds a run"):
        teacher.pretrain_seed(config, arrays, 3, run_dir, updates=1)


def test_model_greedy_teaches_on_the_same_episodes(teacher, demos, tmp_path):
    """demos --model: model-greedy on a fitted force model acts instead of the oracle,
    on the same training episodes (the same first observation, other actions)."""
    force_model = load_benchmark("force_model")
    arrays = demos["arrays"]
    buffer = tmp_path / "oracle.npz"
    np.savez(buffer, obs=arrays["obs"], action=arrays["action"], next_obs=arrays["next_obs"],
             ptr=np.int64(len(arrays["obs"])))
    model = tmp_path / "model.pt"
    force_model.fit(argparse.Namespace(
        buffers=[str(buffer)], validation=str(buffer), inputs="obs", seed=0, epochs=5,
        batch=16, lr=1e-3, threads=1, out=str(model), rows=None))
    taught = teacher.demo_episodes(SHORT, stream=100, first=0, count=1, model=str(model))
    mine = taught["arrays"]
    np.testing.assert_array_equal(mine["obs"][0], arrays["obs"][0])
    assert not np.array_equal(mine["action"], arrays["action"][:len(mine["action"])])
    for i in range(len(mine["reward"]) - 1):
        np.testing.assert_array_equal(mine["next_obs"][i], mine["obs"][i + 1])
    assert teacher.make_teacher(str(model)).name.startswith("model-greedy")
