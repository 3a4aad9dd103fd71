"""Where a tracking-model policy's first-contact overshoot comes from (a diagnostic).

Runs the deterministic policy of a checkpoint trained with the tracking model
(td3.tracking_model_weight > 0) on the first ``--episodes`` training draws of
``--draw-seed`` (training episodes, never the held-out people) and, at every step of
each episode's first second, compares the model's predicted next force error at the
action taken, M(s, pi(s)), with the error that followed. For each episode whose
first-contact overshoot exceeds ``--threshold`` it prints the first steps (force,
target, predicted and actual next force) and, over all of them, whether the model saw
the peak coming: a model that predicted the overshoot yet the actor took the step
points at the objective; a model that predicted the target points at the model.

    .venv/bin/python benchmarks/first_contact_model.py CHECKPOINT [--episodes 60]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from massage_td3_ros.config import load_config
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.env.metrics import EpisodeMetrics
from massage_td3_ros.env.observation import FORCE_ERROR_SCALE_N, OBS_DIM, OBS_LAYOUT
from massage_td3_ros.evaluation.controllers import PolicyController
from massage_td3_ros.evaluation.evaluate import env_config_for
from massage_td3_ros.evaluation.suites import training_episodes
from massage_td3_ros.params import from_dict
from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.checkpoint import load_checkpoint
from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.td3.cpu import cpu_label


def tracking_model(checkpoint: str):
    """The checkpoint's tracking model (raises if it was trained without one)."""
    loaded = load_checkpoint(checkpoint, OBS_DIM, 3, list(OBS_LAYOUT))
    config = from_dict(TD3Config, loaded["meta"]["config"]["td3"])
    agent = TD3(OBS_DIM, 3, config)
    agent.load_state_dict(loaded["agent"])
    model = agent.model("tracking_model")
    if model is None:
        raise SystemExit(f"{checkpoint}: trained without a tracking model")
    return model


def first_second(env: MassageEnv, controller: PolicyController, model, episode) -> dict:
    """One episode; the first second's steps with the model's prediction."""
    obs, _ = env.reset(seed=episode.seed, options=dict(episode.options))
    controller.reset(env)
    metrics = EpisodeMetrics(dt_s=env.dt_s)
    window = int(round(1.0 / env.dt_s))
    rows, done, step = [], False, 0
    entry = model.entry
    while not done:
        action = controller.act(obs, env)
        with torch.no_grad():
            change = model(torch.as_tensor(obs[None]), torch.as_tensor(action[None]))
        predicted = float(obs[entry][0] + change[0, 0])
        obs, _, terminated, truncated, info = env.step(action)
        metrics.add(info)
        done = terminated or truncated
        if step < window:
            rows.append((info["force_n"], info["target_force_n"], predicted,
                         float(obs[entry][0]), float(np.abs(action).max())))
        step += 1
    return {"overshoot": metrics.summary().get("first_contact_overshoot_n", 0.0),
            "over_force": metrics.summary()["over_force_steps"] > 0, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--draw-seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=3.0)
    parser.add_argument("--show", type=int, default=8, help="first steps printed per episode")
    args = parser.parse_args()
    controller = PolicyController(args.checkpoint)
    model = tracking_model(args.checkpoint)
    env = MassageEnv(env_config_for(controller, load_config().env))
    print(f"{cpu_label()}; {args.checkpoint}; training draws of seed {args.draw_seed}")
    peaks = []
    for episode in training_episodes(args.episodes, args.draw_seed):
        result = first_second(env, controller, model, episode)
        if result["overshoot"] <= args.threshold:
            continue
        rows = np.asarray(result["rows"])
        error = rows[:, 0] - rows[:, 1]
        peak = int(np.argmax(error))
        # The prediction made on the step before the peak, in newtons of force error.
        predicted_n = rows[peak, 2] * FORCE_ERROR_SCALE_N
        peaks.append((error[peak], predicted_n, peak))
        print(f"\n{episode.case}: overshoot {result['overshoot']:.1f} N at step {peak}"
              f"{' (ended on over-force)' if result['over_force'] else ''}")
        print("  step  force  target  predicted err  actual err  |a|max")
        for i, (force, target, pred, actual, amax) in enumerate(rows[:args.show]):
            print(f"  {i:4d} {force:6.1f} {target:7.1f} {pred * FORCE_ERROR_SCALE_N:14.1f}"
                  f" {actual * FORCE_ERROR_SCALE_N:11.1f} {amax:7.2f}")
    env.close()
    if not peaks:
        print(f"no episode above {args.threshold:g} N of {args.episodes}")
        return
    table = np.asarray(peaks)
    print(f"\n{len(peaks)} of {args.episodes} episodes above {args.threshold:g} N; at their "
          f"peaks the actual error was {table[:, 0].mean():.1f} N on average, the model had "
          f"predicted {table[:, 1].mean():.1f} N (median step of the peak: "
          f"{np.median(table[:, 2]):.0f})")


if __name__ == "__main__":
    main()
