"""The launch files compile and declare the arguments users rely on (launch_ros itself
is not installable here, see docs/ros.md); the launcher builds faithful node commands."""

import ast
import py_compile
from pathlib import Path

import pytest

from massage_td3_ros import launch_arguments
from massage_td3_ros.launch_arguments import ARGUMENTS, BY_NAME, LAUNCH_OPTIONS
from massage_td3_ros.ros import launcher

LAUNCH = Path(__file__).resolve().parents[1] / "launch"
REQUIRED = {"gui", "seed", "total_steps", "run_dir", "mode", "device", "use_sim", "config"}


def _imported_names(tree: ast.Module) -> set[str]:
    return {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}


@pytest.mark.parametrize("name", ["train.launch.py", "eval.launch.py"])
def test_launch_file_compiles_and_declares_the_table_of_arguments(name, tmp_path):
    path = LAUNCH / name
    py_compile.compile(str(path), cfile=str(tmp_path / "out.pyc"), doraise=True)
    tree = ast.parse(path.read_text())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    # Both files declare their arguments from the one table (launch_arguments.py).
    imported = _imported_names(tree)
    assert {"ARGUMENTS", "LAUNCH_OPTIONS", "get_package_share_directory"} <= imported
    declared = {a.name for a in ARGUMENTS} | set(LAUNCH_OPTIONS)
    assert REQUIRED | {"namespace", "use_sim_time", "rviz", "background_updates", "out"} \
        <= declared


def test_train_launch_starts_both_nodes_and_sim_is_optional():
    source = (LAUNCH / "train.launch.py").read_text()
    tree = ast.parse(source)
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, "id", "") == "Node"]
    executables = {kw.value.value for n in nodes for kw in n.keywords
                   if kw.arg == "executable"}
    assert executables == {"massage_sim", "td3_agent", "robot_state_publisher", "rviz2"}
    sim = next(n for n in nodes if any(kw.arg == "executable" and kw.value.value == "massage_sim"
                                       for kw in n.keywords))
    condition = next(kw.value for kw in sim.keywords if kw.arg == "condition")
    assert ast.unparse(condition) == "IfCondition(LaunchConfiguration('use_sim'))"
    for node in nodes:
        keywords = {kw.arg for kw in node.keywords}
        assert {"package", "executable", "namespace"} <= keywords
    # Overrides go on the command line (-p), never into a temporary parameter file.
    ours = [n for n in nodes if any(kw.arg == "package" and ast.unparse(kw.value) == "PACKAGE"
                                    for kw in n.keywords)]
    for node in ours:
        # The file and its overrides in one ordered list (the later value wins in rcl;
        # launch_ros would append a `parameters=` file after ros_arguments).
        keywords = {kw.arg: ast.unparse(kw.value) for kw in node.keywords}
        assert "parameters" not in keywords and keywords["ros_arguments"].startswith(
            "node_arguments(")
    function = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                    and n.name == "node_arguments")
    assert ast.unparse(function.body[-1]).startswith("return ['--params-file', config, *")


def test_launcher_node_command_and_environment(monkeypatch):
    monkeypatch.delenv("ROS_DOMAIN_ID", raising=False)
    monkeypatch.delenv("ROS_AUTOMATIC_DISCOVERY_RANGE", raising=False)
    env = launcher.ros_environment()
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert 1 <= int(env["ROS_DOMAIN_ID"]) <= 101
    monkeypatch.setenv("ROS_DOMAIN_ID", "42")
    assert launcher.ros_environment()["ROS_DOMAIN_ID"] == "42"

    from massage_td3_ros.cli import build_parser
    args = build_parser().parse_args(["launch", "--steps", "300", "--seed", "4", "--gui",
                                      "--out", "runs/x"])
    sim, agent = launcher.overrides_from_args(args)
    assert sim == {"sim.seed": 4, "sim.gui": True}
    assert agent["train.total_steps"] == 300 and agent["train.seed"] == 4
    command = launcher.node_command("agent_node", Path("/cfg/train.yaml"), agent,
                                    namespace="bed1", use_sim_time=True)
    assert command[1:6] == ["-m", "massage_td3_ros.ros.agent_node", "--ros-args",
                            "--params-file", "/cfg/train.yaml"]
    assert "train.total_steps:=300" in command
    assert any(part.startswith("agent.run_folder:='/") for part in command)
    assert "__ns:=/bed1" in command and "use_sim_time:=true" in command
    assert "/clock:=clock" in command


def test_launch_arguments_name_declared_parameters_with_the_right_types():
    import dataclasses

    from massage_td3_ros.config import NODE_GROUPS

    for argument in ARGUMENTS:
        for node, parameter in argument.targets:
            group, field_name = parameter.split(".")
            fields = {f.name: f for f in dataclasses.fields(NODE_GROUPS[node][group])}
            assert field_name in fields, f"{argument.name} -> {node} {parameter} is not declared"
            default = fields[field_name].default
            assert isinstance(default, str) == argument.text, argument.name
            assert isinstance(default, bool) == argument.boolean, argument.name
    typed = launch_arguments.parameter_value
    assert typed(BY_NAME["seed"], "3") == 3 and typed(BY_NAME["gui"], "true") is True
    assert typed(BY_NAME["total_steps"], "5000") == 5000
    assert typed(BY_NAME["run_dir"], "007") == "007"
    overrides = launch_arguments.node_overrides({"seed": "3", "gui": "", "out": "/tmp/x y"})
    assert overrides == {"massage_sim": {"sim.seed": 3},
                         "td3_agent": {"train.seed": 3, "agent.run_folder": "/tmp/x y"}}
    assert launch_arguments.ros_parameter_arguments(overrides["td3_agent"]) == [
        "-p", "train.seed:=3", "-p", "agent.run_folder:='/tmp/x y'"]


@pytest.mark.parametrize("name, driver", [("real_arm.launch.py", False),
                                          ("hardware_sim.launch.py", True)])
def test_robot_launch_files_compile_and_start_the_bridge(name, driver, tmp_path):
    """real_arm: bridge + agent against a running driver; hardware_sim: arm_sim too."""
    path = LAUNCH / name
    py_compile.compile(str(path), cfile=str(tmp_path / "out.pyc"), doraise=True)
    tree = ast.parse(path.read_text())
    calls = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert f"robot_launch_description(with_driver={driver})" in calls
    support = ast.parse((LAUNCH.parent / "massage_td3_ros" / "launch_support.py").read_text())
    executables = {kw.value.value for n in ast.walk(support) if isinstance(n, ast.Call)
                   for kw in n.keywords if kw.arg == "executable"}
    assert executables == {"arm_sim", "massage_bridge", "td3_agent"}
