"""The 7-DoF arm (KUKA LBR iiwa from pybullet_data) with a spherical massage tool.

The tool is an extra link on a fixed joint at the flange: the URDF text (the one
shipped with pybullet_data plus the tool, see robot_description.arm_urdf_text, which
ROS publishes too) is written to a temporary file that PyBullet then loads.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass

import numpy as np
import pybullet as pb

from massage_td3_ros.env.robot_description import REST_POSE_RAD, TOOL_LINK, arm_urdf_text

# Rated joint torques of the LBR iiwa 7 [N m] (motor force limits).
IIWA_MAX_TORQUE_NM = (176.0, 176.0, 110.0, 110.0, 110.0, 40.0, 40.0)
TOOL_DOWN_QUAT = (1.0, 0.0, 0.0, 0.0)  # tool z axis pointing down (pi about x)


@functools.lru_cache(maxsize=8)
def tool_urdf_path(tool_radius_m: float, tool_mass_kg: float) -> str:
    """A URDF file of the iiwa with the ball tool (written once per process)."""
    text = arm_urdf_text(tool_radius_m, tool_mass_kg)
    handle = tempfile.NamedTemporaryFile("w", suffix="_iiwa_tool.urdf", delete=False)
    with handle:
        handle.write(text)
    return handle.name


@dataclass
class Arm:
    """Handles and static data of the loaded arm (indices are PyBullet link indices)."""

    client: int
    body_id: int
    joint_indices: tuple[int, ...]
    joint_names: tuple[str, ...]
    link_names: tuple[str, ...]         # by link index 0..n-1 (base is -1)
    tool_link: int
    lower_rad: np.ndarray
    upper_rad: np.ndarray
    max_force_nm: np.ndarray
    position_gain: float
    velocity_gain: float
    rest_pose_rad: np.ndarray

    def reset(self, joint_pos_rad) -> None:
        """Teleport the joints (zero velocity) and hold them there."""
        for index, value in zip(self.joint_indices, joint_pos_rad):
            pb.resetJointState(self.body_id, index, float(value), 0.0,
                               physicsClientId=self.client)
        self.command(joint_pos_rad)

    def command(self, joint_pos_rad) -> None:
        """Position-control every joint towards ``joint_pos_rad``."""
        n = len(self.joint_indices)
        pb.setJointMotorControlArray(
            self.body_id, self.joint_indices, pb.POSITION_CONTROL,
            targetPositions=list(joint_pos_rad), forces=self.max_force_nm.tolist(),
            positionGains=[self.position_gain] * n, velocityGains=[self.velocity_gain] * n,
            physicsClientId=self.client)

    def solve_ik(self, target_pos_m, iterations: int) -> np.ndarray:
        """Joint positions putting the tool centre at ``target_pos_m``, tool down.

        PyBullet starts from the current joint state; the null space pulls towards
        the rest pose so the elbow does not drift over an episode.
        """
        solution = pb.calculateInverseKinematics(
            self.body_id, self.tool_link, list(target_pos_m), TOOL_DOWN_QUAT,
            lowerLimits=self.lower_rad.tolist(), upperLimits=self.upper_rad.tolist(),
            jointRanges=(self.upper_rad - self.lower_rad).tolist(),
            restPoses=self.rest_pose_rad.tolist(), maxNumIterations=iterations,
            residualThreshold=1e-5, physicsClientId=self.client)
        return np.clip(np.asarray(solution[:len(self.joint_indices)]), self.lower_rad,
                       self.upper_rad)

    def settle_ik(self, target_pos_m, start_rad=None, rounds: int = 12) -> np.ndarray:
        """An accurate IK solution by repeated solving from teleported states (resets)."""
        q = self.rest_pose_rad.copy() if start_rad is None else np.asarray(start_rad)
        for _ in range(rounds):
            self.reset(q)
            q = self.solve_ik(target_pos_m, 100)
        self.reset(q)
        return q

    def joint_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Joint positions [rad], velocities [rad/s] and applied motor torques [N m]."""
        states = pb.getJointStates(self.body_id, self.joint_indices,
                                   physicsClientId=self.client)
        return (np.array([s[0] for s in states]), np.array([s[1] for s in states]),
                np.array([s[3] for s in states]))

    def tool_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Tool-centre position [m] and orientation quaternion (x, y, z, w)."""
        state = pb.getLinkState(self.body_id, self.tool_link, physicsClientId=self.client)
        return np.asarray(state[4]), np.asarray(state[5])


@dataclass(frozen=True)
class ArmModel:
    """Another description of the arm than the package's (a real robot's URDF, for a
    kinematic twin): the URDF file (with the tool link TOOL_LINK), where its root link
    goes in the world (None: where the scene puts the package's arm base) and the rest
    pose its IK leans towards. Motor limits come from the URDF's joint efforts."""

    urdf_path: str
    rest_pose_rad: tuple[float, ...]
    base_position_m: tuple[float, float, float] | None = None
    base_yaw_rad: float = 0.0


def load_arm(client: int, base_position_m, base_yaw_rad: float, tool_radius_m: float,
             tool_mass_kg: float, position_gain: float, velocity_gain: float,
             force_scale: float, model: ArmModel | None = None) -> Arm:
    """Load the arm (the package's, or ``model``'s) with its base fixed at
    ``base_position_m`` (``model.base_position_m`` when that is set)."""
    path = tool_urdf_path(round(tool_radius_m, 5), round(tool_mass_kg, 5))
    if model is not None:
        path = model.urdf_path
        if model.base_position_m is not None:
            base_position_m, base_yaw_rad = model.base_position_m, model.base_yaw_rad
    body_id = pb.loadURDF(path, basePosition=list(base_position_m),
                          baseOrientation=pb.getQuaternionFromEuler((0, 0, base_yaw_rad)),
                          useFixedBase=True, physicsClientId=client)
    n_links = pb.getNumJoints(body_id, physicsClientId=client)
    infos = [pb.getJointInfo(body_id, i, physicsClientId=client) for i in range(n_links)]
    joints = [i for i, info in enumerate(infos)
              if info[2] in (pb.JOINT_REVOLUTE, pb.JOINT_PRISMATIC)]
    tool_link = next(i for i, info in enumerate(infos) if info[12].decode() == TOOL_LINK)
    if model is None:
        max_force_nm, rest = np.asarray(IIWA_MAX_TORQUE_NM), REST_POSE_RAD
    else:
        max_force_nm, rest = np.array([infos[i][10] for i in joints]), model.rest_pose_rad
    for link in range(-1, n_links):  # no damping slowing the joints
        pb.changeDynamics(body_id, link, linearDamping=0.0, angularDamping=0.0,
                          physicsClientId=client)
    return Arm(client=client, body_id=body_id, joint_indices=tuple(joints),
               joint_names=tuple(infos[i][1].decode() for i in joints),
               link_names=tuple(info[12].decode() for info in infos), tool_link=tool_link,
               lower_rad=np.array([infos[i][8] for i in joints]),
               upper_rad=np.array([infos[i][9] for i in joints]),
               max_force_nm=force_scale * max_force_nm,
               position_gain=position_gain, velocity_gain=velocity_gain,
               rest_pose_rad=np.asarray(rest, dtype=float))
