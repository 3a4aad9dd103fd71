"""What both nodes share: QoS, a steady clock for timers, logging and the main loop
with a shutdown that no further signal can interrupt."""

from __future__ import annotations

import logging
import re
import signal
import sys
from collections.abc import Callable

import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from massage_td3_ros.config import NODE_GROUPS, ROBOT_NODE_GROUPS, Config
from massage_td3_ros.ros.parameters import declare_and_read

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
        # Taken now: the handler outlives a destroyed node (whose name can no longer be
        # read) until the next node replaces it.
        self.context, self.name, self.logger = node.context, node.get_name(), node.get_logger()

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if not self.context.ok():
            print(f"[{self.name}] {text}", file=sys.stderr)
            return
        logger = self.logger
        if record.levelno >= logging.ERROR:
            logger.error(text)
        elif record.levelno >= logging.WARNING:
            logger.warning(text)
        elif record.levelno >= logging.INFO:
            logger.info(text)
        else:
            logger.debug(text)


class PackageNode(Node):
    """A node of this package: its Python log records routed to its ROS logger, and its
    parameter groups (config.NODE_GROUPS[name]) declared with config.Config()'s values
    and read as ``self.groups``."""

    def __init__(self, name: str, *, context: Context | None = None,
                 parameter_overrides: list[Parameter] | None = None) -> None:
        super().__init__(name, context=context, parameter_overrides=parameter_overrides or [])
        route_package_logging(self)  # the session's and env's messages as this node's
        self.groups = declare_and_read(self, {**NODE_GROUPS, **ROBOT_NODE_GROUPS}[name],
                                       Config())


def route_package_logging(node: Node) -> None:
    """Send the massage_td3_ros Python loggers' records to ``node``'s ROS logger."""
    package_logger = logging.getLogger("massage_td3_ros")
    for handler in [h for h in package_logger.handlers if isinstance(h, _RosLogHandler)]:
        package_logger.removeHandler(handler)
    package_logger.addHandler(_RosLogHandler(node))
    package_logger.setLevel(logging.INFO)
    package_logger.propagate = False


def side_node(context: Context, name: str, namespace: str) -> Node:
    """A further node in a node's process (e.g. the bridge's driver I/O), in its
    namespace. Without the process's global arguments: a launch file's node name
    (``-r __node:=...``) would rename every node of the process to the same name."""
    return Node(name, context=context, namespace=namespace or None,
                use_global_arguments=False)


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
    _stop_gently_on_signals(name)  # before rclpy.init: rclpy's handlers chain to these
    try:
        rclpy.init(args=args)
    except _rclpy.RCLError as error:
        # Typically a parameter file rcl cannot parse: one line, not a traceback.
        print(f"{name}: error: {_rcl_reason(error)}", file=sys.stderr)
        return 2
    node = None
    try:
        node = make_node()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
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
    except ExternalShutdownException:
        pass
    except Exception:
        if rclpy.ok():
            raise
        # Stopped by a signal while building the node, or a callback that was running
        # when the context shut down (e.g. publishing on it): a shutdown, not a crash.
    finally:
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
        # Everything is written; interpreter teardown would put back the fatal default
        # handlers, and the signals ros2 launch keeps sending must not turn a clean
        # exit into "died from SIGINT".
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
    return 0 if node is not None else 130


def _rcl_reason(error: Exception) -> str:
    """rcl's message without the C source locations it appends (", at file.c:123")."""
    return re.sub(r",? at /\S+:\d+", "", str(error)).strip()


def _stop_gently_on_signals(name: str) -> None:
    """SIGINT and SIGTERM never raise inside the process: rclpy's own handlers (installed
    by rclpy.init, on top of these) shut the context down, the executor returns and the
    node's close() writes its files. A further signal while that runs (a second Ctrl-C,
    or the SIGINT a non-interactive ``ros2 launch`` forwards to a process group it has
    already interrupted) is logged, never obeyed, so no final checkpoint is cut in half.
    SIGKILL still ends the process."""
    received = []

    def note(signum: int, frame) -> None:
        received.append(signum)
        if len(received) > 1:
            print(f"[{name}] {signal.Signals(signum).name} while shutting down: finishing "
                  "the final checkpoint and logs first", file=sys.stderr)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, note)
