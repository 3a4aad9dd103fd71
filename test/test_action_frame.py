"""The action's axes (EnvConfig.action_frame): world x, y, z, or the surface frame of
the path point (along the stroke, sideways, outward normal), where the third axis
alone sets the depth and tangential_action_scale can take the other two away."""

from __future__ import annotations

import numpy as np
import pytest

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.episode import action_meta, recorded_action_meta
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.evaluation.controllers import baseline_env_config

# An across-the-back stroke: its normals tilt sideways, so world and surface axes differ.
SHORT = {"episode_time_s": 1.0, "randomize": True, "stroke": "across_back"}
SEED = 5


def _frame(env: MassageEnv) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(along, sideways, normal) unit vectors of the current path point."""
    ref = env.path_reference()
    along = ref.tangent - np.dot(ref.tangent, ref.normal) * ref.normal
    along /= np.linalg.norm(along)
    return along, np.cross(ref.normal, along), ref.normal


@pytest.fixture(scope="module")
def surface_env():
    env = MassageEnv(**SHORT, action_frame="surface")
    yield env
    env.close()


def test_the_third_axis_moves_the_tool_target_along_the_normal(surface_env):
    env, increment = surface_env, surface_env.config.action_increment_m
    env.reset(seed=SEED)
    tilted = 0
    for _ in range(8):
        along, sideways, normal = _frame(env)
        tilted += abs(normal[2]) < 0.999  # a world z move would not be along this normal
        before = env.correction_m
        action = np.array([0.3, -0.6, -0.8], np.float32)
        env.step(action)
        moved = env.correction_m - before
        np.testing.assert_allclose(moved, increment * (0.3 * along - 0.6 * sideways
                                                       - 0.8 * normal), atol=1e-9)
    assert tilted, "the stroke's normals were all vertical: the test would not tell"


def test_a_zero_tangential_scale_leaves_only_the_normal_move():
    env = MassageEnv(**SHORT, action_frame="surface", tangential_action_scale=0.0)
    try:
        env.reset(seed=SEED)
        for _ in range(6):
            _, _, normal = _frame(env)
            before = env.correction_m
            env.step(np.array([1.0, -1.0, -0.5], np.float32))
            moved = env.correction_m - before
            np.testing.assert_allclose(moved, -0.5 * env.config.action_increment_m * normal,
                                       atol=1e-9)
    finally:
        env.close()


@pytest.mark.parametrize("scale", [1.0, 0.0])
def test_action_toward_reaches_a_correction_it_can(scale):
    env = MassageEnv(**SHORT, action_frame="surface", tangential_action_scale=scale)
    try:
        env.reset(seed=SEED)
        _, sideways, normal = _frame(env)
        # Within one step's reach; with no tangential axes only the normal part is.
        wanted = env.config.action_increment_m * (-0.7 * normal + 0.4 * sideways)
        env.step(env.action_toward(env.correction_m + wanted))
        reachable = wanted if scale else -0.7 * env.config.action_increment_m * normal
        np.testing.assert_allclose(env.correction_m, reachable, atol=1e-9)
    finally:
        env.close()


def test_the_frame_is_an_action_setting_and_baselines_keep_world_axes():
    surface = EnvConfig(action_frame="surface", tangential_action_scale=0.0)
    meta = action_meta(surface)
    assert meta["action_frame"] == "surface" and meta["tangential_action_scale"] == 0.0
    # A checkpoint from before the option read its actions in world axes.
    old = {k: v for k, v in action_meta(EnvConfig()).items()
           if k not in ("action_frame", "tangential_action_scale")}
    assert recorded_action_meta({"action": old}) == action_meta(EnvConfig())
    baseline = baseline_env_config(surface)
    assert (baseline.action_frame, baseline.tangential_action_scale) == ("world", 1.0)


def test_a_tangential_scale_needs_the_surface_frame():
    with pytest.raises(ValueError, match="needs action_frame surface"):
        EnvConfig(tangential_action_scale=0.5).check()
