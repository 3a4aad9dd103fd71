"""Test-wide settings: keep every ROS node of this test run on loopback, alone.

Set before any test imports rclpy, so every node started by a test (in this process
or in a child process, which inherits the environment) uses them.
"""

import os

import pytest

from massage_td3_ros.ros.launcher import ros_environment  # no rclpy: a plain function

# Loopback, and a domain id unique per run; a CI-provided id wins so parallel jobs can
# be pinned.
os.environ.update(ros_environment())
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


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny networks: torch's threads only add contention on a shared machine. Modules
    use it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
