"""Lock-step steps/s through ROS 2 against the in-process loop, and latencies.

    .venv/bin/python benchmarks/bench_ros.py [--steps 600] [--warmup 300]

The measuring code is massage_td3_ros/ros/bench.py (shared with `massage-td3 bench`).
"""

import sys

from massage_td3_ros.ros.bench import main

if __name__ == "__main__":
    sys.exit(main())
