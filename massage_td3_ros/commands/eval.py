"""`massage-td3 eval`: a controller (TD3 checkpoint or a baseline) on the fixed
evaluation episodes, or on a named suite of episodes (nominal, heldout)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from massage_td3_ros.config import load_config

LOG = logging.getLogger("massage_td3_ros.eval")
DEFAULT_EPISODES = 4


def run(args: argparse.Namespace) -> int:
    from massage_td3_ros.evaluation.controllers import make_controller
    from massage_td3_ros.evaluation.evaluate import evaluate, evaluate_suite, markdown_table

    if args.controller != "td3" and args.checkpoint is not None:
        raise ValueError(f"--checkpoint is only for --controller td3, not {args.controller}")
    suite = getattr(args, "suite", None)
    if suite is not None and (args.episodes is not None or args.seed is not None):
        raise ValueError(f"--episodes and --seed choose the fixed evaluation episodes; "
                         f"suite {suite} has its own")
    config = load_config(args.config, args.overrides)
    controller = make_controller(args.controller, args.checkpoint)
    label = args.controller if args.checkpoint is None else f"td3 ({Path(args.checkpoint).name})"
    keep_traces = args.json is not None
    if suite is None:
        seed = 0 if args.seed is None else args.seed
        episodes = DEFAULT_EPISODES if args.episodes is None else args.episodes
        result = evaluate(controller, episodes=episodes, seed=seed, env_config=config.env,
                          keep_traces=keep_traces)
        print(markdown_table([(label, result["aggregate"])]))
        where = {"seed": seed}
    else:
        result = evaluate_suite(controller, suite, env_config=config.env,
                                keep_traces=keep_traces)
        print(suite_report(label, result))
        where = {}
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"controller": args.controller, "checkpoint": args.checkpoint,
                    # which file exactly: the path may be replaced later (best.pt)
                    "checkpoint_sha256": controller.policy.sha256 if args.checkpoint else None,
                    **where, **result}
        path.write_text(json.dumps(document, indent=1))
        LOG.info("wrote %s", path)
    return 0


def suite_report(label: str, result: dict) -> str:
    """The tables of a suite run: per episode, the summary, by region, by profile."""
    from massage_td3_ros.evaluation.evaluate import (
        DETAIL_METRICS,
        METRICS,
        episode_table,
        markdown_table,
        region_table,
    )

    columns = METRICS + DETAIL_METRICS
    by_profile = list(result["by_profile"].items())
    return "\n\n".join([
        f"## {label} on suite {result['suite']}: per episode\n\n"
        + episode_table(result["episodes"]),
        "## summary\n\n" + markdown_table([(label, result["aggregate"])], columns),
        "## by tissue region\n\n" + region_table(result["by_region"]),
        "## by pressure profile\n\n" + markdown_table(by_profile, columns, label="profile"),
    ])
