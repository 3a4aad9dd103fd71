"""Speed figures in one table, from one run: env steps/s, the reset to a new person, TD3
gradient updates/s, the ROS round trip and the lock-step rate through ROS against
in-process.

    .venv/bin/python benchmarks/bench.py [--quick] [--no-ros] [--json FILE]

Each row is measured by its own script here (bench_env.py, bench_updates.py,
bench_ros.py, which print more detail). The ROS rows start the two nodes, on loopback
with a run-unique ROS_DOMAIN_ID. ``--quick``: tiny counts, a smoke test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import bench_env
import bench_updates


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


def run_bench(quick: bool = False, ros: bool = True) -> dict:
    """Every row; ``quick`` with each script's QUICK counts, ``ros`` for the ROS rows."""
    env = bench_env.env_steps_per_second(**(bench_env.QUICK if quick else {}))
    reset = bench_env.reset_ms(**({"resets": 2} if quick else {}))
    updates = bench_updates.updates_per_second(**(bench_updates.QUICK if quick else {}))
    rows = [{"name": "env steps/s (in-process, DIRECT)", "value": env["steps_per_s"],
             "detail": f"{env['steps']:.0f} steps, {env['physics_substeps']:.0f} physics "
                       f"steps each, {env['resets']:.0f} resets"},
            {"name": "env reset to a new person [ms]", "value": reset["ms"],
             "detail": f"surface map rays on {reset['threads']:.0f} threads; on one: "
                       f"{reset['ms_one_thread']:.1f} ms (median of {reset['resets']:.0f})"},
            {"name": "TD3 gradient updates/s", "value": updates["updates_per_s"],
             "detail": f"400-300 nets, batch {updates['batch_size']:.0f}, "
                       f"{updates['torch_threads']:.0f} torch thread(s)"}]
    if ros:
        import bench_ros  # puts DDS on loopback with a run-unique domain id

        rows += bench_ros.bench_rows(**(bench_ros.QUICK if quick else {}))
    return {"machine": machine_description(), "quick": quick, "rows": rows}


def markdown_table(bench: dict) -> str:
    lines = ["| measure | value | detail |", "|---|---:|---|"]
    lines += [f"| {row['name']} | {row['value']:.1f} | {row['detail']} |"
              for row in bench["rows"]]
    lines.append(f"\nmachine: {bench['machine']}" + (" (quick mode)" if bench["quick"] else ""))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts (a smoke test)")
    parser.add_argument("--no-ros", action="store_true",
                        help="skip the rows that start ROS 2 nodes")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    bench = run_bench(quick=args.quick, ros=not args.no_ros)
    print(markdown_table(bench))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(bench, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
