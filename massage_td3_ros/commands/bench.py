"""`massage-td3 bench`: speed figures in one table (the non-ROS rows; see report)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from massage_td3_ros.evaluation.bench import markdown_table, run_bench

    bench = run_bench(quick=args.quick)
    print(markdown_table(bench))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(bench, indent=1))
    return 0
