"""The one configuration: which parameter groups each node owns, and YAML loading.

``config/train.yaml`` is laid out as a ROS 2 parameter file, so ``ros2 launch`` can
hand it to the nodes unchanged, and the in-process trainer reads the same file:

    /**/massage_sim:
      ros__parameters:
        sim: {...}        # SimNodeConfig
        env: {...}        # EnvConfig
    /**/td3_agent:
      ros__parameters:
        agent: {...}      # AgentNodeConfig
        td3: {...}        # TD3Config
        exploration: {...}
        train: {...}      # TrainConfig

In ROS the nested keys become dotted parameter names (``env.target_force_n``). The node
keys carry the ``/**/`` wildcard so the file applies in any namespace (a plain
``massage_sim:`` key matches only the node in the root namespace); plain keys are read
too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.observation import observation_slices
from massage_td3_ros.env.robot_description import REST_POSE_RAD, tool_offset_m
from massage_td3_ros.params import describe, from_dict, param, to_dict
from massage_td3_ros.td3.config import ExplorationConfig, TD3Config
from massage_td3_ros.training.config import TrainConfig

PACKAGE = "massage_td3_ros"
ANY_NAMESPACE = "/**/"   # prefix of a parameter file's node keys: the node in any namespace


def node_key(node: str) -> str:
    """The parameter-file key of ``node``, matching it in any namespace."""
    return ANY_NAMESPACE + node


@dataclass(frozen=True)
class SimNodeConfig:
    """How the simulation node drives the env and talks to the agent."""

    mode: str = param("lockstep", "lockstep: one control step per received action; "
                      "realtime: step at a fixed rate, holding the tool target when no "
                      "fresh action came.",
                      choices=("lockstep", "realtime"))
    action_timeout_s: float = param(
        1.0, "Lockstep: seconds to wait for an action before stepping with the tool target "
        "held (and warning).", 0.01, 60.0)
    seed: int = param(0, "Seed of every episode's reset (combined with the episode index, "
                      "as the in-process trainer does).", 0, 2**31 - 1)
    episodes: str = param("training", "training: episodes drawn from sim.seed and the "
                          "episode index (as the in-process trainer draws them); evaluation: "
                          "the fixed evaluation episodes of `massage-td3 eval` in order "
                          "(reset seed sim.seed + index, cycling along/across the back x "
                          "forward/reverse); nominal, heldout: the episodes of `massage-td3 "
                          "eval --suite` of that name, in order (cycling).",
                          choices=("training", "evaluation", "nominal", "heldout"))
    gui: bool = param(False, "Open the PyBullet GUI (needs a display).")
    frame_id: str = param("world", "Frame of every stamped message (the PyBullet "
                          "world frame: z up, metres).")


@dataclass(frozen=True)
class AgentNodeConfig:
    """What the agent node does with the states it receives."""

    mode: str = param("train", "train: explore and learn online; eval: act "
                      "deterministically from a checkpoint, no updates.",
                      choices=("train", "eval"))
    checkpoint: str = param("", "eval: checkpoint file to load; train: resume from "
                            "this file instead of the run's latest (empty: latest).")
    run_folder: str = param("", "Exact output folder; empty: in train mode "
                            "<train.run_dir>/MassageEnv-v0-seed<train.seed>, in eval mode a "
                            "folder next to the checkpoint (<checkpoint name>-eval).")
    eval_episodes: int = param(4, "eval: stop after this many whole episodes (the sim's "
                               "fixed evaluation episodes with sim.episodes: evaluation).",
                               1, 10_000)
    background_updates: bool = param(
        False, "Run gradient updates on a worker thread so the state-to-action time "
        "does not depend on training (use with the sim's realtime mode).")
    learner_process: bool = param(
        True, "Train mode: run the gradient updates in a learner process, overlapped with "
        "the sim step and the DDS round trip (the acting weights lag "
        "train.learner_in_flight states' updates). False: on the node's thread. "
        "agent.background_updates takes precedence (a worker thread).")
    realtime_priority: int = param(
        0, "Linux SCHED_FIFO priority of the node's threads (the state-to-action path), "
        "as massage_bridge's bridge.realtime_priority; the update thread stays at normal "
        "priority. Needs agent.background_updates in train mode and td3.torch_threads 1, "
        "and permission (an rtprio limit or CAP_SYS_NICE; without it: a warning). 0: off.",
        0, 99)


# Which groups each node reads, under its node name.
@dataclass(frozen=True)
class BridgeConfig:
    """How massage_bridge meets a real arm: its driver's topics and the safety watch."""

    joint_states_topic: str = param("joint_states", "The driver's sensor_msgs/JointState.")
    wrench_topic: str = param("force_torque_sensor_broadcaster/wrench", "The flange "
                              "force/torque sensor (geometry_msgs/WrenchStamped; ros2_control's "
                              "force_torque_sensor_broadcaster's default topic). The wrench "
                              "the tool exerts on the flange, in sensor_frame.")
    sensor_frame: str = param("lbr_iiwa_link_7", "URDF link the wrench is expressed in.")
    controller: str = param("forward_position_controller", "Name of the position controller: "
                            "commands go to <controller>/commands (forward) or "
                            "<controller>/joint_trajectory (trajectory).")
    controller_kind: str = param("forward", "forward: std_msgs/Float64MultiArray of joint "
                                 "positions; trajectory: trajectory_msgs/JointTrajectory with "
                                 "one point.", choices=("forward", "trajectory"))
    trajectory_time_s: float = param(0.05, "trajectory: time_from_start of the point.",
                                     0.0, 10.0)
    sensor_timeout_s: float = param(0.1, "A joint state or wrench older than this: hold the "
                                    "arm where it is (no new targets) and warn.", 0.01, 10.0)
    retract_after_s: float = param(0.5, "Sensors silent this long: retract the tool along "
                                   "the surface normal and end the episode (a fault that "
                                   "waits for massage/reset).", 0.02, 60.0)
    start_timeout_s: float = param(10.0, "Wait this long at start-up for the first joint "
                                   "state and wrench; none: exit with an error.", 0.1, 600.0)
    realtime_priority: int = param(
        50, "Linux SCHED_FIFO priority of the bridge's threads (control loop, sensor "
        "watch, DDS), so the answer's joint command goes out at once on a busy CPU, as "
        "ros2_control's controller manager does for its loop (same default). Needs "
        "permission: an rtprio limit (/etc/security/limits.conf) or CAP_SYS_NICE; "
        "without it the bridge warns and runs at normal priority. 0: off.", 0, 99)
    move_speed_m_s: float = param(0.1, "Tool speed of the moves to a stroke's start: up to "
                                  "a safe height, across, down (straight lines, the bridge "
                                  "interpolates them).", 0.005, 1.0)
    reach_tolerance_rad: float = param(0.01, "A move has arrived when every joint is within "
                                       "this of its goal.", 1.0e-4, 0.5)
    urdf_source: str = param(
        "package", "The robot's kinematics (forward and inverse, on a PyBullet twin that is "
        "never stepped): package: the package's arm (the KUKA LBR iiwa with the ball tool "
        "the policies are trained on); file: the URDF at urdf_file; topic: the URDF on "
        "robot_description (std_msgs/String, transient local; waited for up to "
        "start_timeout_s). A URDF rooted at sim.frame_id is placed as it says, any other "
        "root by the base-to-table transform (env.table_height_m, env.arm_lateral_offset_m). "
        "It must have 7 movable joints (the policy's observation).",
        choices=("package", "file", "topic"))
    urdf_file: str = param("", "urdf_source file: the robot's URDF file.")
    flange_link: str = param("lbr_iiwa_link_7", "A URDF without the link massage_tool "
                             "gets the ball tool mounted on this link ...")
    tool_offset_m: float = param(tool_offset_m(EnvConfig().tool_radius_m), "... this far "
                                 "along the link's z axis (flange to ball centre; default: "
                                 "the package's tool).", 0.0, 1.0)
    rest_pose_rad: tuple[float, ...] = param(
        REST_POSE_RAD, "urdf_source file or topic: the posture the "
        "inverse kinematics leans towards (one value per movable joint, URDF order); the "
        "package's arm has its own.", -7.0, 7.0)
    stroke_source: str = param(
        "body_model", "Where the strokes come from. body_model: planned on the twin's "
        "body model (the config's nominal person, placed relative to the arm by "
        "env.table_height_m and env.arm_lateral_offset_m), as massage_sim plans them; "
        "taught: the nav_msgs/Path last received on taught_stroke_topic (the bridge waits "
        "for one before its first episode), with the surface quantities of the "
        "observation taken from it instead of the twin's body.",
        choices=("body_model", "taught"))
    taught_stroke_topic: str = param(
        "massage/taught_stroke", "taught: the stroke, a nav_msgs/Path (reliable, transient "
        "local: one published once before the bridge starts still arrives) in sim.frame_id "
        "with at least 2 poses. Each pose's position is the tool centre where the ball just "
        "touches the skin, its orientation's z axis the outward surface normal (up, out of "
        "the person). Traversed forth and back by arc length at env.stroke_speed_m_s, "
        "without kneading; a new valid path replaces the stroke from the next episode on, "
        "an invalid one is rejected (logged, counted).")


NODE_GROUPS: dict[str, dict[str, type]] = {
    "massage_sim": {"sim": SimNodeConfig, "env": EnvConfig},
    "td3_agent": {"agent": AgentNodeConfig, "td3": TD3Config,
                  "exploration": ExplorationConfig, "train": TrainConfig},
}
# Nodes that run on the robot side, with a parameter file of their own
# (config/real_arm.yaml), not part of train.yaml or Config.
ROBOT_NODE_GROUPS: dict[str, dict[str, type]] = {
    "massage_bridge": {"bridge": BridgeConfig, "sim": SimNodeConfig, "env": EnvConfig},
}


def massage_td3() -> TD3Config:
    """TD3 as this package trains it on MassageEnv: the paper's (TD3Config's defaults)
    plus the learned tracking model on the force error (PROTOCOL.md session 24:
    held-out 1.07-1.37 N over six seeds against plain TD3's 1.79-2.09 N)."""
    return TD3Config(tracking_model_weight=30.0,
                     tracking_entry=observation_slices()["force_error"].start)


@dataclass(frozen=True)
class Config:
    """Every parameter group of the package, with defaults: the nodes declare these, and
    a parameter file that leaves a name out gets it from here."""

    sim: SimNodeConfig = dataclasses.field(default_factory=SimNodeConfig)
    env: EnvConfig = dataclasses.field(default_factory=EnvConfig)
    agent: AgentNodeConfig = dataclasses.field(default_factory=AgentNodeConfig)
    td3: TD3Config = dataclasses.field(default_factory=massage_td3)
    exploration: ExplorationConfig = dataclasses.field(default_factory=ExplorationConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def replace(self, **groups: Mapping[str, Any]) -> Config:
        """A copy with some fields of some groups changed, validated."""
        changed = {}
        for name, values in groups.items():
            current = to_dict(getattr(self, name))
            current.update(values)
            changed[name] = from_dict(type(getattr(self, name)), current)
        return dataclasses.replace(self, **changed)


def parse_overrides(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``group.name=value`` strings (value read as YAML, e.g. ``td3.lr_actor=1e-3``) as
    the ``{group: {name: value}}`` that Config.replace takes."""
    groups: dict[str, dict[str, Any]] = {}
    defaults = Config()
    for item in items:
        key, _, text = item.partition("=")
        group, _, name = key.partition(".")
        groups_known = [f.name for f in dataclasses.fields(Config)]
        if not text or not name or group not in groups_known:
            raise ValueError(f"override {item!r}: expected group.name=value with group one "
                             f"of {groups_known}")
        # A text parameter takes the text as it is (run_dir=2024 is a folder name).
        is_text = isinstance(getattr(getattr(defaults, group), name, None), str)
        groups.setdefault(group, {})[name] = text if is_text else _scalar(text)
    return groups


def _scalar(text: str) -> Any:
    """int, then float (YAML would keep ``3e-4`` a string), then any YAML value."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return yaml.safe_load(text)


def default_config_path() -> Path:
    """config/train.yaml as installed (ament share dir) or in this checkout."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
        try:
            path = Path(get_package_share_directory(PACKAGE)) / "config" / "train.yaml"
            if path.is_file():
                return path
        except (PackageNotFoundError, OSError):  # not installed, or no ament prefix set
            pass
    except ImportError:
        pass
    path = Path(__file__).resolve().parents[1] / "config" / "train.yaml"
    if path.is_file():
        return path
    raise FileNotFoundError(
        "config/train.yaml not found: pass --config, or install the package with "
        "colcon / pip install -e from a checkout")


def config_from_dict(document: Mapping[str, Any]) -> Config:
    """Build a Config from a parsed ROS-style parameter file (see module doc)."""
    if not isinstance(document, Mapping):
        raise ValueError("config: expected a mapping of node names at the top level")
    sections = {str(key).removeprefix(ANY_NAMESPACE): value for key, value in document.items()}
    unknown_nodes = sorted(set(sections) - set(NODE_GROUPS))
    if unknown_nodes:
        raise ValueError(f"config: unknown node(s) {unknown_nodes}; known: {sorted(NODE_GROUPS)}")
    groups, defaults = {}, Config()
    for node, node_groups in NODE_GROUPS.items():
        section = sections.get(node) or {}
        params = section.get("ros__parameters", {}) if isinstance(section, Mapping) else None
        if not isinstance(params, Mapping):
            raise ValueError(f"config: {node}.ros__parameters must be a mapping")
        unknown = sorted(set(params) - set(node_groups))
        if unknown:
            raise ValueError(f"config: {node}: unknown group(s) {unknown}; "
                             f"known: {sorted(node_groups)}")
        for group, cls in node_groups.items():
            values = params.get(group) or {}
            if not isinstance(values, Mapping):
                raise ValueError(f"config: {node}.ros__parameters.{group} must be a mapping")
            groups[group] = from_dict(cls, {**to_dict(getattr(defaults, group)), **values})
    groups["env"].check()  # combinations no single range can express
    return Config(**groups)


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Read and validate a config file (default: the package's train.yaml), then apply
    ``group.name=value`` overrides (see parse_overrides)."""
    path = Path(path) if path is not None else default_config_path()
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from error
    try:
        config = config_from_dict(document)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    return config.replace(**parse_overrides(overrides)) if overrides else config


def config_to_dict(config: Config) -> dict[str, Any]:
    """The ROS-style parameter document for a Config (inverse of config_from_dict)."""
    return {node_key(node): {"ros__parameters": {g: to_dict(getattr(config, g))
                                                 for g in groups}}
            for node, groups in NODE_GROUPS.items()}


def render_yaml(config: Config | None = None) -> str:
    """config/train.yaml text for a Config, each parameter preceded by its description."""
    config = config or Config()
    lines = ["# massage_td3_ros parameters: one file for both ROS nodes and the in-process",
             "# trainer. Generated from the parameter declarations (python -m",
             "# massage_td3_ros.config > config/train.yaml); test_config.py keeps them equal."]
    for node, groups in NODE_GROUPS.items():
        lines += [f"{node_key(node)}:", "  ros__parameters:"]
        for group_name in groups:
            group = getattr(config, group_name)
            lines.append(f"    {group_name}:")
            values = to_dict(group)
            for field in dataclasses.fields(group):
                lines.append(f"      # {describe(field)}")
                dumped = yaml.safe_dump({field.name: values[field.name]},
                                        default_flow_style=True, width=1000).strip()
                lines.append(f"      {dumped[1:-1]}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_yaml(), end="")
