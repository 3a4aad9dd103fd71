"""What the launch files share: how a node's end ends the launch, and the robot-side
launch (massage_bridge and the agent, with arm_sim as the driver or a real one).

Imports launch and launch_ros only inside the functions: the package itself never
needs them (they come with a ROS 2 distro; `massage-td3 launch` runs without them).
"""

from __future__ import annotations

import os

PACKAGE = "massage_td3_ros"
AGENT_STOP_TIMEOUT_S = "30"  # the agent writes its final checkpoint before exiting


def on_exit(name: str, ends_run: bool):
    """An OnProcessExit handler: log how a node ended; the agent's end (or any crash)
    ends the launch."""
    from launch.actions import EmitEvent
    from launch.events import Shutdown
    from launch.logging import get_logger

    def handler(event, context):
        if event.returncode not in (0, None):
            get_logger(PACKAGE).error(
                f"{name} crashed (exit code {event.returncode}); see its log above. "
                "Shutting down.")
            return [EmitEvent(event=Shutdown(reason=f"{name} crashed"))]
        if ends_run:
            get_logger(PACKAGE).info(f"{name} finished (exit code 0)")
            return [EmitEvent(event=Shutdown(reason=f"{name} finished"))]
        return None
    return handler


ROBOT_OPTIONS = {
    "config": ("", "The agent's parameter file (empty: the installed train.yaml)."),
    "robot_config": ("", "Parameter file of massage_bridge (and arm_sim): topics, joints, "
                         "tool, force limit (empty: the installed hardware_sim.yaml)."),
    "namespace": ("", "ROS namespace of the whole setup; names stay relative."),
    "stroke_source": ("", "massage_bridge's strokes: body_model (planned on the twin's "
                          "person) or taught (the nav_msgs/Path on bridge.taught_stroke_topic); "
                          "empty: the robot_config file's value."),
}


def robot_launch_description(with_driver: bool):
    """massage_bridge + td3_agent, and arm_sim as the driver when ``with_driver``."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    from massage_td3_ros.launch_arguments import ARGUMENTS

    arguments = [DeclareLaunchArgument(name, default_value=default, description=description)
                 for name, (default, description) in ROBOT_OPTIONS.items()]
    arguments += [DeclareLaunchArgument(argument.name, default_value="",
                                        description=f"{argument.help} Empty: the file's value.")
                  for argument in ARGUMENTS if argument.name not in ("gui",)]
    return LaunchDescription(arguments + [OpaqueFunction(
        function=lambda context: _robot_nodes(context, with_driver))])


def _robot_nodes(context, with_driver: bool) -> list:
    from ament_index_python.packages import get_package_share_directory
    from launch.actions import RegisterEventHandler
    from launch.event_handlers import OnProcessExit
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    from massage_td3_ros.config import load_config
    from massage_td3_ros.launch_arguments import (
        AGENT,
        ARGUMENTS,
        SIM,
        node_overrides,
        ros_parameter_arguments,
    )

    def value(name):
        return LaunchConfiguration(name).perform(context)

    share = get_package_share_directory(PACKAGE)
    config = value("config") or os.path.join(share, "config", "train.yaml")
    robot_config = value("robot_config") or os.path.join(share, "config", "hardware_sim.yaml")
    load_config(config)  # stop here, naming the key, on a bad agent parameter
    overrides = node_overrides({a.name: value(a.name) for a in ARGUMENTS if a.name != "gui"})
    if overrides[AGENT].get("agent.mode") == "eval":
        overrides[SIM].setdefault("sim.episodes", "evaluation")
    namespace = value("namespace").strip("/")
    actions = []
    if with_driver:
        actions.append(Node(package=PACKAGE, executable="arm_sim", name="arm_sim",
                            namespace=namespace, output="screen",
                            ros_arguments=["--params-file", robot_config]))
    bridge_overrides = dict(overrides[SIM])
    if value("stroke_source"):
        bridge_overrides["bridge.stroke_source"] = value("stroke_source")
    bridge = Node(package=PACKAGE, executable="massage_bridge", name="massage_bridge",
                  namespace=namespace, output="screen",
                  ros_arguments=["--params-file", robot_config,
                                 *ros_parameter_arguments(bridge_overrides)])
    agent = Node(package=PACKAGE, executable="td3_agent", name="td3_agent",
                 namespace=namespace, output="screen", sigterm_timeout=AGENT_STOP_TIMEOUT_S,
                 ros_arguments=["--params-file", config,
                                *ros_parameter_arguments(overrides[AGENT]),
                                "-p", "use_sim_time:=false"])   # a real arm: wall time
    actions += [
        bridge, agent,
        RegisterEventHandler(OnProcessExit(target_action=agent,
                                           on_exit=on_exit("td3_agent", ends_run=True))),
        RegisterEventHandler(OnProcessExit(target_action=bridge,
                                           on_exit=on_exit("massage_bridge", ends_run=False))),
    ]
    return actions
