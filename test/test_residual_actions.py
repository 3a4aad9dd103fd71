"""Residual actions (EnvConfig.action_base): the agent's action is added to the
pid-preview force controller's, inside the env, so every path (in-process, ROS sim,
real-arm bridge) applies the same base."""

from __future__ import annotations

import numpy as np
import pytest

from massage_td3_ros.env.force_control import TUNED_INCREMENT_M
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.env.observation import observation_slices
from massage_td3_ros.evaluation.controllers import make_controller
from massage_td3_ros.evaluation.evaluate import play

# At the increment the baselines' gains were tuned with, so the plain env is the one
# pid-preview is scored on (and the one the residual results ran at).
SHORT = {"episode_time_s": 3.0, "randomize": True, "action_increment_m": TUNED_INCREMENT_M}
SEED = 11
LAST_ACTION = observation_slices()["last_action"]


def _forces(env: MassageEnv, act) -> tuple[list[float], list[np.ndarray]]:
    obs, _ = env.reset(seed=SEED)
    forces, applied, done = [], [], False
    while not done:
        obs, _, terminated, truncated, info = env.step(act(obs, env))
        forces.append(info["force_n"])
        applied.append(obs[LAST_ACTION].copy())
        done = terminated or truncated
    return forces, applied


@pytest.fixture(scope="module")
def envs():
    plain = MassageEnv(**SHORT)
    residual = MassageEnv(**SHORT, action_base="pid-preview")
    yield plain, residual
    plain.close()
    residual.close()


def test_a_zero_residual_is_the_base_controller(envs):
    plain, residual = envs
    pid = make_controller("pid-preview")
    pid.reset(plain)
    pid_forces, pid_actions = _forces(plain, pid.act)
    zero_forces, zero_actions = _forces(residual, lambda obs, env: np.zeros(3, np.float32))
    assert len(zero_forces) == len(pid_forces) == 90
    assert max(pid_forces) > 5.0  # it pressed: the comparison is not of empty episodes
    np.testing.assert_allclose(zero_forces, pid_forces, atol=1e-4)
    # the observation's last action is the applied one (base + residual)
    np.testing.assert_allclose(zero_actions, pid_actions, atol=1e-6)


def test_the_residual_adds_to_the_base_and_the_sum_is_clipped(envs):
    _, residual = envs
    zero_forces, zero_actions = _forces(residual, lambda obs, env: np.zeros(3, np.float32))
    lift = np.array([0.0, 0.0, 1.0], np.float32)  # up, as far as the base can push down
    lifted_forces, lifted_actions = _forces(residual, lambda obs, env: lift)
    assert np.mean(lifted_forces) < np.mean(zero_forces) - 1.0
    assert np.all(np.abs(lifted_actions) <= 1.0)
    np.testing.assert_allclose(lifted_actions[0], np.clip(zero_actions[0] + lift, -1, 1),
                               atol=1e-6)  # first step: same state, base + residual


def test_the_residual_is_scaled_before_it_is_added():
    half = MassageEnv(**SHORT, action_base="pid-preview", residual_scale=0.5)
    full = MassageEnv(**SHORT, action_base="pid-preview")
    try:
        residual = np.array([0.3, -0.2, 0.4], np.float32)
        base = _forces(full, lambda obs, env: np.zeros(3, np.float32))[1][0]
        scaled = _forces(half, lambda obs, env: residual)[1][0]
        np.testing.assert_allclose(scaled, np.clip(base + 0.5 * residual, -1, 1), atol=1e-6)
    finally:
        half.close()
        full.close()


def test_the_base_restarts_with_each_episode(envs):
    _, residual = envs
    first = _forces(residual, lambda obs, env: np.zeros(3, np.float32))[0]
    residual.reset(seed=SEED + 1)
    for _ in range(30):  # leave the integrator wound up in another episode
        residual.step(np.zeros(3, np.float32))
    again = _forces(residual, lambda obs, env: np.zeros(3, np.float32))[0]
    np.testing.assert_allclose(again, first, atol=1e-9)


def test_play_reports_the_base_as_part_of_the_env():
    env = MassageEnv(episode_time_s=0.5, randomize=False, action_base="pid-preview")
    try:
        class Zero:
            name, action_settings = "zero", {"action_base": "pid-preview"}

            def reset(self, env):
                pass

            def act(self, obs, env):
                return np.zeros(3, np.float32)

        obs, _ = env.reset(seed=0)
        total, info, trace = play(env, Zero(), obs, ("force_n",))
        assert len(trace["force_n"]) == 15 and np.isfinite(total)
    finally:
        env.close()
