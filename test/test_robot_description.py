"""robot_description(): the URDF robot_state_publisher and RViz get, checked against
the real simulation, and the RViz config that displays it."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from urllib.parse import urlparse

import numpy as np
import pybullet as pb
import pytest
import yaml

from massage_td3_ros.env import EnvConfig, MassageEnv
from massage_td3_ros.env.arm import REST_POSE_RAD, tool_urdf_path
from massage_td3_ros.env.robot_description import (
    ARM_BASE_LINK,
    BASE_JOINT,
    TOOL_LINK,
    WORLD_FRAME,
    arm_base_pose,
    arm_urdf_text,
    robot_description,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RVIZ = os.path.join(ROOT, "rviz", "massage.rviz")
# The default scene and one with every number the arm pose depends on changed.
CONFIGS = {"default": EnvConfig(),
           "moved": EnvConfig(body_height_m=1.9, table_height_m=0.8,
                              arm_lateral_offset_m=0.7, tool_radius_m=0.045)}


@pytest.fixture(scope="module", params=list(CONFIGS))
def env(request):
    env = MassageEnv(CONFIGS[request.param])
    env.reset(seed=0)
    yield env
    env.close()


def _root_link(tree: ET.Element) -> str:
    children = {j.find("child").get("link") for j in tree.iter("joint")}
    roots = [link.get("name") for link in tree.iter("link")
             if link.get("name") not in children]
    assert len(roots) == 1, roots
    return roots[0]


def test_urdf_parses_with_world_root_and_tool():
    tree = ET.fromstring(robot_description())
    assert _root_link(tree) == WORLD_FRAME
    links = {link.get("name") for link in tree.iter("link")}
    assert {WORLD_FRAME, ARM_BASE_LINK, TOOL_LINK} <= links
    base = next(j for j in tree.iter("joint") if j.get("name") == BASE_JOINT)
    assert base.get("type") == "fixed"
    assert base.find("parent").get("link") == WORLD_FRAME
    assert base.find("child").get("link") == ARM_BASE_LINK


def test_mesh_uris_are_existing_absolute_files():
    meshes = [m.get("filename") for m in ET.fromstring(robot_description()).iter("mesh")]
    assert len(meshes) == 16     # visual and collision of links 0..7
    for uri in meshes:
        parsed = urlparse(uri)
        assert parsed.scheme == "file" and os.path.isabs(parsed.path), uri
        assert os.path.isfile(parsed.path), uri


def test_revolute_joints_are_the_ones_the_env_publishes(env):
    tree = ET.fromstring(robot_description(env.config))
    revolute = tuple(j.get("name") for j in tree.iter("joint") if j.get("type") == "revolute")
    assert revolute == env.snapshot().joint_names == env.scene.arm.joint_names
    assert len(revolute) == 7


def test_same_urdf_as_the_simulation_loads():
    """Apart from mesh URIs and the world link it is the text PyBullet loads."""
    config = CONFIGS["moved"]
    loaded = open(tool_urdf_path(round(config.tool_radius_m, 5),
                                 round(config.tool_mass_kg, 5))).read()
    assert loaded == arm_urdf_text(config.tool_radius_m, config.tool_mass_kg)
    published = robot_description(config)
    assert published.replace('filename="file://', 'filename="').startswith(
        loaded[:-len("</robot>")])


def test_world_frame_matches_the_simulation(env, tmp_path):
    """Load the published URDF alone, pose both arms alike: every link, the tool
    included, sits where the scene's arm has it (so world_to_arm_base is right)."""
    path = tmp_path / "robot_description.urdf"
    path.write_text(robot_description(env.config))
    arm = env.scene.arm
    client = pb.connect(pb.DIRECT)
    try:
        body = pb.loadURDF(str(path), useFixedBase=True, physicsClientId=client)
        infos = [pb.getJointInfo(body, i, physicsClientId=client)
                 for i in range(pb.getNumJoints(body, physicsClientId=client))]
        joint_index = {info[1].decode(): i for i, info in enumerate(infos)}
        link_index = {info[12].decode(): i for i, info in enumerate(infos)}
        assert set(arm.link_names) <= set(link_index)
        for name, q in zip(arm.joint_names, REST_POSE_RAD):
            pb.resetJointState(body, joint_index[name], q, physicsClientId=client)
        arm.reset(REST_POSE_RAD)

        tool_pos, tool_quat = arm.tool_pose()
        state = pb.getLinkState(body, link_index[TOOL_LINK], computeForwardKinematics=True,
                                physicsClientId=client)
        assert np.allclose(state[4], tool_pos, atol=1e-3, rtol=0)
        assert abs(np.dot(state[5], tool_quat)) > 1 - 1e-6
        for i, name in enumerate(arm.link_names):
            sim = pb.getLinkState(arm.body_id, i, computeForwardKinematics=True,
                                  physicsClientId=arm.client)
            ros = pb.getLinkState(body, link_index[name], computeForwardKinematics=True,
                                  physicsClientId=client)
            assert np.allclose(ros[4], sim[4], atol=1e-5, rtol=0), name
            assert abs(np.dot(ros[5], sim[5])) > 1 - 1e-6, name
    finally:
        pb.disconnect(client)

    # The base link frame itself (PyBullet reports the base's centre of mass).
    com_pos, com_quat = pb.getBasePositionAndOrientation(arm.body_id,
                                                         physicsClientId=arm.client)
    local_pos, local_quat = pb.getDynamicsInfo(arm.body_id, -1,
                                               physicsClientId=arm.client)[3:5]
    inv_pos, inv_quat = pb.invertTransform(local_pos, local_quat)
    frame_pos, frame_quat = pb.multiplyTransforms(com_pos, com_quat, inv_pos, inv_quat)
    (x, y, z), yaw = arm_base_pose(env.config)
    assert np.allclose(frame_pos, (x, y, z), atol=1e-6, rtol=0)  # float32 maths
    assert abs(np.dot(frame_quat, pb.getQuaternionFromEuler((0, 0, yaw)))) > 1 - 1e-6


def test_module_is_light():
    """A launch file calls it: no PyBullet import."""
    code = ("import sys; from massage_td3_ros.env.robot_description import "
            "robot_description; robot_description(); "
            "assert 'pybullet' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_rviz_config_shows_robot_and_massage_topics():
    with open(RVIZ) as handle:
        config = yaml.safe_load(handle)
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == WORLD_FRAME
    displays = {d["Class"].split("/")[-1]: d for d in manager["Displays"]}
    assert {"Grid", "RobotModel", "TF", "Pose", "MarkerArray", "Path", "Wrench"} <= set(
        displays)
    assert all(d["Class"].startswith("rviz_default_plugins/") and d["Enabled"]
               for d in displays.values())
    robot = displays["RobotModel"]
    assert robot["Description Source"] == "Topic"
    expected = {("RobotModel", "Description Topic"): ("/robot_description", "Transient Local"),
                ("Pose", "Topic"): ("/massage/tool_pose", "Volatile"),
                ("MarkerArray", "Topic"): ("/massage/contacts", "Volatile"),
                ("Path", "Topic"): ("/massage/stroke", "Transient Local"),
                ("Wrench", "Topic"): ("/massage/contact_wrench", "Volatile")}
    for (display, key), (topic, durability) in expected.items():
        qos = displays[display][key]
        assert (qos["Value"], qos["Durability Policy"]) == (topic, durability), display
        assert qos["Reliability Policy"] == "Reliable", display
    view = manager["Views"]["Current"]
    assert view["Class"] == "rviz_default_plugins/Orbit"
    assert 2.0 <= view["Distance"] <= 3.0
