"""Lock-step steps/s through ROS 2 (massage_sim + td3_agent, two processes over DDS)
against the in-process loop (MassageEnv -> training Session), same env, same policy;
without training and with one gradient update per step. Also the latencies a real
arm would feel: action -> next state (sim round trip) and state -> action (agent).

    .venv/bin/python benchmarks/bench_ros.py [--steps 600] [--warmup 300] [--quick]

Prints a table; ``benchmarks/bench.py`` takes its ROS rows from ``bench_rows()``.
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

os.environ.update(launcher.ros_environment())  # the probe here and the nodes it starts

# --quick: tiny counts (a smoke test, not a figure); bench.py --quick uses them too.
QUICK = {"steps": 40, "warmup": 10}
LOCKSTEP_CASES = (("no training", 0.0), ("1 update/step", 1.0))  # label, updates per step


def bench_config(updates_per_step: float, warmup: int, steps: int) -> Config:
    """Default networks (400-300, batch 256); acting by the policy from step 0, with a
    step budget that outlasts ``warmup + steps``.

    The actions are offsets here: an untrained policy's near-constant output then
    holds a depth instead of integrating into an over-force reset every few dozen
    steps, so the rates measure stepping and messaging (resets: the env row)."""
    return Config().replace(
        env={"action_mode": "offset"},
        train={"warmup_steps": 0, "updates_per_step": updates_per_step,
               "total_steps": warmup + steps + 50, "log_tensorboard": False,
               "buffer_size": 100_000, "eval_every_episodes": 0, "plot_every_episodes": 0,
               "checkpoint_every_steps": 0, "save_replay_buffer": False},
        td3={"torch_threads": 1})


def in_process_rate(config: Config, warmup: int, steps: int) -> float:
    """Steps/s of the in-process loop (the calls trainer.run_loop makes)."""
    from massage_td3_ros.env import MassageEnv
    from massage_td3_ros.env.episode import episode_seed
    from massage_td3_ros.env.observation import OBS_DIM, OBS_LAYOUT
    from massage_td3_ros.training.session import Session
    from massage_td3_ros.training.step_state import StepState

    env = MassageEnv(config.env)
    with tempfile.TemporaryDirectory() as run_dir:
        session = Session(OBS_DIM, 3, config.td3, config.exploration, config.train, run_dir,
                          obs_labels=list(OBS_LAYOUT))
        obs, _ = env.reset(seed=episode_seed(0, 0))
        state = StepState(obs=obs, episode=0, step=0, first=True)
        episode, step, start = 0, 0, None
        for index in range(warmup + steps):
            if index == warmup:
                start = time.perf_counter()
            action = session.on_state(state)
            session.update()  # after every state, as trainer.run_loop and the agent node do
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
        session.logger.close()
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

    def spin_until(self, condition, timeout_s: float, failure) -> None:
        """Spin until ``condition()`` holds; TimeoutError(``failure()``) after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(failure())
            self.executor.spin_once(timeout_sec=0.05)

    def spin_until_rewards(self, count: int, timeout_s: float) -> None:
        self.spin_until(lambda: len(self.reward_times) >= count, timeout_s,
                        lambda: f"only {len(self.reward_times)} of {count} steps arrived")

    def wait_for_sim(self, timeout_s: float = 30.0) -> None:
        """Spin until the sim's /reward and /massage/state publishers are discovered, so
        no step is published before this probe listens (the agent starts after this)."""
        self.spin_until(lambda: (self.node.count_publishers("/reward") > 0
                                 and self.node.count_publishers("/massage/state") > 0),
                        timeout_s, lambda: "the sim's publishers were not discovered")
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
            background: bool = False, sim_mode: str = "lockstep",
            learner_process: bool = True) -> dict[str, float]:
    """Steps/s (and latencies) of sim + agent processes, measured by the probe.

    The agent's updates run in its learner process (the default), on a worker thread
    (``background``), or inline (neither)."""
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
                    "agent.run_folder": folder, "agent.background_updates": background,
                    "agent.learner_process": learner_process}))
            if with_agent and sim_mode == "realtime":
                # A realtime sim steps (holding the tool) while the agent starts up:
                # count from the first action the probe sees. (Lock-step waits for it.)
                probe.spin_until(lambda: probe.state_to_action, 120.0,
                                 lambda: "no action from the agent")
            first = len(probe.reward_times)
            probe.spin_until_rewards(first + warmup, 120.0)
            start = probe.reward_times[first + warmup - 1]
            probe.spin_until_rewards(first + warmup + steps, 120.0)
            elapsed = probe.reward_times[first + warmup + steps - 1] - start
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


def lockstep(warmup: int, steps: int) -> dict[str, tuple[float, dict[str, float]]]:
    """Each of LOCKSTEP_CASES: (in-process steps/s, the ROS case with the agent)."""
    cases = {}
    for label, updates in LOCKSTEP_CASES:
        config = bench_config(updates, warmup, steps)
        cases[label] = (in_process_rate(config, warmup, steps),
                        ros_case(config, warmup, steps, with_agent=True))
    return cases


def round_trip(warmup: int, steps: int) -> dict[str, float]:
    """The sim alone, the probe answering each state: action -> next state."""
    return ros_case(bench_config(0.0, warmup, steps), warmup, steps, with_agent=False)


def bench_rows(steps: int = 600, warmup: int = 300) -> list[dict]:
    """The ROS rows of ``benchmarks/bench.py``: DDS round trip, lock-step steps/s
    through ROS against in-process, without training and with one update per step."""
    trip = round_trip(warmup, steps)
    rows = [{"name": "ROS round trip action -> state, p50 [ms]", "value": trip["p50_ms"],
             "detail": f"sim alone, a probe answers each state; p99 {trip['p99_ms']:.2f} ms"}]
    for label, (local, ros) in lockstep(warmup, steps).items():
        rows.append({"name": f"lock-step steps/s through ROS, {label}", "value": ros["rate"],
                     "detail": f"in-process {local:.1f} steps/s, ratio "
                               f"{ros['rate'] / local:.2f}; {steps} steps after {warmup}"})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="measured steps per case")
    parser.add_argument("--warmup", type=int, default=300,
                        help="steps before measuring (fills the batch, warms torch)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny counts in every case, realtime ones included (a smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.warmup = QUICK["steps"], QUICK["warmup"]
    steps, warmup = args.steps, args.warmup
    cases = lockstep(warmup, steps)
    background = ros_case(bench_config(1.0, warmup, steps), warmup, steps, with_agent=True,
                          background=True)
    inline = ros_case(bench_config(1.0, warmup, steps), warmup, steps, with_agent=True,
                      learner_process=False)
    trip = round_trip(warmup, steps)
    # Updates start once a batch (256) is stored: measure after 300 steps.
    rt_steps, rt_warmup = (steps, warmup) if args.quick else (240, 300)
    realtime = {label: ros_case(bench_config(updates, rt_warmup, rt_steps), rt_warmup,
                                rt_steps, with_agent=True, background=where == "background",
                                sim_mode="realtime", learner_process=where == "process")
                for label, updates, where in (("inline", 1.0, "inline"),
                                              ("background", 1.0, "background"),
                                              ("learner process", 1.0, "process"),
                                              ("inline, 3 upd", 3.0, "inline"),
                                              ("background, 3 upd", 3.0, "background"),
                                              ("process, 3 upd", 3.0, "process"))}

    print(f"\nlock-step steps/s, {steps} steps after {warmup} (2 processes over "
          f"DDS on loopback, torch_threads=1, networks {Config().td3.actor_hidden}; "
          "the agent's updates in its learner process unless the row says otherwise)")
    print(f"{'case':<16}{'in-process':>12}{'ROS':>10}{'ROS/in-proc':>13}"
          f"{'state->action p50/p99 ms':>28}")
    for label, (local, ros) in cases.items():
        print(f"{label:<16}{local:>12.1f}{ros['rate']:>10.1f}{ros['rate'] / local:>13.2f}"
              f"{ros['p50_ms']:>20.2f} / {ros['p99_ms']:.2f}")
    for label, result in (("1 update, inline", inline), ("1 update, bg", background)):
        print(f"{label:<16}{'':>12}{result['rate']:>10.1f}{'':>13}"
              f"{result['p50_ms']:>20.2f} / {result['p99_ms']:.2f}")
    print(f"sim round trip (action -> next state, no agent): p50 "
          f"{trip['p50_ms']:.2f} ms, p99 {trip['p99_ms']:.2f} ms, "
          f"{trip['rate']:.0f} steps/s")
    print(f"realtime sim at {Config().env.control_hz:g} Hz, {rt_steps} steps after "
          f"{rt_warmup} (training): state->action latency")
    for label, result in realtime.items():
        print(f"  updates {label:<18} p50 {result['p50_ms']:6.2f} ms  p99 "
              f"{result['p99_ms']:6.2f} ms  ({result['rate']:.1f} steps/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
