"""Train TD3 online: the massage_sim node and the td3_agent node, one parameter file.

    ros2 launch massage_td3_ros train.launch.py
    ros2 launch massage_td3_ros train.launch.py total_steps:=20000 seed:=3 gui:=true
    ros2 launch massage_td3_ros train.launch.py namespace:=bed1      # /bed1/massage/state ...
    ros2 launch massage_td3_ros train.launch.py rviz:=true           # robot, tool, forces
    ros2 launch massage_td3_ros train.launch.py use_sim:=false       # agent only (a real arm)

config/train.yaml holds every default. A launch argument left empty keeps the file's
value; a non-empty one overrides the matching ROS parameter(s) of the node(s)
(massage_td3_ros/launch_arguments.py holds the table). The sim publishes /clock;
use_sim_time (default true) makes the other nodes follow it, as with Gazebo.
"""

import os

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.logging import get_logger
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from massage_td3_ros.config import load_config
from massage_td3_ros.launch_arguments import (
    AGENT,
    ARGUMENTS,
    LAUNCH_OPTIONS,
    SIM,
    node_overrides,
    ros_parameter_arguments,
)
from massage_td3_ros.launch_support import AGENT_STOP_TIMEOUT_S, PACKAGE, on_exit


def _is_installed(package: str) -> bool:
    try:
        get_package_share_directory(package)
        return True
    except PackageNotFoundError:
        return False


def _nodes(context):
    def value(name):
        return LaunchConfiguration(name).perform(context)

    share = get_package_share_directory(PACKAGE)
    config = value("config") or os.path.join(share, "config", "train.yaml")
    # Stop here, naming the key, on a misspelled or out-of-range parameter.
    env_config = load_config(config).env
    overrides = node_overrides({argument.name: value(argument.name) for argument in ARGUMENTS})
    namespace = value("namespace").strip("/")
    sim_time = value("use_sim_time").lower() in ("true", "1", "yes")
    clock_args = ["-p", f"use_sim_time:={'true' if sim_time else 'false'}"]

    def node_arguments(node: str, extra=()) -> list:
        # The file first, then the overrides: rcl lets the later value win, and launch_ros
        # would put a `parameters=` file after `ros_arguments`.
        return ["--params-file", config, *ros_parameter_arguments(overrides[node]), *extra]
    # /clock is absolute in every use_sim_time node; in a namespace it is that setup's.
    remap_clock = [("/clock", "clock")]

    sim = Node(
        package=PACKAGE, executable="massage_sim", name="massage_sim", namespace=namespace,
        output="screen", ros_arguments=node_arguments(SIM),
        condition=IfCondition(LaunchConfiguration("use_sim")))
    agent = Node(
        package=PACKAGE, executable="td3_agent", name="td3_agent", namespace=namespace,
        output="screen", ros_arguments=node_arguments(AGENT, clock_args),
        remappings=remap_clock, sigterm_timeout=AGENT_STOP_TIMEOUT_S)
    actions = [
        sim, agent,
        RegisterEventHandler(OnProcessExit(target_action=agent,
                                           on_exit=on_exit("td3_agent", ends_run=True))),
        RegisterEventHandler(OnProcessExit(target_action=sim,
                                           on_exit=on_exit("massage_sim", ends_run=False))),
    ]
    if _is_installed("robot_state_publisher"):
        from massage_td3_ros.env.robot_description import robot_description

        # TF of every arm link from joint_states; the URDF's root is the world frame.
        actions.append(Node(
            package="robot_state_publisher", executable="robot_state_publisher",
            namespace=namespace, output="log", remappings=remap_clock,
            parameters=[{"robot_description": robot_description(env_config),
                         "use_sim_time": sim_time}]))
    else:
        get_logger(PACKAGE).info("robot_state_publisher is not installed: no TF for RViz")
    if value("rviz").lower() == "true":
        if not _is_installed("rviz2"):
            get_logger(PACKAGE).error("rviz:=true but rviz2 is not installed")
        else:
            actions.append(Node(
                package="rviz2", executable="rviz2", namespace=namespace, output="log",
                arguments=["-d", os.path.join(share, "rviz", "massage.rviz")],
                ros_arguments=clock_args, remappings=remap_clock + [
                    (f"/{topic}", topic) for topic in (
                        "robot_description", "massage/tool_pose", "massage/contacts",
                        "massage/stroke", "massage/contact_wrench")]))
    return actions


def generate_launch_description():
    arguments = [DeclareLaunchArgument(name, default_value=default, description=description)
                 for name, (default, description) in LAUNCH_OPTIONS.items()]
    arguments += [DeclareLaunchArgument(argument.name, default_value="",
                                        description=f"{argument.help} Empty: the config "
                                                    "file's value.")
                  for argument in ARGUMENTS]
    return LaunchDescription(arguments + [OpaqueFunction(function=_nodes)])
