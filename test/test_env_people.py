"""Many people: layered regional tissue, drawn builds, pressure profiles and their preview."""

from dataclasses import replace

import numpy as np
import pytest
from benchmark_scripts import load_benchmark

from massage_td3_ros.env import EnvConfig
from massage_td3_ros.env.anatomy import BodyShape, part_shapes
from massage_td3_ros.env.episode import draw_person, nominal_episode
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.env.observation import FORCE_ERROR_SCALE_N, observation_slices
from massage_td3_ros.env.pressure import PREVIEW_STEPS, PROFILES, PressureProfile
from massage_td3_ros.env.scene import BODY_GROUP
from massage_td3_ros.env.strokes import RAY_THREADS, map_surface, surface_mapper
from massage_td3_ros.env.tissue import REGIONS


def load_curves():
    return load_benchmark("tissue_curves")


@pytest.fixture(scope="module")
def curves():
    return load_curves().region_curves(depths_mm=(4, 8, 12, 16))


def force_at(rows, depth_mm):
    """Force at the row whose reached depth is nearest ``depth_mm``."""
    return min(rows, key=lambda row: abs(row[0] * 1000 - depth_mm))[1]


@pytest.mark.parametrize("region, shallow_mm, deep_mm", [
    ("lumbar_muscle", 8, 16), ("thoracic_muscle", 8, 16), ("scapula", 4, 8), ("spine", 4, 8)])
def test_force_grows_faster_than_linearly_with_depth(curves, region, shallow_mm, deep_mm):
    rows = curves[region]
    depths = [row[0] for row in rows]
    assert np.all(np.diff(depths) > 0.003), depths  # the arm reached each depth
    assert np.all(np.diff([row[1] for row in rows]) > 0)
    shallow, deep = force_at(rows, shallow_mm), force_at(rows, deep_mm)
    # a linear spring keeps its secant stiffness; here the core makes it grow by 1/4 or more
    assert deep / deep_mm > 1.25 * shallow / shallow_mm, (region, shallow, deep)


@pytest.mark.parametrize("region", ["spine", "scapula"])
def test_elastic_cores_keep_the_static_curve_and_cut_the_jump_where_the_core_is_met(region):
    """env.tissue_core_damping_s 0: the force held at a depth stays; what goes is the
    viscous force that steps up where the tool, moving in, reaches the core."""
    module, rises, held = load_curves(), {}, {}
    for core_damping_s in (0.01, 0.0):
        env = module.reference_env(core_damping_s=core_damping_s)
        xy = module.PROBES[region]
        rows = module.press_through(env, xy, speed_m_s=0.1, depth_m=0.008)
        depth, force = np.array(rows).T
        rises[core_damping_s] = np.diff(force).max()
        # the largest rise is where the core is met: below the outer layer's 5-6 mm
        assert 0.004 < depth[1:][np.argmax(np.diff(force))] < 0.008, region
        held[core_damping_s] = module.press_curve(env, xy, [0.008])[0][1]
        env.close()
    assert held[0.0] == pytest.approx(held[0.01], rel=0.02), held
    # measured at 10 cm/s: 20.4 -> 8.5 N over the spine, 15.7 -> 5.7 N over the scapula
    assert rises[0.0] < 0.6 * rises[0.01], rises


def test_bony_regions_are_stiffer_than_the_muscles(curves):
    at_8mm = {region: force_at(rows, 8) for region, rows in curves.items()}
    assert min(at_8mm["spine"], at_8mm["scapula"]) > 2 * max(at_8mm["lumbar_muscle"],
                                                              at_8mm["thoracic_muscle"])
    # and the probe over each region presses on that region
    for region, rows in curves.items():
        assert rows[-1][2] == region


def test_people_are_drawn_from_the_declared_ranges():
    config = EnvConfig()
    rng = np.random.default_rng(0)
    draws = [draw_person(config, rng) for _ in range(300)]
    heights = [d.body.height_m for d in draws]
    assert config.rand_body_height_m[0] <= min(heights) < 1.56
    assert 1.89 < max(heights) <= config.rand_body_height_m[1]
    assert all(abs(h * 50 - round(h * 50)) < 1e-6 for h in heights)  # 2 cm steps
    for d in draws:
        assert config.rand_width_scale[0] <= d.body.width_scale <= config.rand_width_scale[1]
        assert config.rand_tissue_scale[0] <= d.tissue.scale <= config.rand_tissue_scale[1]
        low, high = config.rand_target_force_n
        assert low <= d.profile.base_n <= high
        assert d.profile.peak_n < config.safety_force_limit_n
        assert config.rand_stroke_speed_m_s[0] <= d.stroke_speed_m_s \
            <= config.rand_stroke_speed_m_s[1]
    kinds = [d.profile.kind for d in draws]
    assert {kinds.count(kind) > 70 for kind in PROFILES} == {True}


def test_builds_change_the_body_where_they_should():
    reference, wide, hollow = (part_shapes(BodyShape()), part_shapes(BodyShape(width_scale=1.15)),
                               part_shapes(BodyShape(curvature=1.6)))
    assert wide["scapula_right"].shapes[0].center[1] == pytest.approx(
        1.15 * reference["scapula_right"].shapes[0].center[1])
    assert hollow["lumbar"].shapes[0].center[2] < reference["lumbar"].shapes[0].center[2]
    assert hollow["thorax"].shapes[0].center == reference["thorax"].shapes[0].center


def surface_map_args(env, seed):
    """A drawn person's body at the table's origin, and the surface-map arguments for
    its back (client, body, origin, x and y ranges, tool radius, collision mask)."""
    env.reset(seed=seed)
    home = np.array([0.0, 0.0, env.config.table_height_m])
    env.scene.place_body(home)
    geo = env.scene.geometry
    return (env.client, env.scene.body_id, home, geo.back_x_range_m,
            (-geo.back_half_width_m, geo.back_half_width_m), env.config.tool_radius_m,
            BODY_GROUP)


def test_the_threaded_surface_map_has_the_same_hits():
    # map_surface casts its rays on RAY_THREADS threads: the map must not depend on it.
    env = MassageEnv(EnvConfig(randomize=True))
    try:
        args = surface_map_args(env, seed=7)
        maps = [map_surface(*args, threads=threads) for threads in (1, RAY_THREADS)]
    finally:
        env.close()
    assert RAY_THREADS > 1
    assert np.isfinite(maps[0].height_m).all() and maps[0].height_m.max() > 0.1
    np.testing.assert_array_equal(maps[0].height_m, maps[1].height_m)


def test_a_map_filled_on_demand_equals_the_whole_map_and_casts_a_band():
    # A reset casts only the rays its stroke reads; the values must be those of the
    # whole-grid map, bit for bit, for every stroke, in any order of the queries.
    env = MassageEnv(EnvConfig(randomize=True))
    try:
        args = surface_map_args(env, seed=11)
        whole = map_surface(*args)
        moved = []
        on_demand = surface_mapper(*args, before_cast=lambda: moved.append(True))
        (x_lo, x_hi), half = args[3], args[4][1]
        t = np.linspace(0.0, 1.0, 400)
        along = np.column_stack([x_lo + t * (x_hi - x_lo), -0.05 + 0.02 * np.sin(9 * t)])
        across = np.column_stack([x_lo + 0.65 * (x_hi - x_lo) + 0.01 * np.sin(7 * t),
                                  -half + 2 * half * t])
        for xy in (along, across, along[::-1]):
            for got, want in zip(on_demand.touch(xy), whole.touch(xy), strict=True):
                np.testing.assert_array_equal(got, want)
        cast = on_demand.fill.cast
    finally:
        env.close()
    assert len(moved) == 2          # the repeated stroke needed no new rays
    assert 0 < cast.sum() < 0.6 * cast.size

def test_profiles():
    dt = 1 / 30
    step = PressureProfile("step", 20.0, change=0.3, change_time_s=2.0).targets_n(120, dt)
    assert step[59] == 20.0 and step[60] == pytest.approx(26.0) and step[-1] == pytest.approx(26.0)
    rhythm = PressureProfile("rhythmic", 20.0, change=0.2, frequency_hz=0.5).targets_n(120, dt)
    assert rhythm.max() == pytest.approx(24.0, abs=0.05) and rhythm.min() == pytest.approx(
        16.0, abs=0.05)
    with pytest.raises(ValueError, match="expected one of"):
        PressureProfile("ramp", 20.0)


def test_the_observation_previews_the_target_and_info_marks_the_step():
    env = MassageEnv(randomize=False)
    episode = replace(nominal_episode(env.config), stroke="along_spine", direction="forward",
                      profile=PressureProfile("step", 15.0, change=0.4, change_time_s=1.0))
    obs, info = env.reset(seed=0, options={"episode": episode})
    preview = observation_slices()["target_preview"]
    steps = []
    for step in range(1, 40):
        obs, _, terminated, _, info = env.step(np.zeros(3))
        assert not terminated
        ahead = [21.0 if step + k >= 30 else 15.0 for k in PREVIEW_STEPS]
        expected = (np.array(ahead) - info["target_force_n"]) / FORCE_ERROR_SCALE_N
        np.testing.assert_allclose(obs[preview], expected, atol=1e-5)
        if info["target_step"]:
            steps.append(step)
    assert steps == [30]  # 1 s at 30 Hz: the target jumps once, and the info says when
    env.close()


def test_tissue_regions_under_the_tool_along_the_spine():
    env = MassageEnv(randomize=False, stroke="along_spine", stroke_direction="forward")
    env.reset(seed=0)
    seen = set()
    for _ in range(200):  # 6.7 s at 5 cm/s: from the lower back onto the thorax
        _, _, _, _, info = env.step(np.zeros(3))
        seen.add(info["tissue_region"])
    assert {REGIONS.index("lumbar_muscle"), REGIONS.index("thoracic_muscle")} <= seen
    env.close()
