"""State-to-command latency and control rate of massage_bridge on arm_sim, while the
agent trains with background updates.

    .venv/bin/python benchmarks/bench_bridge.py [--seconds 40] [--warmup-steps 300]
                                                [--inline] [--updates-per-step X]
                                                [--json F]

Starts arm_sim, massage_bridge (config/hardware_sim.yaml) and td3_agent (train mode,
``agent.background_updates`` true unless --inline) as processes, as
`massage-td3 launch --hardware-sim` does, and a probe node here that timestamps every
/massage/state and every joint command on arrival. For each state the first command
after it (before the next state) is its answer's command: latency = command arrival -
state arrival, both seen by the probe (so DDS delivery to the probe is in both and
cancels). Over the steps of whole episodes after the agent's warm-up (moves to a
stroke's start are not control steps), prints p50 / p99 / max latency and the
control rate (states per second of wall time), and the two halves of the latency
from the probe's view of /massage/action: state -> action (the agent) and action ->
command (the bridge). A learner pressing too hard ends
episodes on over-force, after which the bridge waits for massage/reset: the probe
calls it, as the operator would.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
import yaml
from geometry_msgs.msg import Vector3Stamped
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

from massage_td3_ros.config import Config, config_to_dict, default_config_path
from massage_td3_ros.ros.common import RELIABLE_QOS
from massage_td3_ros.ros.launcher import node_command, ros_environment
from massage_td3_ros.ros.realtime import raise_process_to_realtime
from massage_td3_ros.ros.state_message import StateCodec
from massage_td3_ros.td3.cpu import cpu_label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--warmup-steps", type=int, default=300)
    parser.add_argument("--inline", action="store_true", help="updates inline, not on a worker")
    parser.add_argument("--updates-per-step", type=float, default=1.0,
                        help="the agent's train.updates_per_step (0: it acts and stores but "
                             "never updates: the latency floor of the nodes and DDS)")
    parser.add_argument("--realtime-priority", type=int, default=50,
                        help="bridge.realtime_priority and agent.realtime_priority, and the "
                             "probe's (+10, so its arrival stamps are not delayed); 0: all "
                             "at normal priority")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    env = ros_environment()
    os.environ.update(env)  # the probe on the nodes' loopback domain
    folder = Path(tempfile.mkdtemp(prefix="bench_bridge_"))
    agent_params = folder / "agent.yaml"
    agent_params.write_text(yaml.safe_dump(config_to_dict(Config().replace(
        train={"warmup_steps": args.warmup_steps, "log_tensorboard": False,
               "buffer_size": 100_000, "checkpoint_every_steps": 0,
               "eval_every_episodes": 0, "plot_every_episodes": 0,
               "updates_per_step": args.updates_per_step}))))
    robot = default_config_path().with_name("hardware_sim.yaml")
    sim_overrides = {"sim.episodes": "training",
                     "bridge.realtime_priority": args.realtime_priority}
    agent_overrides = {"agent.run_folder": str(folder / "run"), "train.total_steps": 10**9,
                       "agent.background_updates": not args.inline,
                       "agent.realtime_priority": 0 if args.inline else args.realtime_priority}
    commands = [node_command("arm_sim_node", robot, {}),
                node_command("bridge_node", robot, sim_overrides),
                node_command("agent_node", agent_params, agent_overrides)]
    bridge_log = folder / "bridge.log"   # its shutdown line has its own latency figures
    with bridge_log.open("w") as log:
        processes = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL,
                                      stderr=log if "bridge_node" in c[2] else subprocess.DEVNULL)
                     for c in commands]
    rclpy.init()
    node = rclpy.create_node("bridge_probe")
    codec = StateCodec.for_env()
    states: list[tuple[float, int, int, bool]] = []   # arrival, stamp, step, last
    command_times: list[float] = []
    action_times: list[float] = []
    seen: set[int] = set()

    reset = node.create_client(Trigger, "massage/reset")
    resets = [0]

    def on_state(msg) -> None:
        now = time.monotonic()
        state = codec.decode(msg)
        if state.stamp_ns not in seen:
            seen.add(state.stamp_ns)
            states.append((now, state.stamp_ns, state.step, state.last))
            if state.terminated:  # a learner pressing too hard: the operator resets
                resets[0] += 1
                reset.call_async(Trigger.Request())

    node.create_subscription(Float64MultiArray, "massage/state", on_state, RELIABLE_QOS)
    node.create_subscription(Float64MultiArray, "forward_position_controller/commands",
                             lambda msg: command_times.append(time.monotonic()), RELIABLE_QOS)
    node.create_subscription(Vector3Stamped, "massage/action",
                             lambda msg: action_times.append(time.monotonic()), RELIABLE_QOS)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    if args.realtime_priority:
        reason = raise_process_to_realtime(min(99, args.realtime_priority + 10))
        if reason:
            print(f"the probe runs at normal priority: {reason}")
    try:
        deadline = time.monotonic() + 120
        while len(states) < args.warmup_steps + 30 and time.monotonic() < deadline:
            time.sleep(0.1)
        start = time.monotonic()
        time.sleep(args.seconds)
        end = time.monotonic()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # e.g. the agent's final save on a busy machine
                process.kill()
                process.wait()
        executor.shutdown()
        rclpy.shutdown()
    own = re.search(r"state-to-command latency p50 ([\d.]+) ms, p99 ([\d.]+) ms, max "
                    r"([\d.]+) ms over (\d+)", bridge_log.read_text())
    window = [s for s in states if start <= s[0] <= end]
    if not window:
        raise SystemExit(f"no states in the window ({len(states)} in all, {len(command_times)} "
                         "commands): did the nodes start?")
    commands_sorted, actions_sorted = np.array(command_times), np.array(action_times)
    latencies, agent_part, steady = [], [], []
    for (t, _, step, last), following in zip(window, window[1:] + [(np.inf, 0, 0, False)]):
        if last:
            continue
        after = commands_sorted[(commands_sorted > t) & (commands_sorted < following[0])]
        if after.size and following[2] == step + 1:   # a control step, not a reset's move
            latencies.append(after[0] - t)
            steady.append(following[0] - t)
            answer = actions_sorted[(actions_sorted > t) & (actions_sorted <= after[0])]
            agent_part.append(answer[0] - t if answer.size else np.nan)
    latencies_ms = np.array(latencies) * 1e3
    # The two halves: state -> the agent's action (agent), action -> joint command (bridge).
    agent_ms = np.array(agent_part) * 1e3
    bridge_ms = latencies_ms - agent_ms
    periods = np.array(steady)
    result = {
        "cpu": cpu_label(), "seconds": args.seconds,
        "updates": "inline" if args.inline else "background",
        "updates_per_step": args.updates_per_step,
        "control_steps": int(len(latencies_ms)),
        "latency_p50_ms": float(np.percentile(latencies_ms, 50)),
        "latency_p99_ms": float(np.percentile(latencies_ms, 99)),
        "latency_max_ms": float(latencies_ms.max()),
        "agent_p50_ms": float(np.nanpercentile(agent_ms, 50)),
        "agent_p99_ms": float(np.nanpercentile(agent_ms, 99)),
        "bridge_p50_ms": float(np.nanpercentile(bridge_ms, 50)),
        "bridge_p99_ms": float(np.nanpercentile(bridge_ms, 99)),
        "control_rate_hz": float(1.0 / periods.mean()),
        "period_p99_ms": float(np.percentile(periods, 99) * 1e3),
        "operator_resets": resets[0],
        "realtime_priority": args.realtime_priority,
    }
    if own:  # the bridge's own clock, every control step of the run (warm-up included)
        result.update(bridge_own_p50_ms=float(own[1]), bridge_own_p99_ms=float(own[2]),
                      bridge_own_max_ms=float(own[3]), bridge_own_steps=int(own[4]))
    print(f"machine: {result['cpu']}; agent training, updates {result['updates']}, "
          f"{args.updates_per_step:g} per step; real-time priority "
          f"{args.realtime_priority or 'off'}")
    print(f"state -> joint command over {result['control_steps']} control steps: "
          f"p50 {result['latency_p50_ms']:.2f} ms, p99 {result['latency_p99_ms']:.2f} ms, "
          f"max {result['latency_max_ms']:.2f} ms")
    print(f"  of which state -> action (agent): p50 {result['agent_p50_ms']:.2f} ms, p99 "
          f"{result['agent_p99_ms']:.2f} ms; action -> command (bridge): p50 "
          f"{result['bridge_p50_ms']:.2f} ms, p99 {result['bridge_p99_ms']:.2f} ms")
    print(f"control rate {result['control_rate_hz']:.2f} Hz (period p99 "
          f"{result['period_p99_ms']:.1f} ms); {resets[0]} over-force ends reset by the probe")
    if own:
        print(f"the bridge's own record (state published -> command published, all "
              f"{result['bridge_own_steps']} steps of the run): p50 "
              f"{result['bridge_own_p50_ms']:.2f} ms, p99 {result['bridge_own_p99_ms']:.2f} "
              f"ms, max {result['bridge_own_max_ms']:.2f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
