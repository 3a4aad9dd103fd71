"""``massage_bridge``: the massage task on a real arm, through standard driver interfaces.

Where massage_sim steps MassageEnv, the bridge steps BridgeEnv (bridge_env.py): the same
task code (strokes, pressure profile, action handling, IK, observation, reward, episode
metrics) on an arm it knows only through its driver: ``joint_states``, a flange
force/torque sensor (WrenchStamped) and a position controller (``<controller>/commands``
or ``<controller>/joint_trajectory``), all set by the ``bridge`` parameters. Everything
the agent sees is massage_sim's: ``massage/state`` in the same layout with the same
counters, stamps, ``held`` flags and reset service (this node *is* MassageSimNode with
another env), except that time is the wall clock (no ``clock``) and ``joint_states`` /
``robot_description`` are left to the driver.

It runs in lockstep on a fixed control grid: an answer is commanded at once, the state
comes at the end of the control period. Safety is the bridge's own:

- the hard force limit (env.safety_force_limit_n) is checked on every wrench message;
  above it the tool retracts along the surface normal at once, the episode ends
  (terminal, counted, logged) and the arm takes no new target until ``massage/reset``;
- sensors older than ``bridge.sensor_timeout_s``: no new targets (the driver holds the
  arm), warned; silent for ``bridge.retract_after_s``: retract, end the episode, wait
  for ``massage/reset``;
- at start-up, joint states and a wrench must arrive within ``bridge.start_timeout_s``
  and the joint names must include the URDF's arm joints: else exit code 2 with the
  reason.
"""

from __future__ import annotations

import sys

from rclpy.context import Context
from rclpy.parameter import Parameter

from massage_td3_ros.ros.arm_link import ArmLink
from massage_td3_ros.ros.common import final_log, run_node
from massage_td3_ros.ros.driver_interfaces import arm_joint_names
from massage_td3_ros.ros.sim_node import MassageSimNode


class MassageBridgeNode(MassageSimNode):
    """MassageSimNode on a real arm (see the module doc)."""

    NODE_NAME = "massage_bridge"
    SIM_TIME = False
    ROBOT_TOPICS = False
    _paused = False     # a fault ended the last episode: wait for massage/reset

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: list[Parameter] | None = None) -> None:
        self.link: ArmLink | None = None
        super().__init__(context=context, parameter_overrides=parameter_overrides)

    def _make_env(self):
        from massage_td3_ros.ros.bridge_env import BridgeEnv  # PyBullet: the twin

        bridge, env = self.groups["bridge"], self.env_cfg
        if self.sim_cfg.mode != "lockstep":
            raise ValueError("massage_bridge paces itself on the control grid: sim.mode "
                             "must be lockstep")
        self.link = ArmLink(self.context, f"{self.NODE_NAME}_driver_io", arm_joint_names(),
                            bridge, env.tool_mass_kg, env.safety_force_limit_n)
        try:
            self.link.wait_for_sensors(bridge.start_timeout_s)
        except (TimeoutError, ValueError) as error:
            self.link.close()
            if isinstance(error, ValueError):
                raise
            raise ValueError(f"{error} on {bridge.joint_states_topic} / "
                             f"{bridge.wrench_topic}: is the arm's driver running?") from error
        self.get_logger().info(
            f"driver found: joints {list(arm_joint_names())}, commands on "
            f"{bridge.controller} ({bridge.controller_kind}), wrench in "
            f"'{bridge.sensor_frame}'; force limit {env.safety_force_limit_n:g} N")
        return BridgeEnv(env, self.link, bridge)

    def _reset_episode(self) -> None:
        if self.link is not None and self.link.fault is not None:
            if not self._paused:
                self._paused = True
                self.get_logger().error(
                    f"fault ({self.link.fault}): the arm holds its retracted pose; call "
                    f"{self.resolve_service_name('massage/reset')} to start the next episode")
            return
        super()._reset_episode()

    def _on_reset(self, request, response):
        if self.link is not None:
            self.link.clear_fault()
        self._paused = False
        return super()._on_reset(request, response)

    def _on_action(self, msg) -> None:
        if not self._paused:
            super()._on_action(msg)

    def _lockstep_tick(self) -> None:
        if not self._paused:
            super()._lockstep_tick()

    def close(self) -> None:
        super().close()
        if self.link is not None:
            final_log(self, f"driver link: {self.link.counts}, held periods on stale "
                      f"sensors {getattr(self.env, 'stale_holds', 0)}")
            self.link.close()


def main(args: list[str] | None = None) -> int:
    """Entry point of the ``massage_bridge`` executable."""
    return run_node(MassageBridgeNode, "massage_bridge", args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
