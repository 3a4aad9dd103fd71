"""Copies of TD3 checkpoints whose policy is the target actor (the Polyak average the
critics' targets use) instead of the online actor, laid out as learning.py's run folder,
so benchmarks/heldout.py scores them unchanged (issue 14; PROTOCOL.md, session 18).

    .venv/bin/python benchmarks/target_actor.py --runs RUN_FOLDER --out COPY_FOLDER \
        --stages 60000 120000 180000 --seeds 6 7 8
    .venv/bin/python benchmarks/heldout.py --runs COPY_FOLDER --stages ... --seeds ... \
        --label target-actor-... --set env.force_governor_n=38

Only the weights the policy acts with change; meta (observation layout, action
settings) and every other tensor are copied as they are, and the copy is written with
the package's own atomic checkpoint writer. A copy records where it came from in its
meta ("policy_from": "actor_target of <source>").
"""

from __future__ import annotations

import argparse
from pathlib import Path

from massage_td3_ros.td3.checkpoint import load_checkpoint, save_checkpoint


def target_actor_copy(source: Path, destination: Path) -> Path:
    """Write ``destination``: ``source`` with agent.actor := agent.actor_target."""
    loaded = load_checkpoint(source)
    agent = dict(loaded["agent"])
    if set(agent["actor"]) != set(agent["actor_target"]):
        raise ValueError(f"{source}: actor and actor_target hold different tensors")
    agent["actor"] = {name: tensor.clone() for name, tensor in agent["actor_target"].items()}
    meta = {key: value for key, value in loaded["meta"].items()
            if key not in ("format", "version")}
    meta["policy_from"] = f"actor_target of {source}"
    return save_checkpoint(destination, meta, agent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", required=True, help="learning.py's run folder (seed<N>/)")
    parser.add_argument("--out", required=True, help="folder for the copies (seed<N>/)")
    parser.add_argument("--stages", type=int, nargs="+", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    for seed in args.seeds:
        for stage in args.stages:
            relative = Path(f"seed{seed}") / "checkpoints" / f"steps{stage}.pt"
            written = target_actor_copy(Path(args.runs) / relative, Path(args.out) / relative)
            print(f"wrote {written}")


if __name__ == "__main__":
    main()
