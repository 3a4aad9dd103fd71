"""The robot's own URDF as massage_bridge's kinematic twin (bridge.urdf_source).

``package`` keeps the package's arm (the KUKA iiwa with the ball tool the policies are
trained on). ``file`` reads bridge.urdf_file; ``topic`` waits for ``robot_description``
(std_msgs/String, transient local, as robot_state_publisher and ros2_control drivers
publish it). Either way the text is checked and made loadable by PyBullet:

- it must have exactly as many movable joints as the observation has (the policy was
  trained on a 7-joint arm; another arm needs a policy of its own), and the joint
  names of every command and joint state are the URDF's, in its order;
- the tool: a URDF that already has the link ``massage_tool`` keeps it; otherwise the
  ball is added on bridge.flange_link at bridge.tool_offset_m along its z axis;
- placement: a URDF rooted at sim.frame_id (its world) is loaded where it says; any
  other root is the arm's base, placed by the base-to-table transform (env.table_height_m,
  env.arm_lateral_offset_m), as the package's arm is;
- meshes: ``file://`` URIs become paths, ``package://<name>/`` is looked up with
  ament_index, paths relative to a file resolve against its folder; a mesh that cannot
  be found is left out of the twin (the twin needs the joints and the tool, not the
  looks) and counted in the start-up log.
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from massage_td3_ros.env.arm import ArmModel
from massage_td3_ros.env.observation import N_JOINTS
from massage_td3_ros.env.robot_description import TOOL_LINK, add_tool
from massage_td3_ros.ros.driver_interfaces import urdf_joint_names

URDF_SOURCES = ("package", "file", "topic")


@dataclass(frozen=True)
class TwinUrdf:
    """A checked robot URDF ready for the twin: ``model`` for MassageEnv, the joint
    names in command order, and what start-up should report."""

    model: ArmModel
    joint_names: tuple[str, ...]
    placed_by: str          # "the URDF's own world root" or "the base-to-table transform"
    tool_added: bool
    meshes_left_out: int


def root_link(root: ElementTree.Element) -> str:
    """The URDF's root: the one link no joint has as its child."""
    links = [link.get("name") for link in root.iter("link")]
    children = {joint.find("child").get("link") for joint in root.iter("joint")
                if joint.find("child") is not None}
    roots = [name for name in links if name not in children]
    if len(roots) != 1:
        raise ValueError(f"robot URDF: expected one root link, found {roots or 'none'}")
    return roots[0]


def _mesh_path(filename: str, base_dir: Path | None) -> str | None:
    """A path PyBullet can open for a URDF mesh filename, or None."""
    if filename.startswith("file://"):
        candidate = filename[len("file://"):]
    elif filename.startswith("package://"):
        package, _, rest = filename[len("package://"):].partition("/")
        try:
            from ament_index_python.packages import (
                PackageNotFoundError,
                get_package_share_directory,
            )
            candidate = os.path.join(get_package_share_directory(package), rest)
        except (ImportError, OSError, PackageNotFoundError, ValueError):  # no ament index
            return None
    elif os.path.isabs(filename) or base_dir is None:
        candidate = filename
    else:
        candidate = str(base_dir / filename)
    return candidate if os.path.isfile(candidate) else None


def _resolve_meshes(root: ElementTree.Element, base_dir: Path | None) -> int:
    """In place: every mesh filename made a path; geometry whose mesh is nowhere to be
    found removed. Returns how many were removed."""
    removed = 0
    for link in root.iter("link"):
        for kind in ("visual", "collision"):
            for element in list(link.findall(kind)):
                mesh = element.find("geometry/mesh")
                if mesh is None:
                    continue
                path = _mesh_path(mesh.get("filename", ""), base_dir)
                if path is None:
                    link.remove(element)
                    removed += 1
                else:
                    mesh.set("filename", path)
    return removed


def twin_urdf(text: str, *, frame_id: str, flange_link: str, tool_offset_m: float,
              tool_radius_m: float, tool_mass_kg: float, rest_pose_rad,
              base_dir: Path | None = None) -> TwinUrdf:
    """Check a robot's URDF and write the twin's URDF file (see the module doc).
    ValueError names what does not fit."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise ValueError(f"robot URDF: not valid XML ({error})") from error
    if root.tag != "robot":
        raise ValueError(f"robot URDF: the document's root element is <{root.tag}>, "
                         "not <robot>")
    joints = urdf_joint_names(text)
    if len(joints) != N_JOINTS:
        raise ValueError(
            f"robot URDF: {len(joints)} movable joints ({', '.join(joints) or 'none'}); "
            f"the policy's observation has {N_JOINTS} (an arm with another number of "
            "joints needs a policy trained on it)")
    if len(rest_pose_rad) != N_JOINTS:
        raise ValueError(f"bridge.rest_pose_rad has {len(rest_pose_rad)} values; the URDF "
                         f"has {N_JOINTS} movable joints")
    links = {link.get("name") for link in root.iter("link")}
    base = root_link(root)
    removed = _resolve_meshes(root, base_dir)
    body = ElementTree.tostring(root, encoding="unicode")
    tool_added = TOOL_LINK not in links
    if tool_added:
        if flange_link not in links:
            raise ValueError(f"robot URDF: no link {flange_link!r} (bridge.flange_link) to "
                             f"mount the tool on, and no {TOOL_LINK!r}; links: "
                             f"{sorted(links)}")
        body = add_tool(body, flange_link, tool_offset_m, tool_radius_m, tool_mass_kg)
    handle = tempfile.NamedTemporaryFile("w", suffix="_robot_twin.urdf", delete=False)
    with handle:
        handle.write(body)
    own_world = base == frame_id
    model = ArmModel(urdf_path=handle.name, rest_pose_rad=tuple(float(v) for v in rest_pose_rad),
                     base_position_m=(0.0, 0.0, 0.0) if own_world else None)
    return TwinUrdf(model=model, joint_names=joints,
                    placed_by="the URDF's own world root" if own_world
                    else "the base-to-table transform",
                    tool_added=tool_added, meshes_left_out=removed)

