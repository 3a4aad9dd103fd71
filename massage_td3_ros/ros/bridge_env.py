"""BridgeEnv: MassageEnv with a real arm as its plant.

Everything of the massage task stays MassageEnv's own code: the person and the
strokes over them, the pressure profile, how an action moves the tool target (with
its speed and depth limits), inverse kinematics, the observation, the reward, the
episode metrics. Only the plant's three operations change (massage_env.MassageEnv
"the plant"):

- placing the arm at a stroke's start: an interpolated move over the start point,
  then down onto it, through the driver;
- one control period: send the joint targets, wait to the end of the period on a
  fixed 1/control_hz grid (so the rate holds whatever the agent's latency), with the
  force limit watched on every wrench message by ArmLink;
- reading the tool: the force is the F/T sensor's (the tool's weight removed, then the
  component along the surface normal, as the sim's is the net normal force); where
  the tool is and the nearest body point come from a twin of the scene in PyBullet,
  posed at the measured joint angles and never stepped (kinematics only).

The twin is also what the strokes are planned on: the person on the table is the
config's nominal person, placed by the arm's mounting (env.arm_lateral_offset_m,
env.table_height_m), so ``env.randomize`` must be off.

With ``bridge.stroke_source: taught`` the stroke is a taught polyline instead
(``set_taught_stroke``; env/strokes.py ``taught_stroke``: forth and back at the
episode's stroke speed, no kneading), and the twin's body model, which is not the
real person, no longer stands for the surface: the observation's contact normal,
contact point and signed distance, and the direction the sensed force is projected on,
come from the taught surface (the plane through the nearest stroke point's skin point,
with its taught normal); the tissue region is unknown (-1) and no other arm link can
be reported touching (the twin's overlaps with a body that is not there mean nothing).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pybullet as pb

from massage_td3_ros.env import contact as contact_mod
from massage_td3_ros.env.massage_env import SAFETY_RETRACT_M, MassageEnv
from massage_td3_ros.env.snapshot import Contact
from massage_td3_ros.env.strokes import taught_polyline, taught_stroke

LOG = logging.getLogger(__name__)
CONTACT_FORCE_N = 0.5     # a normal force below this reads as no contact (sensor noise)
MOVE_TIMEOUT_S = 20.0     # a move to a stroke's start that has not arrived by then fails
MOVE_CLEARANCE_M = 0.05   # moves between strokes pass this far above the higher end


def check_bridge_config(config) -> None:
    """ValueError for env settings a real arm cannot honour (the node checks them before
    it waits for the driver; BridgeEnv again, for any other caller)."""
    if config.randomize:
        raise ValueError("massage_bridge works on the person on the table: set "
                         "env.randomize false (the nominal person's build and place)")
    if config.force_governor_n:
        raise ValueError("env.force_governor_n models an arm driver's force stop in the "
                         "simulation; massage_bridge does not apply it: set it to 0 (the "
                         "bridge's force watch holds env.safety_force_limit_n on every "
                         "wrench message; a driver's own force limit stays the driver's)")


class BridgeEnv(MassageEnv):
    """The massage task on a real arm reached through ``link`` (see module doc)."""

    def __init__(self, config, link, bridge_cfg, arm_model=None) -> None:
        check_bridge_config(config)
        super().__init__(config, arm_model=arm_model)  # None: the package's arm
        self.link, self.bridge_cfg = link, bridge_cfg
        arm = self.scene.arm
        names = [pb.getJointInfo(arm.body_id, i, physicsClientId=self.client)[12].decode()
                 for i in range(pb.getNumJoints(arm.body_id, physicsClientId=self.client))]
        if tuple(arm.joint_names) != tuple(link.joint_names):
            # Commands and joint states follow the URDF's document order; the twin's
            # joints follow PyBullet's tree order: they must agree (a serial arm's do).
            raise ValueError(f"the twin's joint order {list(arm.joint_names)} differs from "
                             f"the URDF's {list(link.joint_names)}")
        if bridge_cfg.sensor_frame not in names:
            raise ValueError(f"bridge.sensor_frame {bridge_cfg.sensor_frame!r} is no link of "
                             f"the arm's URDF; links: {names}")
        self._sensor_link = names.index(bridge_cfg.sensor_frame)
        self._deadline = time.monotonic()
        self.stale_holds = 0
        self.answer_sent_ns = 0   # when the last step's joint targets went out (0: none)
        self.taught: tuple[np.ndarray, np.ndarray] | None = None  # points, unit normals

    @property
    def taught_mode(self) -> bool:
        return self.bridge_cfg.stroke_source == "taught"

    def set_taught_stroke(self, points_m, normals) -> float:
        """Keep a taught polyline (checked: TaughtStrokeError) as the stroke of every
        episode from the next reset on; returns its length [m]."""
        self.taught = taught_polyline(points_m, normals)
        return float(np.sum(np.linalg.norm(np.diff(self.taught[0], axis=0), axis=1)))

    def _make_stroke(self, draw, surface, origin, n_points):
        if not self.taught_mode:
            return super()._make_stroke(draw, surface, origin, n_points)
        if self.taught is None:
            raise RuntimeError("BridgeEnv.reset() in taught mode before a taught stroke")
        return taught_stroke(*self.taught, n_points, self.dt_s, draw.stroke_speed_m_s,
                             draw.start_progress)

    # ---- the plant ----------------------------------------------------------------------
    def _place_arm(self, joint_pos_rad: np.ndarray) -> None:
        """Up to a safe height, across, down to just over the stroke's start, then onto
        it: straight lines of the tool (IK on the twin), never through the person. A
        fault on the way (the force limit) stops the move; the episode then ends at
        its first step and waits for massage/reset."""
        arm = self.scene.arm
        start, normal = self.stroke.touch_m[0], self.stroke.normal[0]
        above = start + SAFETY_RETRACT_M * normal
        self._sync_twin()
        here = np.asarray(arm.tool_pose()[0], dtype=float)
        safe_z = max(here[2], above[2]) + MOVE_CLEARANCE_M
        route = [np.array([here[0], here[1], safe_z]), np.array([above[0], above[1], safe_z]),
                 above, start]
        q_above = arm.settle_ik(above, joint_pos_rad, rounds=6)
        self._sync_twin()
        for waypoint in route:
            if not self._move_tool(here, waypoint):
                break
            here = waypoint
        else:
            self._move_to(joint_pos_rad)  # the exact start pose (the env's home)
        self._sync_twin()
        self.link.set_safety(self._sensor_to_world(), q_above)  # retract: back up over it
        self._deadline = time.monotonic()

    def _advance(self, joint_targets_rad: np.ndarray) -> tuple[float, bool]:
        cfg, bridge = self.config, self.bridge_cfg
        stale_s = self.link.stale_s()
        fresh = stale_s <= bridge.sensor_timeout_s
        # first: the answer goes out at once
        sent = fresh and self.link.command(joint_targets_rad)
        self.answer_sent_ns = time.monotonic_ns() if sent else 0
        # Then what the force watch needs for this period (until now it has the last
        # period's: the sensor's orientation and where to retract to).
        self._sync_twin()
        retract = self.scene.arm.solve_ik(self._retract_target(), cfg.ik_iterations)
        self.link.set_safety(self._sensor_to_world(), retract)
        if stale_s > bridge.retract_after_s:
            self.link.latch("sensors_silent", retract)
            LOG.error("joint states or wrench silent for %.2f s (> bridge.retract_after_s "
                      "%g s): retracted the tool; the episode ends", stale_s,
                      bridge.retract_after_s)
        elif not fresh:
            self.stale_holds += 1  # no new target on old data: the driver holds the arm
            LOG.warning("joint states or wrench %.0f ms old (> bridge.sensor_timeout_s): "
                        "holding the arm (%d held periods)", stale_s * 1e3, self.stale_holds)
        now = time.monotonic()
        # The end of this period on the control grid; after a late answer the grid moves.
        self._deadline = max(self._deadline + self.dt_s, now + 0.5 * self.dt_s)
        time.sleep(max(0.0, self._deadline - time.monotonic()))
        return self.link.end_period()

    def _plant_fault(self) -> bool:
        return self.link.fault is not None

    def _tool_and_contacts(self):
        self._sync_twin()
        arm = self.scene.arm
        reading = self.link.latest()
        surface = self._taught_surface() if self.taught_mode else self._twin_surface()
        if reading.force_sensor is None or surface is None:
            return contact_mod.ToolReading(np.zeros(3), False, None, None,
                                           contact_mod.NEAR_RANGE_M), []
        point, normal, distance, body_link = surface   # normal: out of the body
        force_world = self._sensor_to_world() @ reading.force_sensor \
            - self.link.tool_weight_world
        normal_n = max(float(force_world @ normal), 0.0)
        touching = normal_n > CONTACT_FORCE_N
        tool = contact_mod.ToolReading(
            force_vector_n=normal_n * normal if touching else np.zeros(3), in_contact=touching,
            contact_point_m=point, normal=normal, signed_distance_m=distance,
            body_links=(body_link,) if touching and body_link is not None else ())
        contacts = [Contact(arm_link=arm.tool_link,
                            body_link=-1 if body_link is None else body_link,
                            position_on_body_m=tuple(point), normal=tuple(normal),
                            distance_m=distance, normal_force_n=normal_n)] if touching else []
        if self.taught_mode:
            return tool, contacts
        # Other links: the twin's overlaps (a real arm has no sensor there).
        for p in pb.getClosestPoints(arm.body_id, self.scene.body_id, 0.0,
                                     physicsClientId=self.client):
            if p[3] != arm.tool_link and p[8] < 0.0:
                contacts.append(Contact(arm_link=p[3], body_link=p[4], position_on_body_m=p[6],
                                        normal=p[7], distance_m=p[8], normal_force_n=0.0))
        return tool, contacts

    def _twin_surface(self):
        """(body point, outward normal, signed distance, body link) of the twin's body
        nearest the tool, or None beyond contact.NEAR_RANGE_M."""
        arm = self.scene.arm
        nearest = pb.getClosestPoints(arm.body_id, self.scene.body_id,
                                      contact_mod.NEAR_RANGE_M, linkIndexA=arm.tool_link,
                                      physicsClientId=self.client)
        if not nearest:
            return None
        best = min(nearest, key=lambda p: p[8])
        return np.asarray(best[6]), np.asarray(best[7]), float(best[8]), best[4]

    def _taught_surface(self):
        """The same from the taught stroke: locally the plane through the skin point of
        the stroke point nearest the tool centre, with that point's taught normal (no
        body link: None); None beyond contact.NEAR_RANGE_M."""
        tool_m = np.asarray(self.scene.arm.tool_pose()[0], dtype=float)
        index = int(np.argmin(np.linalg.norm(self.stroke.touch_m - tool_m, axis=1)))
        normal = self.stroke.normal[index].copy()
        distance = float((tool_m - self.stroke.touch_m[index]) @ normal)  # ball to skin
        if distance > contact_mod.NEAR_RANGE_M:
            return None
        return tool_m - (distance + self.config.tool_radius_m) * normal, normal, distance, None

    # ---- helpers ------------------------------------------------------------------------
    def _sync_twin(self) -> None:
        """Pose the twin at the measured joint angles and speeds."""
        reading = self.link.latest()
        if reading.q is None:
            return
        arm = self.scene.arm
        for index, q, qd in zip(arm.joint_indices, reading.q, reading.qd, strict=True):
            pb.resetJointState(arm.body_id, index, float(q), float(qd),
                               physicsClientId=self.client)

    def _sensor_to_world(self) -> np.ndarray:
        """Rotation of the F/T sensor's frame into the world (the twin's, as posed)."""
        state = pb.getLinkState(self.scene.arm.body_id, self._sensor_link,
                                computeForwardKinematics=True, physicsClientId=self.client)
        return np.asarray(pb.getMatrixFromQuaternion(state[5])).reshape(3, 3)

    def _move_tool(self, from_m: np.ndarray, to_m: np.ndarray) -> bool:
        """The tool along a straight line at bridge.move_speed_m_s (IK on the twin, one
        target per control period); False if a fault stopped it."""
        arm, cfg = self.scene.arm, self.config
        periods = max(1, int(np.ceil(np.linalg.norm(to_m - from_m)
                                     / self.bridge_cfg.move_speed_m_s / self.dt_s)))
        for k in range(1, periods + 1):
            q = arm.solve_ik(from_m + (to_m - from_m) * k / periods, 4 * cfg.ik_iterations)
            arm.reset(q)  # the twin follows the plan (it is never stepped)
            if not self.link.command(q):
                LOG.error("the move to the stroke's start stopped: %s", self.link.fault)
                return False
            time.sleep(self.dt_s)
        return self._move_to(arm.solve_ik(to_m, 4 * cfg.ik_iterations))

    def _move_to(self, goal_rad: np.ndarray) -> bool:
        """Hold the joint goal until the arm is there; a move that does not arrive is a
        fault (False)."""
        bridge, goal = self.bridge_cfg, np.asarray(goal_rad, dtype=float)
        end = time.monotonic() + MOVE_TIMEOUT_S
        while time.monotonic() < end:
            reading = self.link.latest()
            if reading.q is not None and np.max(np.abs(reading.q - goal)) \
                    <= bridge.reach_tolerance_rad:
                return True
            if not self.link.command(goal):
                LOG.error("the move to the stroke's start stopped: %s", self.link.fault)
                return False
            time.sleep(self.dt_s)
        LOG.error("the arm did not reach the stroke's start within %g s (tolerance %g rad): "
                  "the episode ends", MOVE_TIMEOUT_S, bridge.reach_tolerance_rad)
        self.link.latch("move_failed", None)
        return False
