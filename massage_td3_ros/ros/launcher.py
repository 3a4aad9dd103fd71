"""`massage-td3 launch`: run massage_sim and td3_agent without the ros2 command-line tools.

Each node runs in its own child process, started exactly as launch_ros would start it
(``python -m massage_td3_ros.ros.<node> --ros-args --params-file <yaml> -p name:=value``),
so both paths read the same parameter file with the same ROS machinery. The launcher
keeps DDS on loopback, picks a run-unique ROS_DOMAIN_ID unless one is set, forwards
Ctrl-C / SIGTERM to the nodes and returns when the agent has finished its budget.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from massage_td3_ros.config import default_config_path, load_config
from massage_td3_ros.launch_arguments import (
    AGENT,
    ARGUMENTS,
    SIM,
    node_overrides,
    ros_parameter_arguments,
)

LOG = logging.getLogger(__name__)
SHUTDOWN_GRACE_S = 20.0  # the agent may be writing its final checkpoint
# Paths given on this machine's command line, made absolute for the nodes.
PATH_ARGUMENTS = {"out", "checkpoint", "run_dir"}


def ros_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with DDS kept on this machine:
    loopback discovery (always: every node of a run is local) and a run-unique domain
    id (1-101) unless one is set. The one place this is decided: the launcher, the
    test suite (conftest.py) and the ROS benchmark all take it from here."""
    env = dict(os.environ if base is None else base)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 101)))
    return env


def node_command(module: str, params_file: Path, overrides: dict[str, Any],
                 namespace: str = "", use_sim_time: bool = False) -> list[str]:
    """The command line of one node process, as launch_ros builds it."""
    command = [sys.executable, "-m", f"massage_td3_ros.ros.{module}", "--ros-args",
               "--params-file", str(params_file)]
    if namespace:
        command += ["-r", f"__ns:={namespace_path(namespace)}"]
    if use_sim_time:
        # The sim's clock is published relative to the namespace, like every topic.
        command += ["-p", "use_sim_time:=true", "-r", "/clock:=clock"]
    return command + ros_parameter_arguments(overrides)


def namespace_path(namespace: str) -> str:
    """'bed1' or '/bed1' -> '/bed1'."""
    return "/" + namespace.strip("/")


def overrides_from_args(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """(sim overrides, agent overrides) for the launch arguments the user gave."""
    values = {}
    for argument in ARGUMENTS:
        value = getattr(args, argument.name, None)
        if value is not None:
            values[argument.name] = (str(Path(value).resolve())
                                     if argument.name in PATH_ARGUMENTS else value)
    if values.get("mode") == "eval":
        # As eval.launch.py: the fixed evaluation episodes unless asked otherwise.
        values.setdefault("episodes", "evaluation")
    overrides = node_overrides(values)
    return overrides[SIM], overrides[AGENT]


def _stop(process: subprocess.Popen, grace_s: float) -> int:
    """SIGINT (as Ctrl-C would), then SIGTERM, then SIGKILL; the exit code."""
    for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            break
        process.send_signal(sig)
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            LOG.warning("pid %d ignored %s", process.pid, sig.name)
    return process.wait()


def run(args: argparse.Namespace) -> int:
    """Start both nodes, wait for the agent to finish, stop the sim; the agent's exit code."""
    params_file = Path(args.config).resolve() if args.config else default_config_path()
    load_config(params_file)  # fail here, with the file's name, on a bad parameter
    sim_overrides, agent_overrides = overrides_from_args(args)
    env = ros_environment()
    env.setdefault("PYTHONUNBUFFERED", "1")  # the nodes' output as it happens
    LOG.info("ROS_DOMAIN_ID=%s, discovery %s, parameters %s", env["ROS_DOMAIN_ID"],
             env["ROS_AUTOMATIC_DISCOVERY_RANGE"], params_file)
    # Explicit handlers, also when started with SIGINT ignored (`cmd &` in a script):
    # the children then start with the default disposition (handlers reset on exec).
    previous = {sig: signal.signal(sig, _raise_keyboard_interrupt)
                for sig in (signal.SIGINT, signal.SIGTERM)}
    # Own process groups: a terminal's Ctrl-C reaches only us, and we forward exactly one.
    namespace = args.namespace or ""
    hardware = getattr(args, "hardware_sim", False)
    others = []  # the processes that serve the agent: the sim, or driver + bridge
    if hardware:
        # What a real robot runs, with arm_sim as its driver; time is the wall clock.
        robot_params = Path(args.robot_config).resolve() if getattr(
            args, "robot_config", None) else default_config_path().with_name(
            "hardware_sim.yaml")
        others.append(subprocess.Popen(node_command("arm_sim_node", robot_params, {},
                                                    namespace), env=env,
                                       start_new_session=True))
        others.append(subprocess.Popen(node_command("bridge_node", robot_params,
                                                    sim_overrides, namespace),
                                       env=env, start_new_session=True))
    else:
        others.append(subprocess.Popen(node_command("sim_node", params_file, sim_overrides,
                                                    namespace),
                                       env=env, start_new_session=True))
    agent = subprocess.Popen(node_command("agent_node", params_file, agent_overrides,
                                          namespace, use_sim_time=not hardware),
                             env=env, start_new_session=True)
    try:
        while agent.poll() is None and all(p.poll() is None for p in others):
            time.sleep(0.2)
        if agent.poll() is None:
            failed = next(p for p in others if p.poll() is not None)
            LOG.error("%s exited with code %s; stopping the agent", failed.args[2],
                      failed.returncode)
            _stop(agent, SHUTDOWN_GRACE_S)
            for process in others:
                _stop(process, 5.0)
            return failed.returncode or 1
        if agent.returncode != 0:
            LOG.error("td3_agent failed with exit code %s; stopping the sim", agent.returncode)
        for process in reversed(others):  # the bridge before its driver
            _stop(process, 5.0)
        return agent.returncode
    except KeyboardInterrupt:
        LOG.info("interrupted: stopping the nodes (the agent saves a checkpoint)")
        _stop(agent, SHUTDOWN_GRACE_S)
        for process in reversed(others):
            _stop(process, 5.0)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for process in (agent, *others):
            if process.poll() is None:
                process.kill()
                process.wait()


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


