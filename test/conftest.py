"""Test-wide settings: keep every ROS node of this test run on loopback, alone.

Set before any test imports rclpy, so every node started by a test (in this process
or in a child process, which inherits the environment) uses them.
"""

import os
import random

import pytest

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
# Unique per run (0-101 are valid); a CI-provided id wins so parallel jobs can be pinned.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 101)))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def ros_context():
    """A fresh rclpy context for one test, shut down afterwards."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        context.try_shutdown()
