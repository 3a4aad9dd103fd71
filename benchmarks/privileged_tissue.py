"""A bound: plain TD3 told the tissue it presses on (a diagnostic for issue 14).

The observation shows where the tool is and the surface's shape, not the tissue under
it. This trains and scores TD3 with 10 privileged entries appended by a gymnasium
wrapper, which no real arm could read directly: the person's tissue scale, the summed
contact stiffness of the surfaces the tool touches, the region bearing most of its force
(one-hot over tissue.REGIONS), and at each of the 3 path preview points the stiffness of
the region a ray straight down meets there (outer layer plus core, at the person's
scale). The nominal person (uniform tissue, never met in training) reads its uniform
stiffness everywhere and a scale of 1: inputs the policy has not seen. Protocol:
results/heldout/PROTOCOL.md (session 16).

    .venv/bin/python benchmarks/privileged_tissue.py [--steps 60000] [--seeds 0 1 2]
        [--jobs 3] [--runs runs/privileged-tissue] [--results results/heldout/privileged-tissue]
        [--label privileged-tissue] [--score-only]

Training is `benchmarks/learning.py --train-only --learner-process`'s (the default
config, its bookkeeping); scoring is `heldout.py`'s metrics and goal check, the
baselines on the same wrapped env (they read only the standard entries).
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import gymnasium as gym
import numpy as np
import pybullet as pb
from heldout import BASELINES, HEADER, meets_goal, row, write_summary  # benchmarks/
from learning import BOOKKEEPING  # benchmarks/

PRIVILEGED = ("privileged_tissue", 10)
STIFFNESS_SCALE_N_PER_M = 10_000.0   # 10 N/mm per unit
SCALE_SPAN = 1.5                     # tissue scale / this
RAY_HALF_M = 0.25                    # a preview point's ray: this far above and below


class PrivilegedTissue(gym.ObservationWrapper):
    """MassageEnv's observation with the tissue entries appended."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        from massage_td3_ros.env.observation import OBS_CLIP, OBS_LAYOUT

        self.obs_layout = [*OBS_LAYOUT, PRIVILEGED]
        size = sum(n for _, n in self.obs_layout)
        self.observation_space = gym.spaces.Box(-OBS_CLIP, OBS_CLIP, (size,), np.float32)
        self._link_stiffness: dict[int, float] = {}
        self._region_stiffness: dict[str, float] = {}

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)  # the person is set: read its tissue
        self._read_tissue()
        return self.observation(obs), info

    def _read_tissue(self) -> None:
        from massage_td3_ros.env.anatomy import link_indices
        from massage_td3_ros.env.body import body_parts
        from massage_td3_ros.env.tissue import LAYERING, REGIONS

        env = self.env.unwrapped
        scene, tissue = env.scene, env.episode.tissue
        parts = body_parts(env.episode.body)
        self._link_stiffness = {
            link: pb.getDynamicsInfo(scene.body_id, link, physicsClientId=env.client)[9]
            for link in link_indices(parts).values()}
        self._region_stiffness = {
            region: tissue.stiffness_n_per_m(region, False)
            + (tissue.stiffness_n_per_m(region, True)
               if tissue.layered and region in LAYERING else 0.0)  # "other" has no core
            for region in REGIONS}

    def observation(self, obs: np.ndarray) -> np.ndarray:
        from massage_td3_ros.env.observation import OBS_CLIP, PREVIEW_POINTS
        from massage_td3_ros.env.scene import BODY_GROUP
        from massage_td3_ros.env.tissue import REGIONS

        env = self.env.unwrapped
        scene, cfg = env.scene, env.config
        forces: dict[int, float] = {}  # body link -> the tool's force on it
        for c in env._contacts():
            if c.arm_link == scene.arm.tool_link and c.normal_force_n > 0.0:
                forces[c.body_link] = forces.get(c.body_link, 0.0) + c.normal_force_n
        region = np.zeros(len(REGIONS))
        if forces:
            region[REGIONS.index(scene.region_of(max(forces, key=forces.get)))] = 1.0
        points = np.array([env.stroke.point(env._step + (j + 1) * cfg.preview_spacing_steps,
                                            cfg.nominal_indentation_m)
                           for j in range(PREVIEW_POINTS)])
        starts, ends = points.copy(), points.copy()
        starts[:, 2] += RAY_HALF_M
        ends[:, 2] -= RAY_HALF_M
        hits = pb.rayTestBatch(starts.tolist(), ends.tolist(), collisionFilterMask=BODY_GROUP,
                               physicsClientId=env.client)
        ahead = [self._region_stiffness[scene.region_of(hit[1])]
                 if hit[0] == scene.body_id else 0.0 for hit in hits]
        extra = np.concatenate([
            [env.episode.tissue.scale / SCALE_SPAN],
            [sum(self._link_stiffness.get(link, 0.0) for link in forces)
             / STIFFNESS_SCALE_N_PER_M],
            region, np.asarray(ahead) / STIFFNESS_SCALE_N_PER_M])
        return np.concatenate([obs, np.clip(extra, -OBS_CLIP, OBS_CLIP)]).astype(np.float32)


class PrivilegedPolicy:
    """A checkpoint trained on the wrapped observation, as evaluation's td3 controller."""

    name = "td3"

    def __init__(self, checkpoint: str) -> None:
        from massage_td3_ros.env.episode import recorded_action_meta
        from massage_td3_ros.env.observation import OBS_DIM, OBS_LAYOUT
        from massage_td3_ros.td3.agent import use_torch_threads
        from massage_td3_ros.td3.policy import Policy

        self.checkpoint = checkpoint
        self.policy = Policy.load(checkpoint, OBS_DIM + PRIVILEGED[1], 3,
                                  [*OBS_LAYOUT, PRIVILEGED])
        use_torch_threads(self.policy.config.torch_threads)
        self.action_settings = recorded_action_meta(self.policy.meta["config"])

    def reset(self, env) -> None:
        pass

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        return np.clip(self.policy.act(obs), -1.0, 1.0).astype(np.float32)


def train_seed(steps: int, seed: int, run_dir: str) -> str:
    """One seed to ``steps`` (in a worker process); keeps checkpoints/steps<N>.pt."""
    import logging
    import shutil

    from massage_td3_ros.config import load_config
    from massage_td3_ros.training.trainer import train

    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s seed{seed} %(message)s",
                        datefmt="%H:%M:%S")
    saved = Path(run_dir) / "checkpoints" / f"steps{steps}.pt"
    if not saved.is_file():
        config = load_config().replace(train={**BOOKKEEPING, "eval_every_episodes": 10})
        train(config, steps=steps, seed=seed, out=run_dir, learner_process=True,
              env_wrapper=PrivilegedTissue)
        shutil.copyfile(Path(run_dir) / "checkpoints" / "final.pt", saved)
    return str(saved)


def score(controller: str, checkpoint: str | None, suite: str) -> dict:
    """One controller on one suite, on the wrapped env (in a worker process)."""
    from massage_td3_ros.config import load_config
    from massage_td3_ros.env.massage_env import MassageEnv
    from massage_td3_ros.evaluation.controllers import make_controller
    from massage_td3_ros.evaluation.evaluate import env_config_for, evaluate_cases
    from massage_td3_ros.evaluation.suites import suite_episodes

    agent = PrivilegedPolicy(checkpoint) if checkpoint else make_controller(controller)
    env = PrivilegedTissue(MassageEnv(env_config_for(agent, load_config().env)))
    try:
        result = evaluate_cases(agent, suite_episodes(suite, env.unwrapped.config), env=env,
                                keep_traces=False)
    finally:
        env.close()
    return {"aggregate": result["aggregate"], "by_profile": result["by_profile"],
            "by_region": result["by_region"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--runs", default="runs/privileged-tissue")
    parser.add_argument("--results", default="results/heldout/privileged-tissue")
    parser.add_argument("--label", default="privileged-tissue")
    parser.add_argument("--summary", default="results/heldout.json")
    parser.add_argument("--score-only", action="store_true")
    args = parser.parse_args()
    runs = {seed: str(Path(args.runs) / f"seed{seed}") for seed in args.seeds}
    if not args.score_only:
        with ProcessPoolExecutor(args.jobs) as pool:
            list(pool.map(train_seed, [args.steps] * len(runs), list(runs), list(runs.values())))
    checkpoints = {seed: str(Path(run) / "checkpoints" / f"steps{args.steps}.pt")
                   for seed, run in runs.items()}
    jobs = [(name, None) for name in BASELINES] + [("td3", c) for c in checkpoints.values()]
    with ProcessPoolExecutor(min(args.jobs, 2)) as pool:
        futures = {(name, path, suite): pool.submit(score, name, path, suite)
                   for name, path in jobs for suite in ("heldout", "nominal")}
        scores = {key: future.result() for key, future in futures.items()}
    from massage_td3_ros.td3.cpu import cpu_info

    lines, verdicts = [], {}
    for suite in ("heldout", "nominal"):
        baselines = {name: scores[(name, None, suite)]["aggregate"] for name in BASELINES}
        lines += [f"## {suite} suite, privileged tissue entries", "", HEADER]
        lines += [row(name, a) for name, a in baselines.items()]
        for seed, path in checkpoints.items():
            a = scores[("td3", path, suite)]["aggregate"]
            lines.append(row(f"TD3 {args.steps} steps, seed {seed}", a))
            if suite == "heldout":
                verdicts[(args.steps, seed)] = meets_goal(a, baselines)
        lines.append("")
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "README-table.md").write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(json.dumps(
        [{"controller": name, "checkpoint": path, "suite": suite, **value}
         for (name, path, suite), value in scores.items()], indent=1))
    # heldout.py's record, with this script's command
    record = argparse.Namespace(stages=[args.steps], seeds=args.seeds,
                                runs=str(Path(args.runs)))
    write_summary(Path(args.summary), args.label, record, scores, verdicts, cpu_info())
    print("\n".join(lines))


if __name__ == "__main__":
    main()
