"""The bridge's line to a real arm's driver: joint states and the F/T sensor in, joint
position commands out, and the hard force limit watched on every wrench message.

ArmLink is an rclpy node of its own, spun on a thread of its own, so sensor messages
keep arriving (and the force limit keeps being watched) while the massage task waits
for the end of a control period. Everything it shares with that task sits behind one
lock. It knows nothing of strokes or observations: BridgeEnv tells it, each period,
the joint targets, where to retract to if the limit trips, and how the sensor is
oriented (to remove the tool's weight from the reading).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import WrenchStamped
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data  # best effort: matches any driver's publisher
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from massage_td3_ros.ros.common import RELIABLE_QOS, side_node
from massage_td3_ros.ros.driver_interfaces import wrench_vectors

GRAVITY_M_S2 = 9.81
WARN_PERIOD_S = 2.0
# Faults that end an episode and wait for massage/reset.
FAULTS = ("over_force", "sensors_silent", "move_failed")


@dataclass
class Reading:
    """The latest joint state (driver order mapped to the arm's) and wrench, with the
    monotonic times they arrived."""

    q: np.ndarray | None = None
    qd: np.ndarray | None = None
    joints_at: float = -np.inf
    force_sensor: np.ndarray | None = None    # in the sensor frame [N]
    torque_sensor: np.ndarray | None = None   # [N m]
    wrench_at: float = -np.inf


class ArmLink:
    """Joint states and wrench in, commands out, force limit watched (see module doc)."""

    def __init__(self, context: Context, name: str, joint_names: tuple[str, ...], cfg,
                 tool_mass_kg: float, force_limit_n: float, namespace: str = "") -> None:
        self.cfg, self.joint_names = cfg, tuple(joint_names)
        self.tool_weight_world = np.array([0.0, 0.0, -tool_mass_kg * GRAVITY_M_S2])
        self.force_limit_n = force_limit_n
        self.node = side_node(context, name, namespace)
        self._lock = threading.Lock()
        self.reading = Reading()
        self.driver_joint_names: tuple[str, ...] | None = None
        self._order: np.ndarray | None = None     # driver index of each arm joint
        # Set by the task each period: the sensor's orientation in the world and the
        # retract command for this period.
        self._sensor_to_world = np.eye(3)
        self._retract_q: np.ndarray | None = None
        self._period_peak_n = 0.0
        self.fault: str | None = None
        self.counts = {"commands": 0, "name_mismatch": 0, **dict.fromkeys(FAULTS, 0)}
        self._warned_no_subscriber = False
        if cfg.controller_kind == "trajectory":
            self._command_pub = self.node.create_publisher(
                JointTrajectory, f"{cfg.controller}/joint_trajectory", RELIABLE_QOS)
        else:
            self._command_pub = self.node.create_publisher(
                Float64MultiArray, f"{cfg.controller}/commands", RELIABLE_QOS)
        self.node.create_subscription(JointState, cfg.joint_states_topic, self._on_joints,
                                      qos_profile_sensor_data)
        self.node.create_subscription(WrenchStamped, cfg.wrench_topic, self._on_wrench,
                                      qos_profile_sensor_data)
        self._executor = SingleThreadedExecutor(context=context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name=f"{name}-io", daemon=True)
        self._thread.start()

    # ---- sensors (the I/O thread) -------------------------------------------------------
    def _spin(self) -> None:
        try:
            self._executor.spin()
        except Exception:  # noqa: BLE001 - the context shut down under us: stop quietly
            pass

    def _on_joints(self, msg: JointState) -> None:
        names = tuple(msg.name)
        with self._lock:
            if names != self.driver_joint_names:
                self.driver_joint_names = names
                index = {name: i for i, name in enumerate(names)}
                missing = [n for n in self.joint_names if n not in index]
                self._order = None if missing else np.array([index[n] for n in self.joint_names])
                if missing:
                    self.counts["name_mismatch"] += 1
            if self._order is None or len(msg.position) != len(names):
                return
            self.reading.q = np.asarray(msg.position, dtype=float)[self._order]
            velocity = np.asarray(msg.velocity, dtype=float)
            self.reading.qd = (velocity[self._order] if len(velocity) == len(names)
                               else np.zeros(len(self.joint_names)))
            self.reading.joints_at = time.monotonic()

    def _on_wrench(self, msg: WrenchStamped) -> None:
        force, torque = wrench_vectors(msg)
        if not (np.all(np.isfinite(force)) and np.all(np.isfinite(torque))):
            return  # a broken reading never counts as fresh
        with self._lock:
            self.reading.force_sensor, self.reading.torque_sensor = force, torque
            self.reading.wrench_at = time.monotonic()
            contact_n = float(np.linalg.norm(self._contact_force_world(force)))
            self._period_peak_n = max(self._period_peak_n, contact_n)
            tripped = contact_n > self.force_limit_n and self.fault is None
            if tripped:
                self.fault = "over_force"
                self.counts["over_force"] += 1
                retract = self._retract_q
        if tripped:
            # At once, from this thread: the task may be waiting out its period.
            if retract is not None:
                self._publish(retract)
            self.node.get_logger().error(
                f"force {contact_n:.1f} N above the hard limit {self.force_limit_n:g} N: "
                "retracting along the surface normal; the episode ends, and the arm takes "
                "no new target until massage/reset")

    def _contact_force_world(self, force_sensor: np.ndarray) -> np.ndarray:
        """The body's force on the tool, in the world: the sensor reads the tool's push on
        the flange, which (the tool at rest) is the contact force plus the tool's weight."""
        return self._sensor_to_world @ force_sensor - self.tool_weight_world

    # ---- the task's side ----------------------------------------------------------------
    def latest(self) -> Reading:
        with self._lock:
            r = self.reading
            return Reading(None if r.q is None else r.q.copy(),
                           None if r.qd is None else r.qd.copy(), r.joints_at,
                           None if r.force_sensor is None else r.force_sensor.copy(),
                           None if r.torque_sensor is None else r.torque_sensor.copy(),
                           r.wrench_at)

    def contact_force_world(self, force_sensor: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._contact_force_world(force_sensor)

    def wait_for_sensors(self, timeout_s: float) -> Reading:
        """Block until a joint state and a wrench have arrived; raise TimeoutError."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            reading = self.latest()
            if reading.q is not None and reading.force_sensor is not None:
                return reading
            with self._lock:
                names, order = self.driver_joint_names, self._order
            if names is not None and order is None:
                raise ValueError(f"the driver's joint_states names {list(names)} do not "
                                 f"include the URDF's arm joints {list(self.joint_names)}")
            time.sleep(0.01)
        reading = self.latest()
        what = [name for name, value in (("joint states", reading.q),
                                         ("wrench", reading.force_sensor)) if value is None]
        raise TimeoutError(f"no {' and no '.join(what)} within {timeout_s:g} s")

    def set_safety(self, sensor_to_world: np.ndarray, retract_q: np.ndarray) -> None:
        """What the force watch needs: the sensor's orientation, where to retract to."""
        with self._lock:
            self._sensor_to_world = np.asarray(sensor_to_world, dtype=float)
            self._retract_q = np.asarray(retract_q, dtype=float)

    def end_period(self) -> tuple[float, bool]:
        """(the largest contact force of the wrench messages since the last call, whether
        a fault holds the arm), read together, and the peak starts afresh: every message
        counts in exactly one control step's peak, also one that arrived between two
        steps, so a spike that latched the fault always ends its step as an over-force."""
        with self._lock:
            peak, self._period_peak_n = self._period_peak_n, 0.0
            return peak, self.fault is not None

    def stale_s(self) -> float:
        """Age of the older of the two sensor streams."""
        reading = self.latest()
        return time.monotonic() - min(reading.joints_at, reading.wrench_at)

    def command(self, q_rad: np.ndarray) -> bool:
        """Send joint targets unless a fault holds the arm; True if sent."""
        with self._lock:
            if self.fault is not None:
                return False
        self._publish(q_rad)
        return True

    def latch(self, fault: str, retract_q: np.ndarray | None) -> None:
        """Enter a fault: retract (if given) and take no new targets until cleared."""
        with self._lock:
            if self.fault is None:
                self.fault = fault
                self.counts[fault] += 1
        if retract_q is not None:
            self._publish(retract_q)

    def clear_fault(self) -> None:
        with self._lock:
            self.fault = None

    def _publish(self, q_rad: np.ndarray) -> None:
        if self._command_pub.get_subscription_count() == 0 and not self._warned_no_subscriber:
            self._warned_no_subscriber = True
            self.node.get_logger().warning(
                f"nobody subscribes {self._command_pub.topic_name}: the arm's driver does "
                f"not listen there (is the '{self.cfg.controller}' controller loaded and "
                f"active, and is bridge.controller_kind '{self.cfg.controller_kind}' right?)")
        values = [float(v) for v in q_rad]
        if self.cfg.controller_kind == "trajectory":
            seconds = self.cfg.trajectory_time_s
            point = JointTrajectoryPoint(positions=values, time_from_start=Duration(
                sec=int(seconds), nanosec=int(round((seconds % 1.0) * 1e9))))
            self._command_pub.publish(JointTrajectory(joint_names=list(self.joint_names),
                                                      points=[point]))
        else:
            self._command_pub.publish(Float64MultiArray(data=values))
        self.counts["commands"] += 1

    def close(self) -> None:
        """Stop the I/O thread (before the process exits: a thread left waiting inside
        rclpy aborts the interpreter's teardown) and destroy the node."""
        self._executor.shutdown(timeout_sec=1.0)
        self._thread.join(timeout=2.0)
        self.node.destroy_node()
