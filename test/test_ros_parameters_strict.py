"""A node started the way `ros2 run` / `ros2 launch` start it refuses a parameter it
does not declare (a misspelled key in the file or on the command line), by name."""

import subprocess
import sys

import pytest
import yaml

from massage_td3_ros.config import Config, config_to_dict


def _start(module: str, *ros_args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"massage_td3_ros.ros.{module}",
                           "--ros-args", *ros_args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("node, group, bad, meant", [
    ("massage_sim", "env", "target_forse_n", "env.target_force_n"),
    ("td3_agent", "train", "total_stepz", "train.total_steps"),
])
def test_a_misspelled_key_in_the_parameter_file_stops_the_node(tmp_path, node, group, bad,
                                                               meant):
    document = config_to_dict(Config())
    document[f"/**/{node}"]["ros__parameters"][group][bad] = 35.0
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(document))
    module = {"massage_sim": "sim_node", "td3_agent": "agent_node"}[node]
    run_folder = ["-p", f"agent.run_folder:={tmp_path / 'run'}"] if module == "agent_node" else []
    result = _start(module, "--params-file", str(params), *run_folder)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().endswith(
        f"unknown parameter(s) for node /{node}: '{group}.{bad}' (did you mean '{meant}'?)")
    assert "Traceback" not in result.stderr


def test_a_misspelled_command_line_override_stops_the_node():
    result = _start("sim_node", "-p", "sim.moed:=realtime")
    assert result.returncode == 2
    assert "'sim.moed' (did you mean 'sim.mode'?)" in result.stderr


def test_a_parameter_file_with_a_yaml_syntax_error_gives_one_clear_line(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("massage_sim:\n  ros__parameters:\n    env: {target_force_n: 20.0\n")
    result = _start("sim_node", "--params-file", str(params))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("massage_sim:")]
    assert len(ours) == 1 and "Couldn't parse params file" in ours[0]
    assert str(params) in ours[0] and ".c:" not in ours[0]
