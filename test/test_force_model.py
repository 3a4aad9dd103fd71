"""benchmarks/force_model.py: the force history a fitted model reads is the same whether
built from a replay buffer or by the controller during its own episode, the fit learns
(it beats "no change" on the data it saw), and model-greedy keeps to its search."""

import argparse

import numpy as np
import pytest
import torch
from benchmark_scripts import load_benchmark

from massage_td3_ros.config import load_config
from massage_td3_ros.env.massage_env import MassageEnv


@pytest.fixture(scope="module")
def force_model():
    return load_benchmark("force_model")


def test_history_stays_within_each_episode(force_model):
    forces = np.array([0.0, 1.0, 3.0, 6.0, 10.0, 2.0, 5.0])
    actions = np.arange(21, dtype=np.float32).reshape(7, 3)
    starts = np.array([True, False, False, False, False, True, False])
    history = force_model.history_features(forces, actions, starts)
    scale = force_model.CHANGE_SCALE_N
    np.testing.assert_allclose(history[4, :3] * scale, [4.0, 3.0, 2.0])
    np.testing.assert_allclose(history[2, :3] * scale, [2.0, 1.0, 0.0])  # nothing before row 0
    np.testing.assert_allclose(history[6, :3] * scale, [3.0, 0.0, 0.0])  # a new episode
    np.testing.assert_array_equal(history[4, 3:6], actions[2])   # two steps back
    np.testing.assert_array_equal(history[4, 6:9], actions[1])   # three steps back
    np.testing.assert_array_equal(history[6, 3:], np.zeros(6))   # before its start: none


def short_env() -> MassageEnv:
    config = load_config(None, ["env.episode_time_s=1.0"]).env   # 30 steps
    return MassageEnv(config)


def episode_rows(env, seed: int, act) -> dict[str, np.ndarray]:
    """One episode from reset(seed), acting with ``act(obs)``, as buffer rows."""
    rows = {"obs": [], "action": [], "next_obs": []}
    obs, _ = env.reset(seed=seed)
    done = False
    while not done:
        action = act(obs)
        next_obs, _, terminated, truncated, _ = env.step(action)
        for key, value in zip(rows, (obs, action, next_obs)):
            rows[key].append(value)
        obs, done = next_obs, terminated or truncated
    return {key: np.asarray(value, dtype=np.float32) for key, value in rows.items()}


def rollout_buffer(path, episodes: int = 3) -> None:
    """A replay buffer file of random-action episodes, as the trainer writes one."""
    env, rng = short_env(), np.random.default_rng(0)
    try:
        played = [episode_rows(env, seed, lambda obs: rng.uniform(-1.0, 1.0, 3)
                               .astype(np.float32)) for seed in range(episodes)]
    finally:
        env.close()
    arrays = {key: np.concatenate([p[key] for p in played]) for key in played[0]}
    np.savez(path, **arrays, ptr=np.int64(len(arrays["obs"])))


def test_fit_learns_and_the_controller_reads_what_a_buffer_holds(force_model, tmp_path):
    buffer = tmp_path / "buffer.npz"
    rollout_buffer(buffer)
    data = force_model.load_transitions(str(buffer))
    assert data["starts"].sum() == 3 and data["starts"][0]
    model = tmp_path / "model.pt"
    force_model.fit(argparse.Namespace(
        buffers=[str(buffer)], validation=str(buffer), inputs="history", seed=0, epochs=40,
        batch=32, lr=1e-3, threads=1, out=str(model), rows=None))
    saved = torch.load(model, weights_only=False)
    assert saved["validation_rms_n"] < 0.8 * saved["no_change_rms_n"]

    class Recording(force_model.ModelGreedy):
        def reset(self, env):
            super().reset(env)
            self.rows: list[np.ndarray] = []

        def model_inputs(self, obs, candidates):
            self.rows.append(super().model_inputs(obs, candidates))
            return self.rows[-1]

    controller = Recording(str(model))
    env = short_env()
    try:
        controller.reset(env)   # it reads nothing of the env's state
        arrays = episode_rows(env, 11, lambda obs: controller.act(obs, env))
    finally:
        env.close()
    starts = np.zeros(len(arrays["obs"]), dtype=bool)
    starts[0] = True
    from_buffer, _ = force_model.features({**arrays, "starts": starts}, "history")
    assert len(controller.rows) == len(from_buffer) == 30
    action_columns = slice(arrays["obs"].shape[1], arrays["obs"].shape[1] + 3)
    for step, candidate_rows in enumerate(controller.rows):
        # the action taken is one of the searched depth changes (no back-off here), and
        # the controller's row for it is the one a buffer of this episode gives
        taken = [row for row in candidate_rows
                 if np.array_equal(row[action_columns], arrays["action"][step])]
        assert taken, f"step {step}: the action taken was not among those searched"
        np.testing.assert_allclose(taken[0], from_buffer[step], atol=1e-6)
    assert len(controller.prediction_errors_n) == len(from_buffer) - 1
