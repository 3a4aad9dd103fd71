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


def stroke_path(header: Header, points_m: np.ndarray, normals: np.ndarray,
                every: int = 3) -> Path:
    """The stroke (tool-centre points where the ball just touches the body) as a
    nav_msgs/Path, every ``every``-th control step's point; each pose's z axis is the
    outward surface normal there (the convention of a taught stroke, path_polyline)."""
    msg = Path(header=header)
    points, normals = np.asarray(points_m, dtype=float), np.asarray(normals, dtype=float)
    for point, normal in zip(points[::every], normals[::every], strict=True):
        pose = PoseStamped(header=header)
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (
            float(v) for v in point)
        (pose.pose.orientation.x, pose.pose.orientation.y, pose.pose.orientation.z,
         pose.pose.orientation.w) = z_axis_quaternion(normal)
        msg.poses.append(pose)
    return msg


def path_polyline(msg: Path) -> tuple[np.ndarray, np.ndarray]:
    """(positions (n, 3), z axes (n, 3)) of a Path's poses: a taught stroke's points and
    outward normals. A quaternion of zero length gives a zero axis (for the checks of
    env.strokes.taught_polyline to reject), a non-finite one a non-finite axis."""
    points = np.array([[p.pose.position.x, p.pose.position.y, p.pose.position.z]
                       for p in msg.poses], dtype=float).reshape(-1, 3)
    quats = np.array([[p.pose.orientation.x, p.pose.orientation.y, p.pose.orientation.z,
                       p.pose.orientation.w] for p in msg.poses], dtype=float).reshape(-1, 4)
    with np.errstate(invalid="ignore", divide="ignore"):
        sizes = np.linalg.norm(quats, axis=1, keepdims=True)
        x, y, z, w = (quats / np.where(sizes > 0.0, sizes, 1.0)).T
    axes = np.column_stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)])
    axes[sizes[:, 0] == 0.0] = 0.0
    axes[~np.isfinite(sizes[:, 0])] = np.nan
    return points, axes


def z_axis_quaternion(normal) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of the shortest rotation taking the z axis onto ``normal``."""
    n = np.asarray(normal, dtype=float)
    n = n / np.linalg.norm(n)
    if n[2] < -1.0 + 1e-12:   # straight down: half a turn about x
        return 1.0, 0.0, 0.0, 0.0
    q = np.array([-n[1], n[0], 0.0, 1.0 + n[2]])   # (z x n, 1 + z . n), normalised
    return tuple(float(v) for v in q / np.linalg.norm(q))


def clock_at(stamp_ns: int) -> Clock:
    return Clock(clock=time_at(stamp_ns))


def time_at(stamp_ns: int) -> Time:
    if stamp_ns < 0:
        raise ValueError(f"stamp {stamp_ns} ns is negative")
    return Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)


def header_at(stamp_ns: int, frame_id: str) -> Header:
    return Header(stamp=time_at(stamp_ns), frame_id=frame_id)
