"""`massage-td3 launch`: both nodes as child processes from one parameter file, over DDS."""

import re
import subprocess
import sys
import threading

import yaml

from massage_td3_ros.config import Config, config_to_dict


def small_params(tmp_path, warmup_steps: int, env: dict | None = None,
                 td3: dict | None = None):
    """A parameter file with small networks and buffer, the given warm-up and env values
    (and any other td3 values)."""
    config = Config().replace(
        env=env or {},
        td3={"actor_hidden": [32, 32], "critic_hidden": [32, 32], "batch_size": 32,
             "torch_threads": 1, **(td3 or {})},
        train={"warmup_steps": warmup_steps, "log_tensorboard": False,
               "buffer_size": 10_000})
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(config_to_dict(config)))
    return params


def test_launch_runs_the_budget_and_writes_checkpoints(tmp_path):
    params = small_params(tmp_path, warmup_steps=100)
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "massage_td3_ros.cli", "launch", "--config", str(params),
         "--steps", "150", "--out", str(out), "--seed", "3"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stopped at env step 150" in result.stderr
    assert "bad states 0" in result.stderr
    assert (out / "checkpoints" / "final.pt").is_file()
    assert (out / "checkpoints" / "latest.buffer.npz").is_file()


def test_launch_rejects_a_bad_parameter_file_before_starting_nodes(tmp_path):
    params = tmp_path / "params.yaml"
    document = config_to_dict(Config())
    document["/**/td3_agent"]["ros__parameters"]["train"]["total_stepz"] = 5
    params.write_text(yaml.safe_dump(document))
    result = subprocess.run(
        [sys.executable, "-m", "massage_td3_ros.cli", "launch", "--config", str(params)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "total_stepz" in result.stderr


def test_ctrl_c_is_forwarded_and_the_agent_saves_a_checkpoint(tmp_path):
    import signal

    params = small_params(tmp_path, warmup_steps=50)
    out = tmp_path / "run"
    launch = subprocess.Popen(
        [sys.executable, "-m", "massage_td3_ros.cli", "launch", "--config", str(params),
         "--steps", "1000000", "--out", str(out)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        for line in launch.stderr:  # until the agent has learned from a whole episode
            if "[td3_agent]: episode 0: return" in line:
                break
        launch.send_signal(signal.SIGINT)
        # Keep reading the same file object (communicate() would miss lines it buffered).
        watchdog = threading.Timer(90.0, launch.kill)
        watchdog.start()
        rest = launch.stderr.read()
        launch.wait(timeout=30)
        watchdog.cancel()
    finally:
        if launch.poll() is None:
            launch.kill()
    assert launch.returncode == 130, rest
    assert re.search(r"td3_agent\]:? stopped at env step", rest), rest
    assert (out / "checkpoints" / "final.pt").is_file()
