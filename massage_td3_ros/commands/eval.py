"""`massage-td3 eval`: a controller (TD3 checkpoint, path or pid) on fixed episodes."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from massage_td3_ros.config import load_config

LOG = logging.getLogger("massage_td3_ros.eval")


def run(args: argparse.Namespace) -> int:
    from massage_td3_ros.evaluation.controllers import make_controller
    from massage_td3_ros.evaluation.evaluate import evaluate, markdown_table

    if args.controller != "td3" and args.checkpoint is not None:
        raise ValueError(f"--checkpoint is only for --controller td3, not {args.controller}")
    config = load_config(args.config, args.overrides)
    controller = make_controller(args.controller, args.checkpoint)
    seed = 0 if args.seed is None else args.seed
    result = evaluate(controller, episodes=args.episodes, seed=seed, env_config=config.env,
                      keep_traces=args.json is not None)
    label = args.controller if args.checkpoint is None else f"td3 ({Path(args.checkpoint).name})"
    print(markdown_table([(label, result["aggregate"])]))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"controller": args.controller, "checkpoint": args.checkpoint,
                    "seed": seed, **result}
        path.write_text(json.dumps(document, indent=1))
        LOG.info("wrote %s", path)
    return 0
