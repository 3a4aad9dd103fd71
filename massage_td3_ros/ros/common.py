"""What both nodes share: the QoS of the control loop and shutdown-time logging."""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

# Reliable, shallow: state, action and reward must not be lost, and a deep queue would
# only hide a stalled peer. (Visualisation streams use sensor-data QoS instead.)
RELIABLE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Reward, returns and losses: read by monitors (`ros2 topic echo`, plotters) that may lag
# behind a fast lock-step loop; a deeper history lets them catch up without losing samples.
MONITOR_QOS = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)


def final_log(node: Node, text: str) -> None:
    """Log at shutdown: to /rosout while the context lives, else to stderr (after Ctrl-C
    rclpy has already shut the context down)."""
    if node.context.ok():
        node.get_logger().info(text)
    else:
        print(f"[{node.get_name()}] {text}", file=sys.stderr)


def run_node(make_node: Callable[[], Node], name: str, args: list[str] | None = None) -> int:
    """A node executable's main: init, build, spin until shutdown (or the node's
    ``finished`` future), then ``close()`` and shut down cleanly, whatever happened.

    Returns 0; 1 when the node ended its run with an error; 2 with a one-line message
    when the node cannot start (a bad parameter or checkpoint: ValueError); 130 when
    interrupted before it was built.
    """
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        # From here on an interrupt always reaches close() (the agent saves a checkpoint).
        node.get_logger().info("running")
        finished = getattr(node, "finished", None)
        if finished is not None:
            executor.spin_until_future_complete(finished)
            if finished.done() and finished.exception() is not None:
                return 1  # the node logged why (e.g. a failed background update)
        else:
            executor.spin()
    except ValueError as error:
        if node is not None:
            raise
        print(f"{name}: error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        if node is None:
            return 130
    finally:
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
