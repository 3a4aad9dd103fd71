"""Speed figures that need no ROS: env steps/s (in-process, DIRECT) and TD3 gradient
updates/s at the default sizes. ``benchmarks/bench_env.py`` and
``benchmarks/bench_updates.py`` and ``massage-td3 bench`` all call these."""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def env_steps_per_second(steps: int = 6000, randomize: bool = False, warmup: int = 100,
                         seed: int = 0) -> dict[str, float]:
    """Steps/s of MassageEnv in DIRECT mode, resets included.

    The actions hold the tool 6 mm deeper than the path with some noise (a plausible
    early-training policy, in either action mode), so episodes run to the time limit
    rather than ending at once on over-force.
    """
    from massage_td3_ros.env.massage_env import MassageEnv

    env = MassageEnv(randomize=randomize)
    rng = np.random.default_rng(seed)
    deeper = np.array([0.0, 0.0, -0.006])
    try:
        env.reset(seed=seed)
        for _ in range(warmup):  # caches, first contacts
            env.step(env.action_toward(deeper))
        done_steps = resets = 0
        start = time.perf_counter()
        while done_steps < steps:
            action = np.clip(env.action_toward(deeper) + rng.normal(0.0, 0.3, 3), -1, 1)
            _, _, terminated, truncated, _ = env.step(action)
            done_steps += 1
            if terminated or truncated:
                env.reset()
                resets += 1
        elapsed = time.perf_counter() - start
        substeps = env.config.substeps
    finally:
        env.close()
    return {"steps": float(done_steps), "resets": float(resets), "seconds": elapsed,
            "steps_per_s": done_steps / elapsed, "physics_substeps": float(substeps)}


def updates_per_second(updates: int = 1000, obs_dim: int | None = None, act_dim: int = 3,
                       warmup: int = 50, buffer_rows: int = 10_000) -> dict[str, float]:
    """TD3 gradient updates/s at the default TD3Config sizes; each update is one batch
    sample from a replay buffer of random transitions plus ``agent.train``."""
    import torch

    from massage_td3_ros.td3.agent import TD3
    from massage_td3_ros.td3.config import TD3Config
    from massage_td3_ros.td3.replay_buffer import ReplayBuffer

    if obs_dim is None:
        from massage_td3_ros.env.observation import OBS_DIM
        obs_dim = OBS_DIM
    config = TD3Config()
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(buffer_rows, obs_dim, act_dim, rng)
    for _ in range(buffer_rows):
        buffer.add(rng.normal(size=obs_dim), rng.uniform(-1, 1, act_dim), rng.normal(),
                   rng.normal(size=obs_dim), False, False)
    agent = TD3(obs_dim, act_dim, config)
    for _ in range(warmup):
        agent.train(buffer.sample(config.batch_size))
    start = time.perf_counter()
    for _ in range(updates):
        agent.train(buffer.sample(config.batch_size))
    elapsed = time.perf_counter() - start
    return {"updates": float(updates), "seconds": elapsed, "updates_per_s": updates / elapsed,
            "batch_size": float(config.batch_size), "torch_threads": float(torch.get_num_threads()),
            "obs_dim": float(obs_dim)}


def machine_description() -> str:
    """CPU model, core count and Python/torch versions (for the README quote)."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def run_bench(quick: bool = False) -> dict:
    """The non-ROS rows of ``massage-td3 bench``; ``quick`` for tests (tiny counts)."""
    env = env_steps_per_second(steps=200 if quick else 6000, warmup=10 if quick else 100)
    updates = updates_per_second(updates=20 if quick else 1000, warmup=2 if quick else 50,
                                 buffer_rows=512 if quick else 10_000)
    return {"machine": machine_description(), "quick": quick,
            "rows": [
                {"name": "env steps/s (in-process, DIRECT)", "value": env["steps_per_s"],
                 "detail": f"{env['steps']:.0f} steps, {env['physics_substeps']:.0f} physics "
                           f"steps each, {env['resets']:.0f} resets"},
                {"name": "TD3 gradient updates/s", "value": updates["updates_per_s"],
                 "detail": f"400-300 nets, batch {updates['batch_size']:.0f}, "
                           f"{updates['torch_threads']:.0f} torch thread(s)"},
            ]}


def markdown_table(bench: dict) -> str:
    lines = ["| measure | value | detail |", "|---|---:|---|"]
    lines += [f"| {row['name']} | {row['value']:.1f} | {row['detail']} |"
              for row in bench["rows"]]
    lines.append(f"\nmachine: {bench['machine']}" + (" (quick mode)" if bench["quick"] else ""))
    return "\n".join(lines)
