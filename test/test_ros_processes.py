"""The node executables as separate processes over real DDS, as launch_ros starts them:
shutdown under repeated signals, the agent alone, namespaced setups side by side, and
the evaluation run that eval.launch.py makes."""

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from test_ros_launcher import small_params

from massage_td3_ros.ros.launcher import node_command


class NodeProcess:
    """A node started like launch_ros does; stderr collected line by line on a thread."""

    def __init__(self, module: str, params: Path, overrides: dict, extra_args=(),
                 **kwargs) -> None:
        self.process = subprocess.Popen(node_command(module, params, overrides, **kwargs)
                                        + list(extra_args),
                                        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(re.search(pattern, line) for line in list(self.lines)):
                return True
            if self.process.poll() is not None:
                self._reader.join(timeout=2)
                return any(re.search(pattern, line) for line in self.lines)
            time.sleep(0.05)
        return False

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout_s)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=2)

    @property
    def text(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def processes():
    started: list[NodeProcess] = []

    def start(*args, **kwargs) -> NodeProcess:
        node = NodeProcess(*args, **kwargs)
        started.append(node)
        return node
    yield start
    for node in started:
        node.kill()


def _agent(run: Path, **extra) -> dict:
    return {"agent.run_folder": str(run), "train.total_steps": 1_000_000, **extra}


def test_signals_during_shutdown_never_cut_the_final_checkpoint(tmp_path, processes):
    from massage_td3_ros.td3.checkpoint import load_checkpoint

    params = small_params(tmp_path, warmup_steps=50)
    run = tmp_path / "run"
    sim = processes("sim_node", params, {})
    agent = processes("agent_node", params, _agent(run), use_sim_time=True)
    assert agent.wait_for(r"\[td3_agent\]: episode 0: return", 60), agent.text
    # Ctrl-C, then the second SIGINT a non-interactive `ros2 launch` forwards to the
    # process group, then launch's SIGTERM: all while close() writes its files.
    agent.process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    agent.process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    agent.process.send_signal(signal.SIGTERM)
    assert agent.process.wait(timeout=60) == 0, agent.text
    agent.kill()
    assert "while shutting down: finishing" in agent.text
    assert re.search(r"stopped at env step \d+", agent.text), agent.text
    checkpoints = run / "checkpoints"
    assert not list(checkpoints.glob("*.tmp")), list(checkpoints.iterdir())
    final = load_checkpoint(checkpoints / "final.pt")
    assert final["meta"]["counters"]["env_steps"] > 0
    assert (checkpoints / "final.buffer.npz").is_file()
    assert (run / "figures" / "training.png").is_file()
    assert sim.stop() == 0


def test_agent_alone_says_it_waits_and_writes_nothing_at_step_zero(tmp_path, processes):
    params = small_params(tmp_path, warmup_steps=50)
    run = tmp_path / "run"
    agent = processes("agent_node", params, _agent(run), use_sim_time=True)
    assert agent.wait_for(r"waiting for /massage/state: nothing for \d+ s \(since start-up",
                          20), agent.text
    assert agent.stop() == 0, agent.text
    assert "stopped at env step 0" in agent.text
    assert not (run / "checkpoints" / "final.pt").exists()


def test_two_namespaced_setups_share_a_domain_without_hearing_each_other(tmp_path,
                                                                          processes):
    params = small_params(tmp_path, warmup_steps=100)
    nodes = {}
    for bed in ("bed1", "bed2"):
        nodes[bed] = (processes("sim_node", params, {}, namespace=bed),
                      processes("agent_node", params, _agent(
                          tmp_path / bed, **{"train.total_steps": 300}), namespace=bed,
                          use_sim_time=True))
    for bed, (sim, agent) in nodes.items():
        assert agent.process.wait(timeout=90) == 0, agent.text
        assert "stopped at env step 300" in agent.text and "bad states 0" in agent.text
        assert "gaps': 0" in agent.text, agent.text
        assert sim.stop() == 0
        # The other setup's actions never reached this sim (they would be wrong-stamp drops).
        assert "dropped actions {'non_finite': 0, 'wrong_stamp': 0}" in sim.text, sim.text
        assert f"/{bed}/massage/state" in sim.text


def test_eval_run_scores_the_fixed_episodes_like_massage_td3_eval_and_stops(tmp_path):
    params = small_params(tmp_path, warmup_steps=100)
    run = tmp_path / "run"
    common = [sys.executable, "-m", "massage_td3_ros.cli"]
    trained = subprocess.run(common + ["launch", "--config", str(params), "--steps", "200",
                                       "--out", str(run)],
                             capture_output=True, text=True, timeout=120)
    assert trained.returncode == 0, trained.stderr
    checkpoint = run / "checkpoints" / "final.pt"
    evaluated = subprocess.run(common + ["launch", "--config", str(params), "--mode", "eval",
                                         "--checkpoint", str(checkpoint), "--eval-episodes",
                                         "2"],
                               capture_output=True, text=True, timeout=180)
    assert evaluated.returncode == 0, evaluated.stderr
    # Next to the checkpoint, never into the training run's own files.
    report = json.loads((run / "checkpoints" / "final-eval" / "evaluation.json").read_text())
    assert len(report["episodes"]) == 2 and report["aggregate"]["episodes"] == 2
    in_process = subprocess.run(common + ["eval", "--config", str(params), "--checkpoint",
                                          str(checkpoint), "--episodes", "2", "--json",
                                          str(tmp_path / "eval.json")],
                                capture_output=True, text=True, timeout=180)
    assert in_process.returncode == 0, in_process.stderr
    expected = json.loads((tmp_path / "eval.json").read_text())["aggregate"]
    for key in ("steps", "mean_return", "rms_force_error_n", "in_band_percent",
                "over_force_steps"):
        assert report["aggregate"][key] == pytest.approx(expected[key], rel=1e-6), key


def test_eval_run_on_the_heldout_people_matches_the_in_process_suite(tmp_path):
    """`--episodes heldout` makes the sim run the held-out suite in order: the ROS
    evaluation of its first episodes equals `massage-td3 eval --suite heldout`'s."""
    params = small_params(tmp_path, warmup_steps=100)
    config = yaml.safe_load(params.read_text())
    config["/**/massage_sim"]["ros__parameters"]["env"]["episode_time_s"] = 2.0  # short cases
    params.write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    common = [sys.executable, "-m", "massage_td3_ros.cli"]
    trained = subprocess.run(common + ["launch", "--config", str(params), "--steps", "150",
                                       "--out", str(run)],
                             capture_output=True, text=True, timeout=120)
    assert trained.returncode == 0, trained.stderr
    checkpoint = run / "checkpoints" / "final.pt"
    evaluated = subprocess.run(common + ["launch", "--config", str(params), "--mode", "eval",
                                         "--checkpoint", str(checkpoint), "--episodes",
                                         "heldout", "--eval-episodes", "3",
                                         "--out", str(tmp_path / "ros-eval")],
                               capture_output=True, text=True, timeout=180)
    assert evaluated.returncode == 0, evaluated.stderr
    ros = json.loads((tmp_path / "ros-eval" / "evaluation.json").read_text())["episodes"]
    in_process = subprocess.run(common + ["eval", "--config", str(params), "--checkpoint",
                                          str(checkpoint), "--suite", "heldout", "--json",
                                          str(tmp_path / "suite.json")],
                                capture_output=True, text=True, timeout=300)
    assert in_process.returncode == 0, in_process.stderr
    suite = json.loads((tmp_path / "suite.json").read_text())["episodes"][:3]
    assert len(ros) == 3
    for over_ros, here in zip(ros, suite, strict=True):
        for key in ("steps", "rms_force_error_n", "in_band_fraction", "over_force_steps"):
            assert over_ros["metrics"][key] == pytest.approx(here["metrics"][key],
                                                             rel=1e-6), key


def test_the_parameter_file_applies_to_a_node_in_a_namespace(tmp_path, processes):
    """The file's node keys carry /**/: a plain key would match only the root namespace,
    and a namespaced setup would silently run on defaults."""
    params = small_params(tmp_path, warmup_steps=100)
    document = yaml.safe_load(params.read_text())
    document["/**/massage_sim"]["ros__parameters"]["env"]["control_hz"] = 15.0
    params.write_text(yaml.safe_dump(document))
    sim = processes("sim_node", params, {}, namespace="bed9")
    assert sim.wait_for(r"\[bed9\.massage_sim\]: mode lockstep, .* control 15 Hz", 30), sim.text
