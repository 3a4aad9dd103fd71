"""MassageEnv as a gymnasium env: checker, registration, actions, seeding, info."""

import subprocess
import sys

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import massage_td3_ros  # noqa: F401  (registers MassageEnv-v0)
from massage_td3_ros.env import OBS_DIM, STEP_INFO_KEYS, EnvConfig, observation_labels
from massage_td3_ros.env.episode import MASSAGE_ENV_ID
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.evaluation.controllers import PathController
from massage_td3_ros.evaluation.evaluate import evaluate, run_episode

SHORT = EnvConfig(episode_time_s=0.5)  # 15 control steps


@pytest.fixture(scope="module")
def env():
    env = MassageEnv(randomize=False)  # the nominal person: every episode alike
    yield env
    env.close()


def test_check_env_passes():
    env = MassageEnv()
    check_env(env, skip_render_check=True)
    env.close()


def test_gymnasium_make_works():
    env = gymnasium.make("MassageEnv-v0", randomize=False, target_force_n=15.0)
    obs, info = env.reset(seed=1)
    assert obs.shape == (OBS_DIM,) and info["target_force_n"] == 15.0
    obs, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)
    env.close()


def run_to_end(env, seed=0):
    """Zero actions from a reset to the episode's end: (steps, every step's outcome)."""
    env.reset(seed=seed)
    outcomes = []
    while not outcomes or not (outcomes[-1][1] or outcomes[-1][2]):
        _, reward, terminated, truncated, info = env.step(np.zeros(3, dtype=np.float32))
        outcomes.append((reward, terminated, truncated, info))
    return len(outcomes), outcomes


def test_registration_declares_the_default_time_limit():
    steps = EnvConfig().max_episode_steps
    assert gymnasium.spec(MASSAGE_ENV_ID).max_episode_steps == steps == 600
    env = gymnasium.make(MASSAGE_ENV_ID)
    assert env.spec.max_episode_steps == steps
    env.close()


def test_time_limit_and_env_truncation_end_the_default_episode_on_the_same_step():
    env = gymnasium.make(MASSAGE_ENV_ID)
    length, outcomes = run_to_end(env)
    assert length == EnvConfig().max_episode_steps
    assert not any(terminated or truncated for _, terminated, truncated, _ in outcomes[:-1])
    _, terminated, truncated, info = outcomes[-1]
    assert truncated and not terminated
    # Only the env's own end adds its metrics: it truncated on this step too.
    assert info["episode_metrics"]["steps"] == length
    env.close()


@pytest.mark.parametrize("how", ["config", "override"])
def test_another_episode_length_goes_to_make_with_max_episode_steps(how):
    steps = SHORT.max_episode_steps
    kwargs = {"config": SHORT} if how == "config" else {"episode_time_s": SHORT.episode_time_s}
    env = gymnasium.make(MASSAGE_ENV_ID, max_episode_steps=steps, **kwargs)
    assert env.spec.max_episode_steps == steps == 15
    length, outcomes = run_to_end(env)
    assert length == steps and outcomes[-1][2] and not outcomes[-1][1]
    assert outcomes[-1][3]["episode_metrics"]["steps"] == steps
    env.close()


def test_a_time_limit_shorter_than_the_config_is_caught_by_evaluation():
    """gymnasium.make cannot see the config's length: a TimeLimit that cuts the episode
    before the env's own end leaves no metrics, and run_episode says why."""
    env = gymnasium.make(MASSAGE_ENV_ID, config=SHORT, max_episode_steps=5)
    with pytest.raises(RuntimeError, match="max_episode_steps"):
        run_episode(env, PathController(), 0, "along_spine", "forward")
    env.close()


def test_record_episode_statistics_wraps_the_env():
    steps = SHORT.max_episode_steps
    env = gymnasium.wrappers.RecordEpisodeStatistics(
        gymnasium.make(MASSAGE_ENV_ID, config=SHORT, max_episode_steps=steps))
    length, outcomes = run_to_end(env)
    info = outcomes[-1][3]
    assert length == steps
    assert info["episode"]["l"] == steps
    assert info["episode"]["r"] == pytest.approx(sum(reward for reward, *_ in outcomes))
    assert info["episode_metrics"]["steps"] == steps
    env.close()


def test_evaluate_gives_the_same_results_on_a_wrapped_env():
    bare = MassageEnv(SHORT)
    wrapped = gymnasium.wrappers.RecordEpisodeStatistics(
        gymnasium.make(MASSAGE_ENV_ID, config=SHORT, max_episode_steps=SHORT.max_episode_steps))
    plain = evaluate(PathController(), episodes=2, env=bare, keep_traces=False)
    recorded = evaluate(PathController(), episodes=2, env=wrapped, keep_traces=False)
    assert recorded["aggregate"] == plain["aggregate"]
    assert [e["metrics"] for e in recorded["episodes"]] == \
        [e["metrics"] for e in plain["episodes"]]
    assert all(e["metrics"]["steps"] == SHORT.max_episode_steps for e in recorded["episodes"])
    bare.close()
    wrapped.close()


@pytest.mark.parametrize("action, problem", [
    ([0.0, np.nan, 0.0], "finite"),
    ([np.inf, 0.0, 0.0], "finite"),
    ([0.0, 0.0], "shape"),
    ([[0.0, 0.0, 0.0]], "shape"),
    ("abc", "3 numbers"),
])
def test_bad_actions_raise_value_error_and_do_not_step(env, action, problem):
    env.reset(seed=0)
    before = env.snapshot()
    with pytest.raises(ValueError, match=problem):
        env.step(action)
    after = env.snapshot()
    assert after.time_s == before.time_s
    np.testing.assert_array_equal(after.joint_pos_rad, before.joint_pos_rad)


def test_out_of_range_actions_are_clipped(env):
    env.reset(seed=0)
    a = env.step(np.array([5.0, -5.0, 0.5]))
    env.reset(seed=0)
    b = env.step(np.array([1.0, -1.0, 0.5]))
    np.testing.assert_array_equal(a[0], b[0])


def rollout(env, seed, steps=40):
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample() * 0.3)
        out.append(np.append(obs, reward))
        if terminated or truncated:
            break
    return out


def test_same_seed_gives_the_same_trajectory():
    first, second = MassageEnv(randomize=True), MassageEnv(randomize=True)
    a, b = rollout(first, 7), rollout(second, 7)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = rollout(first, 8)  # another seed: another body, target and path
    assert not np.array_equal(a[0], c[0])
    # and the same env reset with the same seed again repeats itself, bit for bit
    np.testing.assert_array_equal(np.concatenate(rollout(first, 7)), np.concatenate(a))
    first.close()
    second.close()


def press_until_over_force(env, seed):
    env.reset(seed=seed)
    for _ in range(300):
        _, _, terminated, _, info = env.step(np.array([0.0, 0.0, -1.0]))
        if terminated:
            return info
    raise AssertionError("pressing down at full speed never crossed the safety limit")


def test_reset_after_an_over_force_end_reads_no_contact_and_no_force(env):
    end = press_until_over_force(env, 5)
    assert end["over_force"] == 1.0
    obs, info = env.reset(seed=6)
    assert info["force_n"] == 0.0 and info["over_force"] == 0.0
    assert info["contact_link"] == -1.0  # no contact of any link
    assert env.snapshot().contacts == ()
    assert env.debug_tool_contacts() == []


@pytest.mark.parametrize("governor_n", [0.0, 30.0])
def test_same_seed_on_a_used_and_a_fresh_env_gives_the_same_trajectory(governor_n):
    """With the force governor on, too: its ramp starts from the new start pose, not
    from where the last episode's (governed, then over-force) step left it."""
    used = MassageEnv(randomize=True, force_governor_n=governor_n)
    for seed in (3, 11):
        rollout(used, seed, steps=600)
    press_until_over_force(used, 5)
    fresh = MassageEnv(randomize=True, force_governor_n=governor_n)
    a, b = rollout(used, 7, steps=200), rollout(fresh, 7, steps=200)
    assert len(a) == len(b)
    np.testing.assert_array_equal(np.concatenate(a), np.concatenate(b))
    used.close()
    fresh.close()


def test_reset_of_a_given_stroke_is_the_same_fixed_state(env):
    case = {"stroke": "across_back", "direction": "reverse"}
    obs_a, _ = env.reset(seed=1, options=case)
    obs_b, _ = env.reset(seed=2, options=case)
    np.testing.assert_array_equal(obs_a, obs_b)


def test_random_stroke_and_direction_cover_all_four_cases(env):
    seen = set()
    for seed in range(24):
        env.reset(seed=seed)
        seen.add((env._draw.stroke, env._draw.direction))
    assert seen == {(s, d) for s in ("along_spine", "across_back")
                    for d in ("forward", "reverse")}


def test_info_has_every_step_key_and_reward_terms(env):
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([0.0, 0.0, -0.3]))
    for key in STEP_INFO_KEYS:
        assert isinstance(info[key], float), key
    assert sum(info["reward_terms"].values()) == pytest.approx(reward)


def test_reset_options(env):
    _, info = env.reset(seed=0, options={"target_force_n": 12.0, "stroke": "across_back",
                                         "direction": "reverse"})
    assert info["target_force_n"] == 12.0 and env.stroke.kind == "across_back"
    with pytest.raises(ValueError, match="target_force"):
        env.reset(options={"target_force": 3})


def test_observation_is_of_order_one(env):
    env.reset(seed=0)
    for step in range(30):  # 3 mm deeper than the path, then hold
        obs, *_ = env.step(np.array([0.0, 0.0, -0.5 if step < 3 else 0.0]))
    assert len(observation_labels()) == OBS_DIM
    assert np.all(np.abs(obs) <= 3.0), dict(zip(observation_labels(), obs))


def test_rgb_array_render_works_headless():
    env = MassageEnv(render_mode="rgb_array", render_width=64, render_height=48)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8 and frame.std() > 5
    env.close()


def test_light_modules_do_not_import_pybullet():
    code = ("import sys, massage_td3_ros.env, massage_td3_ros.env.config, "
            "massage_td3_ros.env.observation, massage_td3_ros.env.reward; "
            "assert 'pybullet' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("overrides, reason", [
    ({"target_force_n": 45.0}, "target force of 45 N is not below safety_force_limit_n"),
    ({"randomize": True, "rand_target_force_n": [10.0, 50.0]},
     "target force of 70 N is not below"),  # 50 N, and a 40 % step up
    ({"tissue_stiffness_n_per_m": 20000.0, "nominal_indentation_m": 0.003},
     "already presses 60 N, not below safety_force_limit_n=45 N"),
])
def test_settings_that_end_every_episode_on_over_force_are_refused(overrides, reason):
    from massage_td3_ros.env.config import EnvConfig
    from massage_td3_ros.params import from_dict

    with pytest.raises(ValueError, match=reason):
        from_dict(EnvConfig, overrides).check()
