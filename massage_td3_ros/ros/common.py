"""What both nodes share: QoS, a steady clock for timers, logging and the main loop
with a shutdown that no further signal can interrupt."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable

import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import uninstall_signal_handlers

# Reliable, shallow: state, action and reward must not be lost, and a deep queue would
# only hide a stalled peer. (Visualisation streams use sensor-data QoS instead.)
RELIABLE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Reward, returns and losses: read by monitors (`ros2 topic echo`, plotters) that may lag
# behind a fast lock-step loop; a deeper history lets them catch up without losing samples.
MONITOR_QOS = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
# Published once, kept for late joiners (RViz, robot_state_publisher): /robot_description.
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)


def steady_clock() -> Clock:
    """Wall time that never jumps and never follows /clock: for the nodes' own timers
    (a use_sim_time node's ROS clock stands still while nobody publishes /clock)."""
    return Clock(clock_type=ClockType.STEADY_TIME)


class _RosLogHandler(logging.Handler):
    """The package's Python log records (learner, checkpoints) through the node's logger."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node = node

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if not self.node.context.ok():
            print(f"[{self.node.get_name()}] {text}", file=sys.stderr)
            return
        logger = self.node.get_logger()
        if record.levelno >= logging.ERROR:
            logger.error(text)
        elif record.levelno >= logging.WARNING:
            logger.warning(text)
        elif record.levelno >= logging.INFO:
            logger.info(text)
        else:
            logger.debug(text)


def route_package_logging(node: Node) -> None:
    """Send the massage_td3_ros Python loggers' records to ``node``'s ROS logger."""
    package_logger = logging.getLogger("massage_td3_ros")
    for handler in [h for h in package_logger.handlers if isinstance(h, _RosLogHandler)]:
        package_logger.removeHandler(handler)
    package_logger.addHandler(_RosLogHandler(node))
    package_logger.setLevel(logging.INFO)
    package_logger.propagate = False


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
            _defer_signals(node.get_name())
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _defer_signals(name: str) -> None:
    """From here on SIGINT and SIGTERM are logged, not obeyed: a second Ctrl-C, or the
    SIGINT that a non-interactive ``ros2 launch`` forwards to a process group already
    interrupted, must not cut the final checkpoint in half. (SIGKILL still ends it.)"""
    uninstall_signal_handlers()

    def note(signum: int, frame) -> None:
        print(f"[{name}] {signal.Signals(signum).name} while shutting down: finishing the "
              "final checkpoint and logs first", file=sys.stderr)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, note)
