"""The two action modes: increment integrates the correction, offset is the correction;
both bound it by the rate and depth limits, and action_toward() speaks both."""

import numpy as np
import pytest

from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.env.observation import CORRECTION_SCALE_M, observation_slices

SLOW = dict(randomize=False, kneading_amplitude_m=0.0, stroke_speed_m_s=0.005, stroke="along_spine",
            stroke_direction="forward")


@pytest.fixture(scope="module")
def increment_env():
    env = MassageEnv(action_mode="increment", **SLOW)
    yield env
    env.close()


def test_increment_mode_integrates_the_action(increment_env):
    env, step_m = increment_env, increment_env.config.action_increment_m
    env.reset(seed=0)
    for count in range(1, 4):
        obs, *_ = env.step(np.array([0.5, 0.0, 0.0]))
        np.testing.assert_allclose(env.correction_m, [0.5 * step_m * count, 0.0, 0.0],
                                   atol=1e-9)
    # the observation carries it, and a zero action holds it
    correction = obs[observation_slices()["correction"]] * CORRECTION_SCALE_M
    np.testing.assert_allclose(correction, env.correction_m, atol=1e-6)
    env.step(np.zeros(3))
    assert env.correction_m[0] == pytest.approx(1.5 * step_m)


def test_increment_mode_does_not_wind_up_past_the_depth_limit(increment_env):
    env, cfg = increment_env, increment_env.config
    env.reset(seed=0)
    for _ in range(40):  # pushing down far longer than the depth limit allows
        env.step(np.array([0.0, 0.0, -1.0]))
    reference = env.path_reference()
    depth_below_touch = float(np.dot(reference.touch_m - (reference.target_m
                                                          + env.correction_m),
                                     reference.normal))
    assert depth_below_touch <= cfg.max_indentation_m + 1e-9
    # so one step up already lifts the commanded target (no wound-up depth to unwind)
    before = env.step(np.zeros(3))[4]["tool_z_cmd_m"]
    after = env.step(np.array([0.0, 0.0, 1.0]))[4]["tool_z_cmd_m"]
    assert after > before + 0.5 * cfg.action_increment_m


def test_the_speed_limit_does_not_leak_into_the_correction():
    """A target slowed by the speed limit (here the path itself outruns it) only lags;
    the correction must not absorb the lag and keep it once the limit lets go."""
    env = MassageEnv(action_mode="increment", max_target_speed_m_s=0.02,
                     **{**SLOW, "stroke_speed_m_s": 0.1})
    env.reset(seed=0)
    for _ in range(30):
        env.step(np.zeros(3))
    np.testing.assert_allclose(env.correction_m, np.zeros(3), atol=1e-12)
    env.close()


@pytest.mark.parametrize("mode", ["increment", "offset"])
def test_hold_action_keeps_the_correction(mode):
    env = MassageEnv(action_mode=mode, **SLOW)
    env.reset(seed=0)
    env.step(np.array([0.3, -0.2, -0.1]))  # well above the depth limit
    kept = env.correction_m
    for _ in range(3):
        env.step(env.hold_action())
    np.testing.assert_allclose(env.correction_m, kept, atol=1e-9)
    env.close()


@pytest.mark.parametrize("mode", ["increment", "offset"])
def test_action_toward_reaches_a_correction_in_either_mode(mode):
    env = MassageEnv(action_mode=mode, **SLOW)
    env.reset(seed=0)
    wanted = np.array([0.004, -0.003, -0.005])
    for _ in range(5):
        env.step(env.action_toward(wanted))
    np.testing.assert_allclose(env.correction_m, wanted, atol=1e-9)
    env.close()


def test_path_controller_is_the_same_in_both_modes():
    forces = {}
    for mode in ("increment", "offset"):
        env = MassageEnv(action_mode=mode, **SLOW)
        env.reset(seed=0)
        forces[mode] = [env.step(np.zeros(3))[4]["force_n"] for _ in range(20)]
        env.close()
    np.testing.assert_allclose(forces["increment"], forces["offset"], atol=1e-9)
