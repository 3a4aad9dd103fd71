"""The sim node's visualisation and sensor messages, built from plain values.

An ``ArmSnapshot`` (env/snapshot.py) is what one control step exposes besides the
observation: joint states, tool pose, the net force of the body on the tool and every
arm-body contact. A real-arm bridge publishing the same topics fills one from its
sensors and builds the same messages.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, PoseStamped, WrenchStamped
from nav_msgs.msg import Path
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from massage_td3_ros.env.snapshot import ArmSnapshot

ARROW_M_PER_N = 0.005  # force arrows: 5 mm per newton in RViz
ARROW_MAX_M = 0.3


def joint_state(header: Header, snapshot: ArmSnapshot) -> JointState:
    msg = JointState(header=header, name=list(snapshot.joint_names))
    msg.position = [float(v) for v in snapshot.joint_pos_rad]
    msg.velocity = [float(v) for v in snapshot.joint_vel_rad_s]
    msg.effort = [float(v) for v in snapshot.joint_effort_nm]
    return msg


def tool_pose(header: Header, snapshot: ArmSnapshot) -> PoseStamped:
    msg = PoseStamped(header=header)
    p, q = snapshot.tool_pos_m, snapshot.tool_quat_xyzw
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in p)
    (msg.pose.orientation.x, msg.pose.orientation.y, msg.pose.orientation.z,
     msg.pose.orientation.w) = (float(v) for v in q)
    return msg


def contact_wrench(header: Header, snapshot: ArmSnapshot) -> WrenchStamped:
    """Net force of the body on the tool, expressed in the world frame at the tool centre."""
    msg = WrenchStamped(header=header)
    f = snapshot.force_vector_n
    msg.wrench.force.x, msg.wrench.force.y, msg.wrench.force.z = (float(v) for v in f)
    return msg


def contact_markers(header: Header, snapshot: ArmSnapshot, previous_count: int
                    ) -> MarkerArray:
    """One arrow per contact (length proportional to its force; green on the tool, red on
    any other arm link); stale arrows deleted."""
    markers = []
    for index, contact in enumerate(snapshot.contacts):
        marker = Marker(header=header, ns="contacts", id=index, type=Marker.ARROW,
                        action=Marker.ADD)
        start = np.asarray(contact.position_on_body_m, dtype=float)
        length = min(ARROW_MAX_M, ARROW_M_PER_N * abs(contact.normal_force_n))
        end = start + length * np.asarray(contact.normal, dtype=float)
        marker.points = [Point(x=float(start[0]), y=float(start[1]), z=float(start[2])),
                         Point(x=float(end[0]), y=float(end[1]), z=float(end[2]))]
        marker.scale.x, marker.scale.y, marker.scale.z = 0.006, 0.012, 0.02
        tool = contact.arm_link == snapshot.tool_link
        marker.color.r, marker.color.g, marker.color.b, marker.color.a = (
            (0.1, 0.8, 0.2, 1.0) if tool else (0.9, 0.1, 0.1, 1.0))
        marker.pose.orientation.w = 1.0
        markers.append(marker)
    for index in range(len(snapshot.contacts), previous_count):
        markers.append(Marker(header=header, ns="contacts", id=index, action=Marker.DELETE))
    return MarkerArray(markers=markers)


def stroke_path(header: Header, points_m: np.ndarray, every: int = 3) -> Path:
    """The planned stroke (tool-centre points where the ball just touches the body) as
    a nav_msgs/Path, every ``every``-th control step's point."""
    msg = Path(header=header)
    for point in np.asarray(points_m, dtype=float)[::every]:
        pose = PoseStamped(header=header)
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (
            float(v) for v in point)
        pose.pose.orientation.w = 1.0
        msg.poses.append(pose)
    return msg


def clock_at(stamp_ns: int) -> Clock:
    return Clock(clock=time_at(stamp_ns))


def time_at(stamp_ns: int) -> Time:
    if stamp_ns < 0:
        raise ValueError(f"stamp {stamp_ns} ns is negative")
    return Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)


def header_at(stamp_ns: int, frame_id: str) -> Header:
    return Header(stamp=time_at(stamp_ns), frame_id=frame_id)
