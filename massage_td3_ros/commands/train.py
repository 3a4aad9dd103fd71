"""`massage-td3 train`: MassageEnv and TD3 in one process, no ROS."""

from __future__ import annotations

import argparse
import logging

from massage_td3_ros.config import load_config

LOG = logging.getLogger("massage_td3_ros.train")


def run(args: argparse.Namespace) -> int:
    from massage_td3_ros.training.trainer import train

    config = load_config(args.config, args.overrides)
    if args.device is not None:
        config = config.replace(td3={"device": args.device})
    run_dir = train(config, steps=args.steps, seed=args.seed, out=args.out, env_id=args.env)
    LOG.info("run folder: %s", run_dir)
    return 0
