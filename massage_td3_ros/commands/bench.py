"""`massage-td3 bench`: speed figures in one table, from one run."""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from massage_td3_ros.evaluation.bench import markdown_table, run_bench

    bench = run_bench(quick=args.quick)
    if not args.no_ros:
        # The ROS rows start nodes: keep them on loopback, on a domain of their own.
        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 101)))
        from massage_td3_ros.ros.bench import bench_rows

        bench["rows"] += (bench_rows(steps=40, warmup=10) if args.quick else bench_rows())
    print(markdown_table(bench))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(bench, indent=1))
    return 0
