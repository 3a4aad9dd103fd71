"""Evaluate a trained policy: the agent in eval mode (deterministic, no updates) with the sim.

    ros2 launch massage_td3_ros eval.launch.py \
        checkpoint:=runs/MassageEnv-v0-seed0/checkpoints/best.pt
    ros2 launch massage_td3_ros eval.launch.py checkpoint:=... use_sim:=false   # a real arm

It is train.launch.py with mode eval; every other argument is passed through.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

PACKAGE = "massage_td3_ros"

# name -> (default, description); an empty default keeps the config file's value.
ARGUMENTS = {
    "checkpoint": ("", "Checkpoint file to load (empty: the run folder's latest)."),
    "config": (None, "ROS parameter file of both nodes."),
    "use_sim": ("true", "Start the massage_sim node (false: a real arm provides its topics)."),
    "gui": ("", "Open the PyBullet GUI: true or false."),
    "seed": ("", "Random seed of the env and the agent."),
    "total_steps": ("", "Env steps to run before the agent stops."),
    "run_dir": ("", "Folder of runs holding the checkpoints."),
    "device": ("", "Torch device: cpu or cuda."),
    "sim_mode": ("", "Sim stepping: lockstep or realtime."),
}


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    arguments = []
    for name, (default, description) in ARGUMENTS.items():
        if default is None:
            default = os.path.join(share, "config", "train.yaml")
        arguments.append(DeclareLaunchArgument(name, default_value=default,
                                               description=description))
    forwarded = {name: LaunchConfiguration(name) for name in ARGUMENTS}
    forwarded["mode"] = "eval"
    train = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, "launch", "train.launch.py")),
        launch_arguments=forwarded.items())
    return LaunchDescription(arguments + [train])
