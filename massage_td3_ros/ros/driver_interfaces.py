"""The arm driver's ROS interface, as ros2_control exposes a real arm: topic names,
joint order and the message helpers that both sides of it share.

``arm_sim`` (the PyBullet stand-in for a robot's driver) serves these topics and a
real arm's ros2_control setup (joint_state_broadcaster, force_torque_sensor_broadcaster,
forward_position_controller, joint_trajectory_controller) serves the same, so a node
that drives the massage task through them (the bridge) runs against either. Names are
relative: a namespace moves them all. No PyBullet here: a bridge on a real arm has none.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import WrenchStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, Header

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.robot_description import FLANGE_LINK, TOOL_LINK, arm_urdf_text

JOINT_STATES_TOPIC = "joint_states"                       # joint_state_broadcaster
WRENCH_TOPIC = "force_torque_sensor_broadcaster/wrench"   # its default topic
POSITION_COMMAND_TOPIC = "forward_position_controller/commands"
TRAJECTORY_TOPIC = "joint_trajectory_controller/joint_trajectory"
ROBOT_DESCRIPTION_TOPIC = "robot_description"

SENSOR_FRAMES = (FLANGE_LINK, TOOL_LINK)
MOVABLE_JOINT_TYPES = ("revolute", "continuous", "prismatic")
# Why a command is refused (the kinds a driver counts).
REJECTIONS = ("wrong_length", "non_finite", "unknown_joint", "wrong_joints", "no_points")


class CommandError(ValueError):
    """A command that must not move the arm: ``kind`` (one of REJECTIONS) and why."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


def urdf_joint_names(urdf_text: str) -> tuple[str, ...]:
    """The movable joints of a URDF, in document order (ros2_control's joint order)."""
    root = ElementTree.fromstring(urdf_text)
    return tuple(joint.get("name") for joint in root.iter("joint")
                 if joint.get("type") in MOVABLE_JOINT_TYPES)


@functools.cache
def arm_joint_names() -> tuple[str, ...]:
    """The arm's 7 joint names in the URDF's order: the order of every position
    command and of joint_states (the tool's size does not change them)."""
    tool = EnvConfig()
    return urdf_joint_names(arm_urdf_text(tool.tool_radius_m, tool.tool_mass_kg))


def joint_state_message(stamp: Time, names: Sequence[str], position_rad, velocity_rad_s,
                        effort_nm) -> JointState:
    """sensor_msgs/JointState as joint_state_broadcaster publishes it (empty frame_id)."""
    return JointState(header=Header(stamp=stamp), name=list(names),
                      position=[float(v) for v in position_rad],
                      velocity=[float(v) for v in velocity_rad_s],
                      effort=[float(v) for v in effort_nm])


def wrench_message(stamp: Time, frame_id: str, force_n, torque_nm) -> WrenchStamped:
    """geometry_msgs/WrenchStamped in ``frame_id``: force [N] and torque [N m] about
    the frame's origin."""
    msg = WrenchStamped(header=Header(stamp=stamp, frame_id=frame_id))
    msg.wrench.force.x, msg.wrench.force.y, msg.wrench.force.z = (float(v) for v in force_n)
    msg.wrench.torque.x, msg.wrench.torque.y, msg.wrench.torque.z = (
        float(v) for v in torque_nm)
    return msg


def wrench_vectors(msg: WrenchStamped) -> tuple[np.ndarray, np.ndarray]:
    """(force [N], torque [N m]) of a WrenchStamped as arrays."""
    f, t = msg.wrench.force, msg.wrench.torque
    return np.array([f.x, f.y, f.z]), np.array([t.x, t.y, t.z])


def position_command(positions_rad) -> Float64MultiArray:
    """A forward_position_controller command: one position per joint, URDF order."""
    return Float64MultiArray(data=[float(v) for v in positions_rad])


def _checked(values: Sequence[float], what: str) -> np.ndarray:
    positions = np.array(values, dtype=float)
    if not np.all(np.isfinite(positions)):
        raise CommandError("non_finite", f"{what}: non-finite position(s) "
                           f"{positions.tolist()}")
    return positions


def positions_from_command(msg: Float64MultiArray, joint_count: int) -> np.ndarray:
    """The positions [rad] of a forward position command (CommandError unless
    there is exactly one finite value per joint)."""
    if len(msg.data) != joint_count:
        raise CommandError("wrong_length", f"position command with {len(msg.data)} values, "
                           f"expected {joint_count} (one per joint, URDF order)")
    return _checked(msg.data, "position command")


def positions_from_trajectory(msg, joint_names: Sequence[str]) -> np.ndarray:
    """The first point of a trajectory_msgs/JointTrajectory as positions [rad] in
    ``joint_names``' order. It must name every joint once, no other, and give a finite
    position for each (CommandError otherwise)."""
    names = list(msg.joint_names)
    unknown = sorted(set(names) - set(joint_names))
    if unknown:
        raise CommandError("unknown_joint", f"trajectory names unknown joint(s) {unknown}; "
                           f"the arm's joints are {list(joint_names)}")
    if len(names) != len(set(names)) or len(names) != len(joint_names):
        raise CommandError("wrong_joints", f"trajectory must name each of the "
                           f"{len(joint_names)} joints once, got {names}")
    if not msg.points:
        raise CommandError("no_points", "trajectory without points")
    first = msg.points[0].positions
    if len(first) != len(names):
        raise CommandError("wrong_length", f"trajectory point with {len(first)} positions "
                           f"for {len(names)} joint names")
    by_name = dict(zip(names, _checked(first, "trajectory point"), strict=True))
    return np.array([by_name[name] for name in joint_names])
