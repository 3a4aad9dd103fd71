"""Train TD3 online: the massage_sim node and the td3_agent node, one parameter file.

    ros2 launch massage_td3_ros train.launch.py
    ros2 launch massage_td3_ros train.launch.py total_steps:=20000 seed:=3 gui:=true
    ros2 launch massage_td3_ros train.launch.py use_sim:=false   # agent only, for a real arm

config/train.yaml holds every default. A launch argument left empty keeps the file's
value; a non-empty one overrides the matching ROS parameter(s) of the node(s).
"""

import os

import yaml
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from massage_td3_ros.config import load_config

PACKAGE = "massage_td3_ros"

# launch argument -> (node, ROS parameter) pairs it overrides, and its help text.
OVERRIDES = {
    "gui": ([("massage_sim", "sim.gui")], "Open the PyBullet GUI: true or false."),
    "seed": ([("massage_sim", "sim.seed"), ("td3_agent", "train.seed")],
             "Random seed of the env and the learner."),
    "total_steps": ([("td3_agent", "train.total_steps")],
                    "Training budget in env steps; the agent stops when it is reached."),
    "run_dir": ([("td3_agent", "train.run_dir")],
                "Folder of runs (checkpoints, logs, figures)."),
    "mode": ([("td3_agent", "agent.mode")], "Agent mode: train or eval."),
    "checkpoint": ([("td3_agent", "agent.checkpoint")],
                   "Checkpoint file to evaluate (eval) or resume from (train)."),
    "device": ([("td3_agent", "td3.device")], "Torch device: cpu or cuda."),
    "sim_mode": ([("massage_sim", "sim.mode")], "Sim stepping: lockstep or realtime."),
}


# Arguments whose parameters are strings: passed as typed, never parsed ('007' stays text).
TEXT_ARGUMENTS = {"run_dir", "mode", "checkpoint", "device", "sim_mode"}


def _parameter_value(argument: str, text: str):
    """The launch argument's text as a typed ROS parameter value ('3' -> 3, 'true' -> True)."""
    if argument in TEXT_ARGUMENTS:
        return text
    value = yaml.safe_load(text)
    return value if isinstance(value, (bool, int, float)) else text


def _nodes(context):
    """The two nodes, with the non-empty launch arguments as parameter overrides."""
    overrides = {"massage_sim": {}, "td3_agent": {}}
    for argument, (targets, _) in OVERRIDES.items():
        text = LaunchConfiguration(argument).perform(context)
        if text == "":
            continue
        for node, parameter in targets:
            overrides[node][parameter] = _parameter_value(argument, text)
    config = LaunchConfiguration("config").perform(context)
    # rclpy ignores parameters nobody declared: check the file first, so a misspelled
    # key stops the launch with its name instead of silently keeping the default.
    load_config(config)
    sim = Node(
        package=PACKAGE, executable="massage_sim", name="massage_sim", output="screen",
        parameters=[config, overrides["massage_sim"]],
        condition=IfCondition(LaunchConfiguration("use_sim")))
    agent = Node(
        package=PACKAGE, executable="td3_agent", name="td3_agent", output="screen",
        parameters=[config, overrides["td3_agent"]],
        # The agent ends the run (budget reached, or eval done): stop the sim with it.
        on_exit=Shutdown(reason="td3_agent finished"))
    return [sim, agent]


def generate_launch_description():
    default_config = os.path.join(get_package_share_directory(PACKAGE), "config", "train.yaml")
    arguments = [
        DeclareLaunchArgument("config", default_value=default_config,
                              description="ROS parameter file of both nodes."),
        DeclareLaunchArgument("use_sim", default_value="true",
                              description="Start the massage_sim node (false: a real arm "
                                          "or another bridge provides its topics)."),
    ]
    arguments += [
        DeclareLaunchArgument(name, default_value="",
                              description=f"{help_text} Empty: the config file's value.")
        for name, (_, help_text) in OVERRIDES.items()
    ]
    return LaunchDescription(arguments + [OpaqueFunction(function=_nodes)])
