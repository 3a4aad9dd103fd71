"""The launch arguments users pass, in one table: ``ros2 launch ... name:=value``
(train.launch.py, eval.launch.py) and ``massage-td3 launch --name value`` read it.

Each argument overrides one or more ROS parameters of the nodes; an empty value keeps
the parameter file's. Overrides reach a node as ``--ros-args -p name:=value`` (launch_ros
``ros_arguments``), so no temporary parameter file is written per launch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

SIM, AGENT = "massage_sim", "td3_agent"


@dataclass(frozen=True)
class LaunchArgument:
    name: str
    targets: tuple[tuple[str, str], ...]   # (node name, ROS parameter) it overrides
    help: str
    text: bool = False                     # a word or path, never read as a number
    boolean: bool = False                  # true or false


ARGUMENTS: tuple[LaunchArgument, ...] = (
    LaunchArgument("gui", ((SIM, "sim.gui"),), "Open the PyBullet GUI: true or false.",
                   boolean=True),
    LaunchArgument("seed", ((SIM, "sim.seed"), (AGENT, "train.seed")),
                   "Random seed of the env and the learner."),
    LaunchArgument("total_steps", ((AGENT, "train.total_steps"),),
                   "Training budget in env steps; the agent stops when it is reached."),
    LaunchArgument("run_dir", ((AGENT, "train.run_dir"),),
                   "Folder of runs (checkpoints, logs, figures).", text=True),
    LaunchArgument("out", ((AGENT, "agent.run_folder"),),
                   "Exact output folder of this run (train: checkpoints, logs, figures; "
                   "eval: logs, figures, evaluation.json).", text=True),
    LaunchArgument("mode", ((AGENT, "agent.mode"),), "Agent mode: train or eval.", text=True),
    LaunchArgument("checkpoint", ((AGENT, "agent.checkpoint"),),
                   "Checkpoint file to evaluate (eval) or resume from (train).", text=True),
    LaunchArgument("device", ((AGENT, "td3.device"),), "Torch device: cpu or cuda.",
                   text=True),
    LaunchArgument("sim_mode", ((SIM, "sim.mode"),), "Sim stepping: lockstep or realtime.",
                   text=True),
    LaunchArgument("episodes", ((SIM, "sim.episodes"),),
                   "Episodes the sim runs: training (drawn), evaluation (the fixed "
                   "evaluation episodes), or a suite: nominal, heldout (the people "
                   "training never met).", text=True),
    LaunchArgument("eval_episodes", ((AGENT, "agent.eval_episodes"),),
                   "eval: whole episodes to run before the agent stops."),
    LaunchArgument("background_updates", ((AGENT, "agent.background_updates"),),
                   "Gradient updates on a worker thread: true or false (use with "
                   "sim_mode:=realtime).", boolean=True),
    LaunchArgument("learner_process", ((AGENT, "agent.learner_process"),),
                   "Gradient updates in a learner process (the default): true or false "
                   "(false: inline; background_updates takes precedence).", boolean=True),
    LaunchArgument("realtime_priority", ((AGENT, "agent.realtime_priority"),),
                   "The agent's SCHED_FIFO priority (0: off; needs background_updates "
                   "in train mode); the bridge has its own bridge.realtime_priority."),
)
BY_NAME = {argument.name: argument for argument in ARGUMENTS}

# The launch files' other arguments: name -> (default, description).
LAUNCH_OPTIONS = {
    "config": ("", "ROS parameter file of both nodes (empty: the installed train.yaml)."),
    "use_sim": ("true", "Start the massage_sim node (false: a real arm or another bridge "
                        "provides its topics)."),
    "namespace": ("", "ROS namespace of the whole setup (e.g. bed1); names stay relative."),
    "use_sim_time": ("true", "The agent (and robot_state_publisher, RViz) follow the sim's "
                             "/clock; false for a real arm."),
    "rviz": ("false", "Also start RViz with rviz/massage.rviz (needs rviz2)."),
}


def parameter_value(argument: LaunchArgument, text: str) -> Any:
    """The argument's text as a typed parameter value ('3' -> 3, 'true' -> True)."""
    if argument.text:
        return text
    value = yaml.safe_load(text)
    return value if isinstance(value, (bool, int, float)) else text


def node_overrides(values: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """``{node: {parameter: value}}`` for the non-empty argument texts in ``values``."""
    overrides: dict[str, dict[str, Any]] = {SIM: {}, AGENT: {}}
    for name, text in values.items():
        if text in ("", None):
            continue
        argument = BY_NAME[name]
        for node, parameter in argument.targets:
            overrides[node][parameter] = parameter_value(argument, str(text))
    return overrides


def ros_literal(value: Any) -> str:
    """A value as `-p name:=value` text, read back as the same type by rcl's YAML parser."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    return "'" + text.replace("'", "''") + "'"


def ros_parameter_arguments(overrides: Mapping[str, Any]) -> list[str]:
    """``['-p', 'name:=value', ...]``: the overrides as ROS command-line arguments."""
    arguments: list[str] = []
    for name, value in overrides.items():
        arguments += ["-p", f"{name}:={ros_literal(value)}"]
    return arguments
