"""The arm's URDF with the massage tool, and where the scene puts the arm (no PyBullet).

One source for both the simulation and ROS:

* ``arm_urdf_text`` is the KUKA LBR iiwa URDF shipped with pybullet_data with the
  ball tool added as a link on a fixed joint at the flange. ``arm.tool_urdf_path``
  writes it to a file that PyBullet loads.
* ``arm_base_pose`` is where ``scene.build_scene`` places the arm base (on its
  pedestal beside the table, turned towards the body).
* ``robot_description`` combines the two for robot_state_publisher and RViz: the
  same URDF with ``file://`` mesh URIs, under a root link ``world`` joined to the
  arm base by the fixed joint ``world_to_arm_base`` at the scene's base pose. Its
  TF tree (world -> lbr_iiwa_link_0 -> ... -> massage_tool) is therefore the
  PyBullet world frame (z up, metres).

This module must stay cheap and free of PyBullet (a launch file and the sim node
call it): it reads one text file and does arithmetic (the body's proportions come
from ``anatomy``, which is PyBullet-free too). pybullet_data is a data
package whose ``__init__`` only returns its directory; it does not import pybullet.
"""

from __future__ import annotations

import math
import os
import re

import pybullet_data

from massage_td3_ros.env.anatomy import BodyShape, body_geometry
from massage_td3_ros.env.config import EnvConfig

WORLD_FRAME = "world"
BASE_JOINT = "world_to_arm_base"
ARM_BASE_LINK = "lbr_iiwa_link_0"
TOOL_LINK = "massage_tool"
FLANGE_LINK = "lbr_iiwa_link_7"
# A comfortable elbow-up posture reaching over the table (base turned towards it).
REST_POSE_RAD = (0.0, 0.7, 0.0, -1.3, 0.0, 1.1, 0.0)

FLANGE_LENGTH_M = 0.048    # link 7 extends this far beyond joint 7
TOOL_STEM_M = 0.012        # visual stem between flange and ball
PEDESTAL_DROP_M = 0.1      # arm base below the table top
ARM_BASE_YAW_RAD = math.pi / 2   # base turned so the arm faces the table

_TOOL_XML = """
  <joint name="massage_tool_joint" type="fixed">
    <parent link="{flange}"/>
    <child link="massage_tool"/>
    <origin rpy="0 0 0" xyz="0 0 {offset:.5f}"/>
  </joint>
  <link name="massage_tool">
    <inertial>
      <origin rpy="0 0 0" xyz="0 0 0"/>
      <mass value="{mass:.5f}"/>
      <inertia ixx="{inertia:.3e}" ixy="0" ixz="0" iyy="{inertia:.3e}" iyz="0"
               izz="{inertia:.3e}"/>
    </inertial>
    <visual>
      <geometry><sphere radius="{radius:.5f}"/></geometry>
      <material name="tool_rubber"><color rgba="0.15 0.6 0.55 1"/></material>
    </visual>
    <visual>
      <origin rpy="0 0 0" xyz="0 0 {stem_z:.5f}"/>
      <geometry><cylinder radius="0.012" length="{stem_len:.5f}"/></geometry>
    </visual>
    <collision>
      <geometry><sphere radius="{radius:.5f}"/></geometry>
    </collision>
  </link>
</robot>"""

_WORLD_XML = """
  <link name="{world}"/>
  <joint name="{joint}" type="fixed">
    <parent link="{world}"/>
    <child link="{base}"/>
    <origin rpy="0 0 {yaw!r}" xyz="{x!r} {y!r} {z!r}"/>
  </joint>
</robot>"""


def arm_model_dir() -> str:
    """Directory of the iiwa model in pybullet_data (model.urdf and meshes/)."""
    return os.path.join(pybullet_data.getDataPath(), "kuka_iiwa")


def arm_urdf_text(tool_radius_m: float, tool_mass_kg: float, mesh_prefix: str = "") -> str:
    """The iiwa URDF with the ball tool on link 7.

    Mesh filenames become ``mesh_prefix`` + the absolute path of the mesh ("" gives
    plain paths, as PyBullet is given; "file://" gives URIs, as RViz needs). Radius
    and mass are used rounded to 5 decimals (as ``load_arm`` loads them).
    """
    source_dir = arm_model_dir()
    with open(os.path.join(source_dir, "model.urdf")) as handle:
        text = handle.read()
    text = text.replace('filename="meshes/', f'filename="{mesh_prefix}{source_dir}/meshes/')
    return add_tool(text, FLANGE_LINK, tool_offset_m(tool_radius_m), tool_radius_m,
                    tool_mass_kg)


def tool_offset_m(tool_radius_m: float) -> float:
    """Distance of the ball's centre from the iiwa's flange link origin, along its z."""
    return FLANGE_LENGTH_M + TOOL_STEM_M + round(tool_radius_m, 5)


def add_tool(urdf_text: str, flange_link: str, offset_m: float, tool_radius_m: float,
             tool_mass_kg: float) -> str:
    """``urdf_text`` with the ball tool (link TOOL_LINK) on a fixed joint ``offset_m``
    along ``flange_link``'s z axis (the tool axis). Radius and mass rounded to 5
    decimals."""
    tool_radius_m, tool_mass_kg = round(tool_radius_m, 5), round(tool_mass_kg, 5)
    tool = _TOOL_XML.format(flange=flange_link, offset=offset_m, mass=tool_mass_kg,
                            radius=tool_radius_m,
                            inertia=0.4 * tool_mass_kg * tool_radius_m ** 2,
                            stem_z=-(tool_radius_m + TOOL_STEM_M / 2 + 0.004),
                            stem_len=TOOL_STEM_M + 0.008)
    return re.sub(r"</robot>\s*$", tool, urdf_text.rstrip())


def nominal_body(config: EnvConfig) -> BodyShape:
    """The build of the fixed person the scene is built with (config.body_height_m)."""
    return BodyShape(height_m=config.body_height_m)


def arm_base_pose(config: EnvConfig) -> tuple[tuple[float, float, float], float]:
    """World position [m] of the arm base frame (lbr_iiwa_link_0) and its yaw [rad].

    Beside the table at the middle of the (nominal) back, ``arm_lateral_offset_m``
    to the person's right (-y), on a pedestal ``PEDESTAL_DROP_M`` below the table
    top; the base is only turned about z.
    """
    lower, upper = body_geometry(nominal_body(config)).back_x_range_m
    x = (lower + upper) / 2
    return (x, -config.arm_lateral_offset_m,
            config.table_height_m - PEDESTAL_DROP_M), ARM_BASE_YAW_RAD


def robot_description(config: EnvConfig | None = None) -> str:
    """URDF text for robot_state_publisher / RViz: the arm with its tool, fixed to
    the root link ``world`` at the scene's arm base pose; meshes as file:// URIs."""
    config = config or EnvConfig()
    text = arm_urdf_text(config.tool_radius_m, config.tool_mass_kg, mesh_prefix="file://")
    (x, y, z), yaw = arm_base_pose(config)
    world = _WORLD_XML.format(world=WORLD_FRAME, joint=BASE_JOINT, base=ARM_BASE_LINK,
                              x=float(x), y=float(y), z=float(z), yaw=float(yaw))
    return re.sub(r"</robot>\s*$", world, text)
