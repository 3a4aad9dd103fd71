"""The two action modes: increment integrates the correction, offset is the correction;
both bound it by the rate and depth limits, and action_toward() speaks both."""

import numpy as np
import pytest

from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.env.observation import CORRECTION_SCALE_M, observation_slices

SLOW = dict(kneading_amplitude_m=0.0, stroke_speed_m_s=0.005, stroke="along_spine",
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
    # so one step up already lifts the tool target (no wound-up depth to unwind first)
    before = env.correction_m[2]
    env.step(np.array([0.0, 0.0, 1.0]))
    assert env.correction_m[2] > before


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
