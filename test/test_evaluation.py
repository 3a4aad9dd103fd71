"""Evaluation, baselines, rendering and the speed benchmark script (short episodes: 2 s)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import yaml

from massage_td3_ros.cli import main as cli_main
from massage_td3_ros.config import Config, config_to_dict
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.evaluation.controllers import (
    PathController,
    PidController,
    PolicyController,
    baseline_env_config,
    make_controller,
)
from massage_td3_ros.evaluation.evaluate import METRICS, evaluate
from massage_td3_ros.evaluation.render import record_episode
from massage_td3_ros.ros.launcher import ros_environment

BENCH_SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"

SHORT = Config().replace(
    env={"episode_time_s": 2.0, "randomize": False},  # the nominal person: full episodes
    td3={"actor_hidden": [32, 32], "critic_hidden": [32, 32], "batch_size": 32},
    train={"warmup_steps": 100, "log_tensorboard": False, "eval_every_episodes": 0,
           "plot_every_episodes": 0, "save_replay_buffer": False, "buffer_size": 2000})
EPISODE_STEPS = 60  # 2 s at 30 Hz
AGGREGATE_KEYS = {key for key, _, _ in METRICS} | {"terminated_episodes", "steps"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny TD3 run (300 steps) and a config file with the same short episodes."""
    from massage_td3_ros.training.trainer import train

    folder = tmp_path_factory.mktemp("evaluation")
    run_dir = train(SHORT, steps=300, seed=1, out=folder / "run")
    config_file = folder / "short.yaml"
    config_file.write_text(yaml.safe_dump(config_to_dict(SHORT)))
    return run_dir / "checkpoints" / "final.pt", config_file


@pytest.fixture(scope="module")
def short_env():
    """A reused env for the baselines (their actions in the steps they were tuned with)."""
    env = MassageEnv(baseline_env_config(SHORT.env))
    yield env
    env.close()


def _check_aggregate(aggregate: dict, episodes: int) -> None:
    assert AGGREGATE_KEYS <= set(aggregate)
    assert all(np.isfinite(value) for value in aggregate.values())
    assert aggregate["episodes"] == episodes
    assert 0.0 <= aggregate["in_band_percent"] <= 100.0
    assert 0.0 <= aggregate["coverage_percent"] <= 100.0


def test_eval_command_on_a_trained_checkpoint_gives_every_metric(trained, tmp_path, capsys):
    checkpoint, config_file = trained
    out = tmp_path / "eval.json"
    code = cli_main(["eval", "--checkpoint", str(checkpoint), "--episodes", "2",
                     "--config", str(config_file), "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| td3 (final.pt) |" in printed and "RMS error [N]" in printed
    document = json.loads(out.read_text())
    _check_aggregate(document["aggregate"], 2)
    directions = [episode["direction"] for episode in document["episodes"]]
    assert directions == ["forward", "reverse"]
    for episode in document["episodes"]:
        assert len(episode["trace"]["force_n"]) == episode["metrics"]["steps"]


def test_a_policy_is_scored_with_the_action_settings_it_was_trained_with(trained):
    controller = PolicyController(trained[0])
    assert controller.action_meta == {"action_mode": "increment", "action_increment_m": 0.002,
                                      "action_scale_m": 0.03, "action_base": "none",
                                      "residual_scale": 1.0, "action_frame": "world",
                                      "tangential_action_scale": 1.0}
    # a config that reads actions otherwise: evaluation builds the env the policy knows
    offset = SHORT.replace(env={"action_mode": "offset", "action_base": "pid-preview",
                                "action_frame": "surface"}).env
    assert evaluate(controller, episodes=1, env_config=offset)["aggregate"] == \
        evaluate(controller, episodes=1, env_config=SHORT.env)["aggregate"]
    # a ready-made env that reads them otherwise is refused, naming the difference
    env = MassageEnv(offset)
    try:
        with pytest.raises(ValueError, match="env.action_mode 'increment' in training, "
                                             "'offset' here"):
            evaluate(controller, episodes=1, env=env)
    finally:
        env.close()


def test_baselines_drive_the_tool_alone_in_the_steps_they_were_tuned_with():
    residual = SHORT.replace(env={"action_base": "pid-preview"}).env
    finer = SHORT.replace(env={"action_increment_m": 0.001}).env
    # from a config, a baseline is scored on plain actions of the tuned increment
    tuned = evaluate(PidController(), episodes=1, env_config=baseline_env_config(SHORT.env))
    for config in (residual, finer, SHORT.env):
        assert evaluate(PidController(), episodes=1, env_config=config)["aggregate"] == \
            tuned["aggregate"]
    # a ready-made env that reads the actions otherwise is refused, naming the setting;
    # the path's zero action is no correction at any increment, so it takes any
    refusals = ((residual, (PathController(), PidController()),
                 "env.action_base 'none', the env has 'pid-preview'"),
                (finer, (PidController(),),
                 "needs env.action_increment_m 0.004, the env has 0.001"))
    for config, refused, message in refusals:
        env = MassageEnv(config)
        try:
            for controller in refused:
                with pytest.raises(ValueError, match=message):
                    evaluate(controller, episodes=1, env=env)
        finally:
            env.close()
    assert evaluate(PathController(), episodes=1, env_config=finer)["aggregate"] == \
        evaluate(PathController(), episodes=1, env_config=SHORT.env)["aggregate"]


def test_policy_controller_is_deterministic(trained):
    controller = PolicyController(trained[0])
    # fresh envs: a reused MassageEnv does not replay a seed exactly (see report)
    first = evaluate(controller, episodes=1, env_config=SHORT.env)["aggregate"]
    again = evaluate(controller, episodes=1, env_config=SHORT.env)["aggregate"]
    assert first == again


def test_path_and_pid_through_the_same_evaluation(short_env):
    path = evaluate(PathController(), episodes=2, env=short_env)
    pid = evaluate(PidController(), episodes=2, env=short_env)
    for result in (path, pid):
        _check_aggregate(result["aggregate"], 2)
        assert [e["metrics"]["steps"] for e in result["episodes"]] == [EPISODE_STEPS] * 2
    # The force controller must actually regulate: the plain path presses far too lightly.
    assert pid["aggregate"]["rms_force_error_n"] < 0.5 * path["aggregate"]["rms_force_error_n"]
    assert pid["aggregate"]["in_band_percent"] > path["aggregate"]["in_band_percent"] + 30


def test_pid_anti_windup_and_no_derivative_kick():
    pid = PidController(kp_m_per_n=1e-4, ki_m_per_n_s=1e-2, kd_m_s_per_n=1e-4,
                        max_depth_correction_m=0.01)
    for _ in range(500):  # no force at all: the output saturates, the integral must not run away
        output = pid.depth_correction_m(0.0, 20.0, 1 / 30)
    assert output == pytest.approx(0.01)
    for _ in range(3):  # force above target: the correction must come down at once
        output = pid.depth_correction_m(30.0, 20.0, 1 / 30)
    assert output < 0.01
    steady = PidController(kp_m_per_n=1e-4, ki_m_per_n_s=0.0, kd_m_s_per_n=1e-2)
    steady.depth_correction_m(20.0, 20.0, 1 / 30)
    # derivative on the measurement: a target step with a constant force gives only kp * error
    assert steady.depth_correction_m(20.0, 25.0, 1 / 30) == pytest.approx(5e-4)


def test_unknown_controller_and_missing_checkpoint_are_errors():
    with pytest.raises(ValueError, match="checkpoint"):
        make_controller("td3")
    with pytest.raises(ValueError, match="unknown controller"):
        make_controller("lqr")


def test_render_writes_a_gif_with_the_expected_frames(tmp_path):
    whole, frames, result = record_episode(PidController(), tmp_path / "pid.gif", frame_every=3,
                                           env_config=SHORT.env)
    assert frames == EPISODE_STEPS // 3 + 1  # the reset frame, then every third step
    assert len(imageio.mimread(whole)) == frames and whole.stat().st_size > 1000
    assert result.metrics["steps"] == EPISODE_STEPS
    cut, frames, _ = record_episode(PathController(), tmp_path / "cut.gif", frame_every=2,
                                    max_frames=5, env_config=SHORT.env)
    images = imageio.mimread(cut)
    assert frames == 5 and len(images) == 5
    assert images[0].shape[:2] == (SHORT.env.render_height, SHORT.env.render_width)


def test_render_command_cuts_the_clip(trained, tmp_path, capsys):
    checkpoint, config_file = trained
    out = tmp_path / "td3.gif"
    assert cli_main(["render", "--checkpoint", str(checkpoint), "--out", str(out),
                     "--config", str(config_file), "--steps", "10"]) == 0
    assert len(imageio.mimread(out)) == 6  # steps 0, 2, ..., 10
    assert "6 frames" in capsys.readouterr().out


def test_bench_script_quick(tmp_path):
    """benchmarks/bench.py --quick runs and reports a number in every row (a smoke test:
    the figures themselves are not checked). Its ROS rows start nodes: the child gets
    loopback discovery and this run's domain id (conftest) from ros_environment()."""
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, str(BENCH_SCRIPT), "--quick", "--json", str(out)],
                            env=ros_environment(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows = {row["name"]: row["value"] for row in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"env steps/s (in-process, DIRECT)", "env reset to a new person [ms]",
                         "TD3 gradient updates/s",
                         "ROS round trip action -> state, p50 [ms]",
                         "lock-step steps/s through ROS, no training",
                         "lock-step steps/s through ROS, 1 update/step"}
    assert all(value > 0 for value in rows.values())  # NaN (a failed ROS case) fails too
    assert all(f"| {name} |" in result.stdout for name in rows), result.stdout
