"""benchmarks/force_floor.py's one-step oracle and its two-step planner: their trial
steps leave no trace, and the step then taken is the one tried (what their figures rest
on)."""


import numpy as np
import pytest
from benchmark_scripts import load_benchmark

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.evaluation.suites import heldout_episodes


@pytest.fixture(scope="module")
def force_floor():
    return load_benchmark("force_floor")


def world(env):
    """What a trial step could leave behind: joints, the env's step state, metrics."""
    q, qd, _ = env.scene.arm.joint_state()
    return (q.copy(), qd.copy(), env._step, env._force_n, env.correction_m,
            env._cmd_target.copy(), env._last_action.copy(), env.metrics.summary()["steps"])


@pytest.mark.parametrize("horizon", [1, 2])
def test_oracle_trials_leave_no_trace_and_its_step_is_the_one_it_tried(force_floor, horizon):
    config = EnvConfig()
    case = heldout_episodes(config)[0]
    env = MassageEnv(config)
    try:
        obs, _ = env.reset(seed=case.seed, options=dict(case.options))
        for _ in range(20):  # into contact first
            obs, *_ = env.step(np.zeros(3))
        oracle = force_floor.OneStepOracle(horizon)
        oracle.reset(env)
        for _ in range(5):
            before = world(env)
            action = oracle.act(obs, env)
            after = world(env)
            for a, b in zip(before, after, strict=True):
                np.testing.assert_array_equal(a, b)
            obs, _, _, _, info = env.step(action)
            if horizon == 1:
                assert info["force_n"] == oracle._expected  # exactly what the trial saw
            else:  # restored twice over: PyBullet's contact warm start may differ by a hair
                assert info["force_n"] == pytest.approx(oracle._expected, abs=0.05)
        searches = 1 + (horizon - 1) * (1 + force_floor.LOOKAHEAD_OTHERS)  # per step at least
        assert oracle.trials >= 5 * searches * len(force_floor.DEPTH_STEPS_MM)
    finally:
        env.close()


def test_pooled_rms_weighs_each_episode_by_its_steps_and_keeps_only_the_cases_asked():
    pooled_rms = load_benchmark("floor_common_episodes").pooled_rms
    episodes = [{"case": "0 a", "metrics": {"rms_force_error_n": 1.0, "steps": 300.0}},
                {"case": "1 b", "metrics": {"rms_force_error_n": 3.0, "steps": 100.0}},
                {"case": "2 c", "metrics": {"rms_force_error_n": 50.0, "steps": 10.0}}]
    # (1 * 300 + 9 * 100) / 400 = 3: the third episode (left out) must not count
    assert pooled_rms(episodes, {"0 a", "1 b"}) == pytest.approx(np.sqrt(3.0))
    assert pooled_rms(episodes, {"1 b"}) == pytest.approx(3.0)
