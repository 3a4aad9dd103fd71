"""Contact physics of MassageEnv: force against depth, no contact above the body,
steady force at rest, unsafe termination and truncation."""

import numpy as np
import pytest

from massage_td3_ros.env.massage_env import MassageEnv

# A slow, straight stroke: the surface under the tool barely changes.
# A slow straight stroke, and the action as the correction itself (a held action is a
# held depth), so each test sees the physics of one depth.
STILL = dict(randomize=False, kneading_amplitude_m=0.0, stroke_speed_m_s=0.005,
             action_mode="offset", stroke="along_spine", stroke_direction="forward")


@pytest.fixture(scope="module")
def still_env():
    env = MassageEnv(**STILL)
    yield env
    env.close()


def hold(env, action_z, steps=12):
    """Hold a vertical correction; return the last infos and obs."""
    env.reset(seed=0, options={"start_progress": 0.45})  # mid-back, one tissue surface
    infos, obs = [], None
    for _ in range(steps):
        obs, _, terminated, _, info = env.step(np.array([0.0, 0.0, action_z]))
        assert not terminated
        infos.append(info)
    return infos, obs


def test_force_rises_monotonically_with_depth_at_about_2_n_per_mm(still_env):
    cfg = still_env.config
    actions = np.linspace(-0.1, -0.45, 8)
    forces = [np.mean([i["force_n"] for i in hold(still_env, a)[0][-3:]]) for a in actions]
    assert np.all(np.diff(forces) > 0.5), forces
    depth_m = cfg.nominal_indentation_m - actions * cfg.action_scale_m
    slope_n_per_mm = np.polyfit(depth_m * 1000, forces, 1)[0]
    assert 1.6 < slope_n_per_mm < 2.4, slope_n_per_mm


def test_above_the_body_reads_zero_force_and_positive_distance(still_env):
    infos, obs = hold(still_env, 1.0)
    from massage_td3_ros.env.observation import observation_slices
    s = observation_slices()
    assert infos[-1]["force_n"] == 0.0
    assert obs[s["force"]][0] == 0.0
    assert obs[s["signed_distance"]][0] > 0.2  # 1 cm and more
    assert still_env.snapshot().force_n == 0.0


def test_force_is_steady_at_rest(still_env):
    infos, _ = hold(still_env, -0.3, steps=40)
    forces = np.array([i["force_n"] for i in infos[-10:]])
    assert forces.mean() > 10.0
    assert np.max(np.abs(np.diff(forces))) < 0.1, forces


def test_net_force_sums_every_tool_contact_point(still_env):
    hold(still_env, -0.3)
    contacts = still_env.debug_tool_contacts()
    assert contacts
    total = np.sum([c.normal_force_n * np.asarray(c.normal) for c in contacts], axis=0)
    assert still_env.snapshot().force_n == pytest.approx(np.linalg.norm(total), rel=1e-6)


def test_commanded_depth_is_bounded():
    env = MassageEnv(**STILL)
    infos, _ = hold(env, -1.0, steps=30)
    bound_n = env.config.tissue_stiffness_n_per_m * env.config.max_indentation_m
    assert infos[-1]["force_n"] < bound_n * 1.1
    env.close()


def test_over_force_terminates_as_unsafe_with_a_large_penalty():
    env = MassageEnv(max_indentation_m=0.05, **STILL)
    env.reset(seed=0)
    for _ in range(60):
        _, reward, terminated, truncated, info = env.step(np.array([0.0, 0.0, -1.0]))
        if terminated:
            break
    assert terminated and not truncated
    assert info["peak_force_n"] > env.config.safety_force_limit_n
    assert info["over_force"] == 1.0
    # From the substep that crossed the limit on, the arm backed off: by the end of the
    # control step the tool presses less than at the peak.
    assert info["safety_retract"] == 1.0
    assert info["force_n"] < info["peak_force_n"]
    assert info["reward_terms"]["unsafe"] == -env.config.reward_unsafe_penalty
    assert reward < -50
    assert info["episode_metrics"]["over_force_steps"] == 1.0
    env.close()


def test_the_force_governor_stops_the_ramp_below_the_hard_limit_and_counts_the_step():
    """Touch, press, press again: the second press crosses the limit without a
    governor. With one at 30 N the joints ramp over the substeps and stop where the
    summed force first exceeds 30 N; that step stays below the limit and counts as
    governed. (A press kept up crosses it a step later: the governor slows a press,
    it does not bound one, docs/env.md.)"""
    peaks = {}
    for governor_n in (0.0, 30.0):
        env = MassageEnv(max_indentation_m=0.05, force_governor_n=governor_n, **STILL)
        env.reset(seed=0)
        for press in (0.0, -1.0):  # the target's speed limit: 27 N after the first press
            _, _, terminated, _, info = env.step(np.array([0.0, 0.0, press]))
            assert not terminated and info["peak_force_n"] < 30.0
        _, _, terminated, _, info = env.step(np.array([0.0, 0.0, -1.0]))
        peaks[governor_n] = info["peak_force_n"]
        forces = env.substep_forces_n  # what the limit watched, substep by substep
        assert len(forces) == env.config.substeps and max(forces) == info["peak_force_n"]
        env.close()
        if governor_n:
            assert not terminated and info["governed"] == 1.0 and info["over_force"] == 0.0
        else:
            assert terminated and "governed" not in info  # off: nothing to report
    assert peaks[0.0] > 45.0 > peaks[30.0] > 30.0


def press_forces(**governor) -> list[tuple[float, ...]]:
    """The summed force at every substep of the governor test's three steps."""
    env = MassageEnv(max_indentation_m=0.05, **governor, **STILL)
    env.reset(seed=0)
    forces = []
    for press in (0.0, -1.0, -1.0):
        env.step(np.array([0.0, 0.0, press]))
        forces.append(env.substep_forces_n)
    env.close()
    return forces


def test_a_governor_margin_stops_the_ramp_at_the_target_plus_it_up_to_the_cap():
    """The nominal target is 20 N: a 10 N margin under a 44 N cap governs as a fixed
    30 N threshold does, and under a 28 N cap as a fixed 28 N one."""
    assert press_forces(force_governor_n=44.0, force_governor_margin_n=10.0) == \
        press_forces(force_governor_n=30.0)
    assert press_forces(force_governor_n=28.0, force_governor_margin_n=10.0) == \
        press_forces(force_governor_n=28.0)
    assert press_forces(force_governor_n=30.0) != press_forces(force_governor_n=28.0)
    with pytest.raises(ValueError, match="force_governor_margin_n"):
        MassageEnv(force_governor_n=0.0, force_governor_margin_n=10.0)


def test_a_governor_at_or_above_the_hard_limit_is_rejected():
    with pytest.raises(ValueError, match="force_governor_n"):
        MassageEnv(force_governor_n=45.0)


@pytest.mark.parametrize("governor_n", [0.0, 20.0])
def test_no_step_crosses_the_safety_limit_without_ending_the_episode(governor_n):
    """The limit is checked on every physics substep and on all arm links' summed normal
    force, so no step ever reports a peak above it and carries on (with the governor
    too, which slows a press kept up but does not bound it)."""
    env = MassageEnv(max_indentation_m=0.05, safety_force_limit_n=25.0,
                     force_governor_n=governor_n, **STILL)
    env.reset(seed=0)
    peaks = []
    for _ in range(60):
        _, _, terminated, _, info = env.step(np.array([0.0, 0.0, -1.0]))
        peaks.append(info["peak_force_n"])
        if terminated:
            break
    assert terminated
    assert all(peak <= 25.0 for peak in peaks[:-1])
    assert max(peaks[-1], info["force_n"]) > 25.0 and info["over_force"] == 1.0
    assert peaks[-1] >= info["force_n"] - 1e-6  # the summed normal force bounds the net force
    env.close()


def test_time_limit_truncates_without_terminating():
    env = MassageEnv(episode_time_s=1.0, **STILL)
    env.reset(seed=0)
    for step in range(1, 31):
        _, _, terminated, truncated, info = env.step(np.array([0.0, 0.0, -0.2]))
        assert not terminated
        assert truncated == (step == 30)
    assert info["episode_metrics"]["steps"] == 30
    assert 0.0 < info["episode_metrics"]["in_band_fraction"] <= 1.0
    assert "episode" not in info  # RecordEpisodeStatistics' / SB3 Monitor's key
    env.close()
