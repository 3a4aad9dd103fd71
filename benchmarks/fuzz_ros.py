"""Fuzz the ROS interface during a real training run: massage_sim and td3_agent as node
processes (as `massage-td3 launch` starts them; small networks, 3,000 stored steps)
while a fuzzer process publishes garbage on massage/action and massage/state at about
2 kHz for 30 s: NaN, inf and 1e39 actions, out-of-range actions, wrong stamps, and
other valid actions on the right stamp (racing the agent); states with NaN, inf, 1e39
or 1e30 in the observation or the reward, negative or too large stamps, fractional
counters, flags other than 0/1, wrong lengths and wrong labels.

    .venv/bin/python benchmarks/fuzz_ros.py [--steps 3000] [--seconds 30] [--rate 2000]

This process records every state the sim publishes, then prints: the agent's rejected
states by reason, the steps it did not store because another node's action was
applied (foreign-action gaps), the stored replay-buffer rows whose action differs from
the action the sim applied (must be 0), the sim's dropped and clamped actions, and
whether the final checkpoint loads with finite weights. DDS stays on loopback with a
run-unique ROS_DOMAIN_ID.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
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

os.environ.update(launcher.ros_environment())  # this process and the ones it starts

DEEP_DEPTH = 100_000


def fuzz_config(steps: int) -> Config:
    return Config().replace(
        td3={"actor_hidden": [32, 32], "critic_hidden": [32, 32], "batch_size": 32,
             "torch_threads": 1},
        train={"total_steps": steps, "warmup_steps": 500, "buffer_size": 10_000,
               "log_tensorboard": False, "eval_every_episodes": 0,
               "plot_every_episodes": 0})


# ---- the fuzzer (a child process) ---------------------------------------------------
ACTION_KINDS = ("nan", "inf", "1e39", "out_of_range", "wrong_stamp", "old_stamp", "foreign")
STATE_KINDS = ("obs_nan", "obs_inf", "obs_1e39", "obs_1e30", "reward_1e39", "reward_1e30",
               "reward_inf", "nanosec_negative", "nanosec_1e9", "sec_negative",
               "sec_2^31", "step_fraction", "flag_half", "applied_5", "too_short",
               "too_long", "wrong_labels")


def run_fuzzer(seconds: float, rate_hz: float) -> None:
    """Publish garbage for ``seconds`` after the first valid state; print counts (JSON)."""
    import rclpy
    from geometry_msgs.msg import Vector3Stamped
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Float64MultiArray

    from massage_td3_ros.ros.common import RELIABLE_QOS
    from massage_td3_ros.ros.state_message import BadStateError, StateCodec

    rclpy.init()
    node = rclpy.create_node("fuzzer")
    codec = StateCodec.for_env()
    rng = np.random.default_rng(1)
    actions = node.create_publisher(Vector3Stamped, "massage/action", RELIABLE_QOS)
    states = node.create_publisher(Float64MultiArray, "massage/state", RELIABLE_QOS)
    offsets = {dim.label: dim.stride for dim in codec.layout_dims()}
    sent = {kind: 0 for kind in ACTION_KINDS + STATE_KINDS}
    latest: dict = {"msg": None, "state": None}
    window = {"start": None}

    def action(values, stamp_ns: int) -> Vector3Stamped:
        msg = Vector3Stamped()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
        msg.header.frame_id = "fuzzer"
        msg.vector.x, msg.vector.y, msg.vector.z = (float(v) for v in values)
        return msg

    def fuzzing() -> bool:
        start = window["start"]
        return start is not None and time.monotonic() - start < seconds

    def on_state(msg) -> None:
        try:
            state = codec.decode(msg)
        except BadStateError:
            return  # ours
        latest["msg"], latest["state"] = msg, state
        if window["start"] is None:
            window["start"] = time.monotonic()
        # Race the agent: half of the states get a valid foreign answer at once.
        if fuzzing() and not state.last and rng.random() < 0.5:
            actions.publish(action(rng.uniform(-1, 1, 3), state.stamp_ns))
            sent["foreign"] += 1

    def garbage_action() -> None:
        state = latest["state"]
        kind = ACTION_KINDS[rng.integers(len(ACTION_KINDS))]
        stamp, values = state.stamp_ns, rng.uniform(-1, 1, 3)
        if kind == "nan":
            values[rng.integers(3)] = np.nan
        elif kind == "inf":
            values[rng.integers(3)] = -np.inf
        elif kind == "1e39":
            values[rng.integers(3)] = 1e39      # finite in float64: clamped to 1
        elif kind == "out_of_range":
            values[rng.integers(3)] = rng.choice([-3.0, 2.5])
        elif kind == "wrong_stamp":
            stamp += 1
        elif kind == "old_stamp":
            stamp = max(0, stamp - 33_333_333)
        actions.publish(action(values, stamp))
        sent[kind] += 1

    def garbage_state() -> None:
        kind = STATE_KINDS[rng.integers(len(STATE_KINDS))]
        msg = Float64MultiArray()
        msg.layout.dim = codec.layout_dims()
        data = np.array(latest["msg"].data)
        obs = offsets["obs"] + int(rng.integers(codec.obs_dim))
        changes = {"obs_nan": (obs, np.nan), "obs_inf": (obs, np.inf),
                   "obs_1e39": (obs, 1e39), "obs_1e30": (obs, -1e30),
                   "reward_1e39": (offsets["reward"], 1e39),
                   "reward_1e30": (offsets["reward"], 1e30),
                   "reward_inf": (offsets["reward"], -np.inf),
                   "nanosec_negative": (offsets["stamp_nanosec"], -1.0),
                   "nanosec_1e9": (offsets["stamp_nanosec"], 1e9),
                   "sec_negative": (offsets["stamp_sec"], -1.0),
                   "sec_2^31": (offsets["stamp_sec"], 2.0**31),
                   "step_fraction": (offsets["step"], data[offsets["step"]] + 0.5),
                   "flag_half": (offsets["first"], 0.5),
                   "applied_5": (offsets["applied_action"], 5.0)}
        if kind in changes:
            index, value = changes[kind]
            data[index] = value
        elif kind == "too_short":
            data = data[:-1]
        elif kind == "too_long":
            data = np.append(data, 0.0)
        else:  # wrong_labels
            msg.layout.dim[10].label = "observation"
        msg.data = data
        states.publish(msg)
        sent[kind] += 1

    ticks_hz = 200.0
    per_tick = max(1, round(rate_hz / ticks_hz))

    def tick() -> None:
        if not fuzzing():
            return
        for _ in range(per_tick):
            (garbage_action if rng.random() < 0.5 else garbage_state)()

    deep = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(Float64MultiArray, "massage/state", on_state, deep)
    node.create_timer(1.0 / ticks_hz, tick)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    while not stop["now"] and (window["start"] is None or fuzzing()):
        executor.spin_once(timeout_sec=0.05)
    elapsed = 0.0 if window["start"] is None else min(seconds,
                                                      time.monotonic() - window["start"])
    print(json.dumps({"seconds": elapsed, "sent": sent}), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


# ---- the run ------------------------------------------------------------------------
class Recorder:
    """Every valid state the sim publishes: observation (as float32 bytes) -> the
    actions the sim applied to reach it."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from std_msgs.msg import Float64MultiArray

        from massage_td3_ros.ros.state_message import StateCodec

        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("fuzz_recorder", context=self.context)
        self.codec = StateCodec.for_env()
        self.applied: dict[bytes, set[tuple[float, ...]]] = {}
        self.states = 0
        deep = QoSProfile(depth=DEEP_DEPTH, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(Float64MultiArray, "massage/state", self._on_state,
                                      deep)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _on_state(self, msg) -> None:
        from massage_td3_ros.ros.state_message import BadStateError
        try:
            state = self.codec.decode(msg)
        except BadStateError:
            return  # the fuzzer's
        self.states += 1
        self.applied.setdefault(state.obs.tobytes(), set()).add(
            tuple(state.applied_action.tolist()))

    def spin_while(self, condition) -> None:
        while condition():
            self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


def _stop(process: subprocess.Popen, grace_s: float = 20.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _last(pattern: str, text: str) -> re.Match | None:
    matches = list(re.finditer(pattern, text))
    return matches[-1] if matches else None


def compare_buffer(buffer_file: Path, recorder: Recorder) -> tuple[int, int, int]:
    """(rows, rows whose action differs from the applied one, rows not recorded)."""
    with np.load(buffer_file) as data:
        actions, next_obs = data["action"], data["next_obs"]
    differ = unmatched = 0
    for action, obs in zip(actions, next_obs):
        applied = recorder.applied.get(obs.tobytes())
        if applied is None:
            unmatched += 1
        elif tuple(action.astype(np.float64).tolist()) not in applied:
            differ += 1
    return len(actions), differ, unmatched


def weights_finite(checkpoint: Path) -> str:
    import torch

    from massage_td3_ros.td3.checkpoint import load_checkpoint

    try:
        payload = load_checkpoint(checkpoint)
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return f"does not load: {error}"

    def tensors(value):
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from tensors(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from tensors(item)
    values = list(tensors(payload["agent"]))
    finite = all(bool(torch.isfinite(t).all()) for t in values if t.is_floating_point())
    return f"loads, {len(values)} tensors, all weights finite: {finite}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="stored steps to train")
    parser.add_argument("--seconds", type=float, default=30.0, help="fuzzing time")
    parser.add_argument("--rate", type=float, default=2000.0, help="garbage messages/s")
    parser.add_argument("--role", default="run", choices=("run", "fuzzer"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "fuzzer":
        run_fuzzer(args.seconds, args.rate)
        return 0

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        params = folder / "fuzz.yaml"
        params.write_text(yaml.safe_dump(config_to_dict(fuzz_config(args.steps))))
        run = folder / "run"
        recorder = Recorder()
        logs = {name: open(folder / f"{name}.log", "w+") for name in ("sim", "agent")}
        sim = subprocess.Popen(launcher.node_command("sim_node", params, {}),
                               stderr=logs["sim"], stdout=subprocess.DEVNULL,
                               start_new_session=True)
        # Let the recorder meet the sim before anything is stepped.
        recorder.spin_while(lambda: recorder.node.count_publishers("/massage/state") == 0)
        agent = subprocess.Popen(launcher.node_command(
            "agent_node", params, {"agent.run_folder": str(run)}, use_sim_time=True),
            stderr=logs["agent"], stdout=subprocess.DEVNULL, start_new_session=True)
        fuzzer = subprocess.Popen(
            [sys.executable, __file__, "--role", "fuzzer", "--seconds", str(args.seconds),
             "--rate", str(args.rate)], stdout=subprocess.PIPE, text=True,
            start_new_session=True)
        start = time.monotonic()
        try:
            recorder.spin_while(lambda: agent.poll() is None
                                and time.monotonic() - start < 1800)
            settle = time.monotonic() + 0.5  # the last states still on their way
            recorder.spin_while(lambda: time.monotonic() < settle)
        finally:
            fuzzer.send_signal(signal.SIGTERM)
            fuzz_out = fuzzer.communicate(timeout=30)[0]
            _stop(agent)
            _stop(sim)
            recorder.close()
        elapsed = time.monotonic() - start
        texts = {}
        for name, handle in logs.items():
            handle.seek(0)
            texts[name] = handle.read()
            handle.close()

        fuzz = json.loads(fuzz_out.strip().splitlines()[-1])
        agent_line = _last(r"stopped at env step (\d+): (\{[^}]*\}), bad states (\d+)"
                           r"(?: (\{[^}]*\}))?, foreign-action steps (\d+)", texts["agent"])
        sim_line = _last(r"(\d+) steps, (\d+) episodes, dropped actions (\{[^}]*\}), "
                         r"clamped (\d+), held steps (\d+), over-force steps (\d+)",
                         texts["sim"])
        if agent_line is None or sim_line is None:
            print(texts["agent"][-3000:], texts["sim"][-3000:], sep="\n", file=sys.stderr)
            print("the nodes' final log lines are missing", file=sys.stderr)
            return 1
        sent = fuzz["sent"]
        total = sum(sent.values())
        print(f"training: {args.steps} stored steps in {elapsed:.1f} s, agent exit code "
              f"{agent.returncode}")
        print(f"fuzzer: {total} messages in {fuzz['seconds']:.1f} s "
              f"({total / max(fuzz['seconds'], 1e-9):.0f}/s)")
        print(f"  actions: {({k: sent[k] for k in ACTION_KINDS})}")
        print(f"  states:  {({k: sent[k] for k in STATE_KINDS})}")
        reasons = ast.literal_eval(agent_line.group(4)) if agent_line.group(4) else {}
        print(f"agent bad states by reason: {reasons} (total {agent_line.group(3)})")
        print(f"agent counters: {agent_line.group(2)}")
        print(f"foreign-action gaps: {agent_line.group(5)}")
        rows, differ, unmatched = compare_buffer(
            run / "checkpoints" / "final.buffer.npz", recorder)
        print(f"stored rows whose action differs from the applied action: {differ} "
              f"(of {rows} rows; {unmatched} rows without a recorded state; "
              f"{recorder.states} states recorded)")
        print(f"sim: {sim_line.group(1)} steps, {sim_line.group(2)} episodes, dropped "
              f"actions {sim_line.group(3)}, clamped {sim_line.group(4)}, held steps "
              f"{sim_line.group(5)}, over-force steps {sim_line.group(6)}")
        print(f"final checkpoint: {weights_finite(run / 'checkpoints' / 'final.pt')}")
        return 0 if differ == 0 and agent.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
