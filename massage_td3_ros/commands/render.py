"""`massage-td3 render`: record one evaluation episode headless to a GIF (or mp4)."""

from __future__ import annotations

import argparse
import logging

from massage_td3_ros.config import load_config

LOG = logging.getLogger("massage_td3_ros.render")


def run(args: argparse.Namespace) -> int:
    from massage_td3_ros.evaluation.controllers import make_controller
    from massage_td3_ros.evaluation.render import record_episode

    controller_name = args.controller or ("td3" if args.checkpoint else None)
    if controller_name is None:
        raise ValueError("give --checkpoint PATH (the TD3 policy) or --controller path|pid")
    config = load_config(args.config, args.overrides)
    max_frames = None
    if args.steps is not None and args.seconds is not None:
        raise ValueError("give --steps or --seconds, not both")
    cut_steps = args.steps if args.steps is not None else (
        None if args.seconds is None else int(round(args.seconds * config.env.control_hz)))
    if cut_steps is not None:
        max_frames = max(1, cut_steps // args.frame_every + 1)
    controller = make_controller(controller_name, args.checkpoint)
    episode = None
    if args.suite is not None:
        from massage_td3_ros.evaluation.suites import suite_episodes

        cases = suite_episodes(args.suite, config.env)
        if not 0 <= args.case < len(cases):
            raise ValueError(f"--case {args.case}: suite {args.suite} has cases 0-{len(cases) - 1}")
        episode = cases[args.case]
    path, frames, result = record_episode(
        controller, args.out, seed=0 if args.seed is None else args.seed, stroke=args.stroke,
        direction=args.direction, max_frames=max_frames, frame_every=args.frame_every,
        env_config=config.env, episode=episode)
    metrics = result.metrics
    if episode is not None:
        print(f"{args.suite} case {args.case} ({episode.case}): {result.person}; "
              f"{result.profile}")
    print(f"{path}: {frames} frames; episode RMS force error "
          f"{metrics['rms_force_error_n']:.2f} N, "
          f"in band {100 * metrics['in_band_fraction']:.1f} %")
    return 0
