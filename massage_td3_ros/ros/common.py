"""What both nodes share: the QoS of the control loop and shutdown-time logging."""

from __future__ import annotations

import sys

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
