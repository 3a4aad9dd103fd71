"""The launch files compile and declare the arguments users rely on (launch_ros itself
is not installable here, see docs/ros.md); the launcher builds faithful node commands."""

import ast
import py_compile
from pathlib import Path

import pytest

from massage_td3_ros.ros import launcher

LAUNCH = Path(__file__).resolve().parents[1] / "launch"
REQUIRED = {"gui", "seed", "total_steps", "run_dir", "mode", "device", "use_sim", "config"}


def _declared_arguments(tree: ast.Module) -> set[str]:
    """Names given to DeclareLaunchArgument directly or through a module-level dict."""
    names = set()
    dicts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    dicts[target.id] = {k.value for k in node.value.keys
                                        if isinstance(k, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DeclareLaunchArgument":
            first = node.args[0]
            if isinstance(first, ast.Constant):
                names.add(first.value)
            elif isinstance(first, ast.Name):  # DeclareLaunchArgument(name, ...) in a loop
                for loop in ast.walk(tree):
                    if (isinstance(loop, (ast.For, ast.comprehension))
                            and isinstance(loop.iter, ast.Call)
                            and isinstance(loop.iter.func, ast.Attribute)
                            and isinstance(loop.iter.func.value, ast.Name)):
                        names |= dicts.get(loop.iter.func.value.id, set())
    return names


@pytest.mark.parametrize("name", ["train.launch.py", "eval.launch.py"])
def test_launch_file_compiles_and_declares_arguments(name, tmp_path):
    path = LAUNCH / name
    py_compile.compile(str(path), cfile=str(tmp_path / "out.pyc"), doraise=True)
    tree = ast.parse(path.read_text())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    declared = _declared_arguments(tree)
    expected = REQUIRED - ({"mode"} if name == "eval.launch.py" else set())
    assert expected <= declared, f"{name} lacks {expected - declared}"
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names}
    assert "get_package_share_directory" in imported


def test_train_launch_starts_both_nodes_and_sim_is_optional():
    source = (LAUNCH / "train.launch.py").read_text()
    tree = ast.parse(source)
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, "id", "") == "Node"]
    executables = {kw.value.value for n in nodes for kw in n.keywords
                   if kw.arg == "executable"}
    assert executables == {"massage_sim", "td3_agent"}
    sim = next(n for n in nodes if any(kw.arg == "executable" and kw.value.value == "massage_sim"
                                       for kw in n.keywords))
    condition = next(kw.value for kw in sim.keywords if kw.arg == "condition")
    assert ast.unparse(condition) == "IfCondition(LaunchConfiguration('use_sim'))"
    for node in nodes:
        keywords = {kw.arg for kw in node.keywords}
        assert {"package", "executable", "name", "parameters"} <= keywords


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
    command = launcher.node_command("agent_node", Path("/cfg/train.yaml"), agent)
    assert command[1:6] == ["-m", "massage_td3_ros.ros.agent_node", "--ros-args",
                            "--params-file", "/cfg/train.yaml"]
    assert "train.total_steps:=300" in command
    assert any(part.startswith("agent.run_folder:='/") for part in command)


def _module_constant(tree: ast.Module, name: str):
    node = next(n for n in tree.body if isinstance(n, ast.Assign)
                and any(getattr(t, "id", "") == name for t in n.targets))
    return ast.literal_eval(node.value)


def test_launch_overrides_name_declared_parameters_with_the_right_types():
    import dataclasses

    import yaml

    from massage_td3_ros.config import NODE_GROUPS

    tree = ast.parse((LAUNCH / "train.launch.py").read_text())
    overrides = _module_constant(tree, "OVERRIDES")
    text_arguments = _module_constant(tree, "TEXT_ARGUMENTS")
    for argument, (targets, _) in overrides.items():
        for node, parameter in targets:
            group, field_name = parameter.split(".")
            fields = {f.name: f for f in dataclasses.fields(NODE_GROUPS[node][group])}
            assert field_name in fields, f"{argument} -> {node} {parameter} is not declared"
            is_text = isinstance(fields[field_name].default, str)
            assert is_text == (argument in text_arguments), argument
    # The helper that types argument text, run as the launch file defines it.
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
                    and n.name == "_parameter_value")
    namespace = {"yaml": yaml, "TEXT_ARGUMENTS": text_arguments}
    exec(compile(ast.Module([function], []), "train.launch.py", "exec"), namespace)
    typed = namespace["_parameter_value"]
    assert typed("seed", "3") == 3 and typed("gui", "true") is True
    assert typed("total_steps", "5000") == 5000 and typed("run_dir", "007") == "007"
