"""Evaluate a trained policy on the fixed evaluation episodes, then stop.

    ros2 launch massage_td3_ros eval.launch.py \
        checkpoint:=runs/MassageEnv-v0-seed0/checkpoints/final.pt
    ros2 launch massage_td3_ros eval.launch.py checkpoint:=... out:=/tmp/eval-final
    ros2 launch massage_td3_ros eval.launch.py checkpoint:=... use_sim:=false  # a real arm

train.launch.py with the agent in eval mode (deterministic, no updates) and the sim
running the fixed evaluation episodes of `massage-td3 eval` (along/across the back x
forward/reverse). The agent stops after eval_episodes (default 4) whole episodes and
writes evaluation.json, logs and figures into out, or next to the checkpoint
(<checkpoint name>-eval/); never into a training run's folder.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

from massage_td3_ros.launch_arguments import ARGUMENTS, LAUNCH_OPTIONS

PACKAGE = "massage_td3_ros"
EVAL_DEFAULTS = {"mode": "eval", "episodes": "evaluation"}


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    arguments = [DeclareLaunchArgument(name, default_value=default, description=description)
                 for name, (default, description) in LAUNCH_OPTIONS.items()]
    arguments += [DeclareLaunchArgument(argument.name,
                                        default_value=EVAL_DEFAULTS.get(argument.name, ""),
                                        description=argument.help)
                  for argument in ARGUMENTS if argument.name != "mode"]
    forwarded = {name: LaunchConfiguration(name) for name in LAUNCH_OPTIONS}
    forwarded.update({argument.name: LaunchConfiguration(argument.name)
                      for argument in ARGUMENTS if argument.name != "mode"})
    forwarded["mode"] = "eval"
    train = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, "launch", "train.launch.py")),
        launch_arguments=forwarded.items())
    return LaunchDescription(arguments + [train])
