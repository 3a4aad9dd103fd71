"""Lock-step steps/s through ROS 2 (massage_sim + td3_agent, two processes over DDS)
against the in-process loop (MassageEnv -> OnlineLearner), same env, same policy;
without training and with one gradient update per step. Also the latencies a real
arm would feel: action -> next state (sim round trip) and state -> action (agent).

    .venv/bin/python benchmarks/bench_ros.py [--steps 600] [--warmup 300]

Prints a table; `massage-td3 bench` takes its main rows from ``bench_rows()``.
DDS stays on loopback with a run-unique ROS_DOMAIN_ID.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from massage_td3_ros.config import Config, config_to_dict
from massage_td3_ros.ros import launcher

os.environ.update({k: v for k, v in launcher.ros_environment().items()
                   if k in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_DOMAIN_ID")})


def bench_config(updates_per_step: float, total_steps: int) -> Config:
    """Default networks (400-300, batch 256); acting by the policy from step 0.

    The actions are offsets here: an untrained policy's near-constant output then
    holds a depth instead of integrating into an over-force reset every few dozen
    steps, so the rates measure stepping and messaging (resets: the env row)."""
    return Config().replace(
        env={"action_mode": "offset"},
        train={"warmup_steps": 0, "updates_per_step": updates_per_step,
               "total_steps": total_steps, "log_tensorboard": False, "buffer_size": 100_000,
               "eval_every_episodes": 0, "plot_every_episodes": 0,
               "checkpoint_every_steps": 0, "save_replay_buffer": False},
        td3={"torch_threads": 1})


def in_process_rate(config: Config, warmup: int, steps: int) -> float:
    """Steps/s of the in-process loop (the calls trainer.run_loop makes)."""
    from massage_td3_ros.env import MassageEnv
    from massage_td3_ros.env.episode import episode_seed
    from massage_td3_ros.env.observation import OBS_DIM, OBS_LAYOUT
    from massage_td3_ros.training.learner import OnlineLearner, StepState

    env = MassageEnv(config.env)
    with tempfile.TemporaryDirectory() as run_dir:
        learner = OnlineLearner(OBS_DIM, 3, config.td3, config.exploration, config.train,
                                run_dir, obs_labels=list(OBS_LAYOUT))
        obs, _ = env.reset(seed=episode_seed(0, 0))
        state = StepState(obs=obs, episode=0, step=0, first=True)
        episode, step, start = 0, 0, None
        for index in range(warmup + steps):
            if index == warmup:
                start = time.perf_counter()
            action = learner.on_state(state)
            learner.update()  # after every state, as trainer.run_loop and the agent node do
            if action is None:
                episode, step = episode + 1, 0
                obs, _ = env.reset(seed=episode_seed(0, episode))
                state = StepState(obs=obs, episode=episode, step=0, first=True)
                continue
            obs, reward, terminated, truncated, _ = env.step(action.astype(np.float32))
            step += 1
            state = StepState(obs=obs, episode=episode, step=step, first=False,
                              reward=float(reward), terminated=terminated,
                              truncated=truncated)
        rate = steps / (time.perf_counter() - start)
        learner.logger.close()
    env.close()
    return rate


class Probe:
    """A node in this process: counts /reward, times states and actions."""

    def __init__(self, answer: bool) -> None:
        import rclpy
        from geometry_msgs.msg import Vector3Stamped
        from rclpy.context import Context
        from std_msgs.msg import Float32, Float64MultiArray

        from massage_td3_ros.ros.common import MONITOR_QOS, RELIABLE_QOS
        from massage_td3_ros.ros.state_message import StateCodec

        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("bench_probe", context=self.context)
        self.codec = StateCodec.for_env()
        self.reward_times: list[float] = []
        self.state_times: dict[int, float] = {}
        self.state_to_action: list[float] = []
        self.action_to_state: list[float] = []
        self._sent_at: float | None = None
        self._answer = answer
        self._vector = Vector3Stamped
        self.node.create_subscription(Float32, "/reward", self._on_reward, MONITOR_QOS)
        self.node.create_subscription(Float64MultiArray, "/massage/state", self._on_state,
                                      RELIABLE_QOS)
        self.node.create_subscription(Vector3Stamped, "/massage/action", self._on_action,
                                      RELIABLE_QOS)
        self.actions = self.node.create_publisher(Vector3Stamped, "/massage/action",
                                                  RELIABLE_QOS)
        from rclpy.executors import SingleThreadedExecutor
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.rng = np.random.default_rng(0)

    def _on_reward(self, msg) -> None:
        self.reward_times.append(time.perf_counter())

    def _on_state(self, msg) -> None:
        now = time.perf_counter()
        state = self.codec.decode(msg)
        if state.stamp_ns in self.state_times:
            return  # re-announced
        self.state_times[state.stamp_ns] = now
        if self._sent_at is not None:
            self.action_to_state.append(now - self._sent_at)
            self._sent_at = None
        if self._answer and not (state.terminated or state.truncated):
            action = self._vector()
            action.header.stamp.sec, action.header.stamp.nanosec = (state.stamp_sec,
                                                                    state.stamp_nanosec)
            action.vector.x, action.vector.y, action.vector.z = self.rng.uniform(-1, 1, 3)
            self._sent_at = time.perf_counter()
            self.actions.publish(action)

    def _on_action(self, msg) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        if stamp in self.state_times and not self._answer:
            self.state_to_action.append(time.perf_counter() - self.state_times[stamp])

    def spin_until_rewards(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.reward_times) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(self.reward_times)} of {count} steps arrived")
            self.executor.spin_once(timeout_sec=0.1)

    def wait_for_sim(self, timeout_s: float = 30.0) -> None:
        """Spin until the sim's /reward and /massage/state publishers are discovered, so
        no step is published before this probe listens (the agent starts after this)."""
        deadline = time.monotonic() + timeout_s
        while (self.node.count_publishers("/reward") == 0
               or self.node.count_publishers("/massage/state") == 0):
            if time.monotonic() > deadline:
                raise TimeoutError("the sim's publishers were not discovered")
            self.executor.spin_once(timeout_sec=0.05)
        settle = time.monotonic() + 0.5  # discovery seen; let the matching complete
        while time.monotonic() < settle:
            self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


def _start(module: str, params_file: Path, overrides: dict) -> subprocess.Popen:
    return subprocess.Popen(launcher.node_command(module, params_file, overrides),
                            env=dict(os.environ), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ros_run(config: Config, warmup: int, steps: int, with_agent: bool,
            background: bool = False, sim_mode: str = "lockstep") -> dict[str, float]:
    """Steps/s (and latencies) of sim + agent processes, measured by the probe."""
    with tempfile.TemporaryDirectory() as folder:
        params = Path(folder) / "bench.yaml"
        params.write_text(yaml.safe_dump(config_to_dict(config)))
        probe = Probe(answer=not with_agent)
        processes = [_start("sim_node", params, {"sim.action_timeout_s": 30.0,
                                                 "sim.mode": sim_mode})]
        try:
            probe.wait_for_sim()
            if with_agent:
                processes.append(_start("agent_node", params, {
                    "agent.run_folder": folder, "agent.background_updates": background}))
            probe.spin_until_rewards(warmup, 120.0)
            start = probe.reward_times[warmup - 1]
            probe.spin_until_rewards(warmup + steps, 120.0)
            elapsed = probe.reward_times[warmup + steps - 1] - start
        finally:
            for process in reversed(processes):
                _stop(process)
            probe.close()
    latencies = probe.state_to_action[warmup:] if with_agent else probe.action_to_state[warmup:]
    p50, p99 = (np.percentile(np.asarray(latencies) * 1e3, [50, 99])
                if latencies else (np.nan, np.nan))
    return {"rate": steps / elapsed, "p50_ms": float(p50), "p99_ms": float(p99)}


def ros_case(*args, **kwargs) -> dict[str, float]:
    """ros_run, or NaNs (with the reason on stderr) when the steps did not all arrive."""
    try:
        return ros_run(*args, **kwargs)
    except TimeoutError as error:
        print(f"case {kwargs}: {error}", file=sys.stderr)
        return {"rate": float("nan"), "p50_ms": float("nan"), "p99_ms": float("nan")}


def bench_rows(steps: int = 600, warmup: int = 300) -> list[dict]:
    """The ROS rows of `massage-td3 bench`: DDS round trip, lock-step steps/s through
    ROS against in-process, without training and with one update per step."""
    total = warmup + steps + 50
    round_trip = ros_case(bench_config(0.0, total), warmup, steps, with_agent=False)
    rows = [{"name": "ROS round trip action -> state, p50 [ms]", "value": round_trip["p50_ms"],
             "detail": f"sim alone, a probe answers each state; p99 {round_trip['p99_ms']:.2f} ms"}]
    for label, updates in (("no training", 0.0), ("1 update/step", 1.0)):
        config = bench_config(updates, total)
        local = in_process_rate(config, warmup, steps)
        ros = ros_case(config, warmup, steps, with_agent=True)
        rows.append({"name": f"lock-step steps/s through ROS, {label}", "value": ros["rate"],
                     "detail": f"in-process {local:.1f} steps/s, ratio "
                               f"{ros['rate'] / local:.2f}; {steps} steps after {warmup}"})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="measured steps per case")
    parser.add_argument("--warmup", type=int, default=300,
                        help="steps before measuring (fills the batch, warms torch)")
    args = parser.parse_args()
    total = args.warmup + args.steps + 50
    rows = []
    for label, updates in (("no training", 0.0), ("1 update/step", 1.0)):
        config = bench_config(updates, total)
        local = in_process_rate(config, args.warmup, args.steps)
        ros = ros_case(config, args.warmup, args.steps, with_agent=True)
        rows.append((label, local, ros))
    background = ros_case(bench_config(1.0, total), args.warmup, args.steps, with_agent=True,
                         background=True)
    round_trip = ros_case(bench_config(0.0, total), args.warmup, args.steps, with_agent=False)
    # Updates start once a batch (256) is stored: measure after 300 steps.
    realtime = {label: ros_case(bench_config(updates, total), 300, 240, with_agent=True,
                               background=background, sim_mode="realtime")
                for label, updates, background in (("inline", 1.0, False),
                                                   ("background", 1.0, True),
                                                   ("inline, 3 upd", 3.0, False),
                                                   ("background, 3 upd", 3.0, True))}

    print(f"\nlock-step steps/s, {args.steps} steps after {args.warmup} (2 processes over "
          f"DDS on loopback, torch_threads=1, networks {Config().td3.actor_hidden})")
    print(f"{'case':<16}{'in-process':>12}{'ROS':>10}{'ROS/in-proc':>13}"
          f"{'state->action p50/p99 ms':>28}")
    for label, local, ros in rows:
        print(f"{label:<16}{local:>12.1f}{ros['rate']:>10.1f}{ros['rate'] / local:>13.2f}"
              f"{ros['p50_ms']:>20.2f} / {ros['p99_ms']:.2f}")
    print(f"{'1 update, bg':<16}{'':>12}{background['rate']:>10.1f}{'':>13}"
          f"{background['p50_ms']:>20.2f} / {background['p99_ms']:.2f}")
    print(f"sim round trip (action -> next state, no agent): p50 "
          f"{round_trip['p50_ms']:.2f} ms, p99 {round_trip['p99_ms']:.2f} ms, "
          f"{round_trip['rate']:.0f} steps/s")
    print(f"realtime sim at {Config().env.control_hz:g} Hz, 240 steps after 300 (training): "
          "state->action latency")
    for label, result in realtime.items():
        print(f"  updates {label:<18} p50 {result['p50_ms']:6.2f} ms  p99 "
              f"{result['p99_ms']:6.2f} ms  ({result['rate']:.1f} steps/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
