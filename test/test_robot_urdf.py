"""The bridge's twin from a robot's own URDF (ros/robot_urdf.py): checked, made
loadable, placed and tooled so that its kinematics equal the package arm's."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from massage_td3_ros.env import MassageEnv
from massage_td3_ros.env.arm import REST_POSE_RAD
from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.robot_description import arm_model_dir, robot_description
from massage_td3_ros.ros.robot_urdf import twin_urdf

CONFIG = EnvConfig(randomize=False)
POSES = [np.zeros(7), np.array(REST_POSE_RAD), np.array([0.3, 0.9, -0.4, -1.1, 0.5, 0.8, 1.2])]


def twin(text: str, **overrides):
    values = {"frame_id": "world", "flange_link": "lbr_iiwa_link_7", "tool_offset_m": 0.095,
              "tool_radius_m": CONFIG.tool_radius_m, "tool_mass_kg": CONFIG.tool_mass_kg,
              "rest_pose_rad": REST_POSE_RAD, **overrides}
    return twin_urdf(text, **values)


def tool_poses(env: MassageEnv) -> np.ndarray:
    arm, rows = env.scene.arm, []
    for q in POSES:
        arm.reset(q)
        position, orientation = arm.tool_pose()
        rows.append(np.concatenate([position, orientation]))
    return np.array(rows)


@pytest.fixture(scope="module")
def package_poses():
    env = MassageEnv(CONFIG)
    try:
        return tool_poses(env)
    finally:
        env.close()


def poses_with(model) -> np.ndarray:
    env = MassageEnv(CONFIG, arm_model=model)
    try:
        return tool_poses(env)
    finally:
        env.close()


def test_robot_description_rooted_at_world_gives_the_package_kinematics(package_poses):
    # What arm_sim (or robot_state_publisher) publishes: world root, tool, file:// meshes.
    result = twin(robot_description(CONFIG))
    assert result.placed_by == "the URDF's own world root"
    assert not result.tool_added and result.meshes_left_out == 0
    assert result.joint_names == tuple(f"lbr_iiwa_joint_{i}" for i in range(1, 8))
    np.testing.assert_allclose(poses_with(result.model), package_poses, atol=1e-6)


def test_a_bare_arm_urdf_gets_the_tool_and_the_base_to_table_transform(package_poses):
    # The vendor's URDF: rooted at the arm base, no tool, meshes relative to its folder.
    folder = arm_model_dir()
    with open(os.path.join(folder, "model.urdf")) as handle:
        text = handle.read()
    result = twin(text, base_dir=Path(folder))
    assert result.placed_by == "the base-to-table transform"
    assert result.tool_added and result.meshes_left_out == 0
    np.testing.assert_allclose(poses_with(result.model), package_poses, atol=1e-6)


def test_unresolvable_package_meshes_are_left_out_and_counted(package_poses):
    text = robot_description(CONFIG).replace("file://", "package://no_such_package/")
    result = twin(text)
    assert result.meshes_left_out > 0
    with open(result.model.urdf_path) as handle:
        assert "no_such_package" not in handle.read()
    np.testing.assert_allclose(poses_with(result.model), package_poses, atol=1e-6)


def test_urdfs_that_do_not_fit_are_refused_with_the_reason():
    text = robot_description(CONFIG)
    six = text.replace('<joint name="lbr_iiwa_joint_7" type="revolute">',
                       '<joint name="lbr_iiwa_joint_7" type="fixed">')
    assert six != text
    with pytest.raises(ValueError, match="6 movable joints .* observation has 7"):
        twin(six)
    bare = open(os.path.join(arm_model_dir(), "model.urdf")).read()
    with pytest.raises(ValueError, match="no link 'tool0'"):
        twin(bare, flange_link="tool0")
    with pytest.raises(ValueError, match="not valid XML"):
        twin("<robot><link name='a'>")
    with pytest.raises(ValueError, match="rest_pose_rad has 6 values"):
        twin(text, rest_pose_rad=REST_POSE_RAD[:6])
