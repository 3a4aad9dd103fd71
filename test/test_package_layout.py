"""The package as ROS tooling and users install it: package.xml parses, every source folder
is a regular package, colcon installs the layout that `ros2 run` and launch_ros rely on and
its executables run from that install, and a wheel carries and imports every module.

The install checks run the installed copy with PYTHONPATH pointing at it and the checkout
out of reach (cwd elsewhere, `python -P`); scripts/setup.sh installs the checkout in
editable *compat* mode (a plain path entry after PYTHONPATH), so a module missing from the
install fails to import instead of being supplied from the source tree. Each check also
asserts that modules load from the install, which catches a source-tree fallback however
it arises.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "massage_td3_ros"
PYTHON_DIR = f"python{sys.version_info.major}.{sys.version_info.minor}"
AGENT_STEPS = 150


def test_package_xml_parses_with_catkin_pkg():
    from catkin_pkg.package import parse_package

    package = parse_package(str(ROOT / "package.xml"))
    package.validate()  # raises on e.g. an implausible maintainer e-mail
    assert package.name == PACKAGE
    assert package.package_format == 3
    assert package.get_build_type() == "ament_python"
    run_deps = {d.name for d in package.exec_depends}
    assert {"rclpy", "std_msgs", "sensor_msgs", "geometry_msgs", "std_srvs",
            "visualization_msgs", "launch", "launch_ros"} <= run_deps


def _copy_sources(destination: Path) -> None:
    """The checkout's files (tracked and untracked, not ignored), as a user's workspace has them."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():
            target = destination / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _source_files(tree: Path) -> list[str]:
    """The package's .py files under ``tree``, relative to it (``massage_td3_ros/...``)."""
    return sorted(p.relative_to(tree).as_posix() for p in (tree / PACKAGE).rglob("*.py")
                  if "__pycache__" not in p.parts)


def _source_modules(tree: Path) -> list[str]:
    """Every module and package an install of ``tree`` must provide, by dotted name."""
    modules = set()
    for name in _source_files(tree):
        parts = name.removesuffix(".py").split("/")
        if parts[-1] == "__init__":
            parts.pop()
        modules.add(".".join(parts))
        for depth in range(1, len(parts)):  # the folders above it are packages too
            modules.add(".".join(parts[:depth]))
    return sorted(modules)


def _folders_without_init(tree: Path) -> list[str]:
    folders = {p.parent for p in (tree / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts}
    return sorted(f.relative_to(tree).as_posix() for f in folders
                  if not (f / "__init__.py").is_file())


def test_every_source_folder_is_a_regular_package():
    missing = _folders_without_init(ROOT)
    assert not missing, (
        f"{missing} hold modules but no __init__.py: find_packages() leaves such folders "
        "out of every non-editable install (colcon build, wheel)")


# Run in a child process whose PYTHONPATH names an install: imports the package
# (argv[1]), every module the source tree has (argv[2], JSON) and every one pkgutil finds
# in the installed package, and reports where each came from. Importing must not start
# ROS (checked: rclpy.ok()).
_IMPORT_EVERY_MODULE = r"""
import importlib, json, pkgutil, sys, traceback
top, expected = sys.argv[1], json.loads(sys.argv[2])
report = {"files": {}, "errors": {}, "walked": []}
def note_error(name):
    report["errors"][name] = traceback.format_exc(limit=-1).strip().splitlines()[-1]
try:
    package = importlib.import_module(top)
    report["walked"] = [m.name for m in pkgutil.walk_packages(
        package.__path__, top + ".", onerror=note_error)]
except Exception:
    note_error(top)
for name in sorted(set(expected) | set(report["walked"])):
    try:
        report["files"][name] = importlib.import_module(name).__file__
    except Exception:
        note_error(name)
import rclpy
report["ros_started"] = rclpy.ok()
print("REPORT " + json.dumps(report))
"""


def _check_imports_from(site: Path, expected: list[str], env: dict, cwd: Path) -> None:
    """Every ``expected`` module imports in a fresh interpreter with ``env`` (whose
    PYTHONPATH puts ``site`` first) from under ``site``; failures name the modules."""
    result = subprocess.run([sys.executable, "-P", "-c", _IMPORT_EVERY_MODULE, PACKAGE,
                             json.dumps(expected)], env=env, cwd=cwd, capture_output=True,
                            text=True, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout + result.stderr
    report = json.loads(lines[-1].removeprefix("REPORT "))
    assert not report["errors"], (
        f"modules of the install at {site} fail to import: {report['errors']}")
    namespaces = sorted(name for name, file in report["files"].items() if file is None)
    assert not namespaces, (
        f"{namespaces} import as namespace packages (no __init__.py) from the install at {site}")
    outside = {name: file for name, file in report["files"].items()
               if not Path(file).resolve().is_relative_to(site.resolve())}
    assert not outside, f"modules loaded from outside the install at {site}: {outside}"
    not_walked = sorted(set(expected) - set(report["walked"]) - {PACKAGE})
    assert not not_walked, f"pkgutil does not find {not_walked} in the install at {site}"
    assert not report["ros_started"], "importing the package initialised rclpy"


def _sourced_environment(setup_script: Path, cwd: Path) -> dict:
    """os.environ as ``source <setup_script>`` in bash leaves it, with the venv's ROS
    wheels (their ament index lies under sys.prefix) as the underlay."""
    base = dict(os.environ)
    underlay = [p for p in base.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    if sys.prefix not in underlay:
        underlay.append(sys.prefix)
    base["AMENT_PREFIX_PATH"] = os.pathsep.join(underlay)
    result = subprocess.run(["bash", "-c", 'source "$1" && env -0', "bash", str(setup_script)],
                            env=base, cwd=cwd, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return dict(item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item)


@pytest.fixture(scope="module")
def colcon_workspace(tmp_path_factory):
    """A workspace with a copy of the checkout in src/, built by a plain `colcon build`
    (not --symlink-install): what a user gets."""
    workspace = tmp_path_factory.mktemp("colcon_ws")
    colcon = shutil.which("colcon") or str(Path(sys.executable).with_name("colcon"))
    if not Path(colcon).exists():
        pytest.fail("colcon is not installed (scripts/setup.sh installs it)")
    _copy_sources(workspace / "src" / PACKAGE)
    result = subprocess.run(
        [colcon, "build", "--base-paths", "src", "--event-handlers", "console_direct-"],
        cwd=workspace, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return workspace


@pytest.fixture(scope="module")
def installed_env(colcon_workspace):
    """The environment `source install/setup.bash` gives, checked to put the install first."""
    prefix = colcon_workspace / "install" / PACKAGE
    env = _sourced_environment(colcon_workspace / "install" / "setup.bash", colcon_workspace)
    site = prefix / "lib" / PYTHON_DIR / "site-packages"
    assert env.get("PYTHONPATH", "").split(os.pathsep)[0] == str(site), env.get("PYTHONPATH")
    ament = env.get("AMENT_PREFIX_PATH", "").split(os.pathsep)
    assert ament[0] == str(prefix) and sys.prefix in ament, ament
    # conftest.py: loopback only, this run's domain (the probe in this process uses them too).
    assert env.get("ROS_AUTOMATIC_DISCOVERY_RANGE") == "LOCALHOST"
    assert env.get("ROS_DOMAIN_ID") == os.environ["ROS_DOMAIN_ID"]
    env["ROS_LOG_DIR"] = str(colcon_workspace / "ros_log")  # node log files stay in tmp
    return env


def test_colcon_build_installs_ros_layout(colcon_workspace):
    prefix = colcon_workspace / "install" / PACKAGE
    expected = [
        f"share/ament_index/resource_index/packages/{PACKAGE}",
        f"share/{PACKAGE}/package.xml",
        f"share/{PACKAGE}/launch/train.launch.py",
        f"share/{PACKAGE}/launch/eval.launch.py",
        f"share/{PACKAGE}/config/train.yaml",
        f"lib/{PACKAGE}/massage_sim",
        f"lib/{PACKAGE}/td3_agent",
        f"lib/{PACKAGE}/massage-td3",
    ]
    missing = [p for p in expected if not (prefix / p).is_file()]
    assert not missing, f"colcon install is missing {missing}"
    # colcon wrote ament hooks, i.e. it recognised an ament_python package, not plain Python.
    assert (prefix / "share" / PACKAGE / "package.dsv").is_file()


def test_colcon_install_imports_every_module_from_the_install(colcon_workspace, installed_env):
    site = colcon_workspace / "install" / PACKAGE / "lib" / PYTHON_DIR / "site-packages"
    # The node module first, on its own: the import the executables make.
    result = subprocess.run(
        [sys.executable, "-P", "-c",
         f"import {PACKAGE}.ros.sim_node as m; print(m.__file__)"],
        env=installed_env, cwd=colcon_workspace, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (
        f"{PACKAGE}.ros.sim_node does not import from the colcon install:\n{result.stderr}")
    loaded = Path(result.stdout.strip().splitlines()[-1]).resolve()
    assert loaded.is_relative_to(site.resolve()), (
        f"{PACKAGE}.ros.sim_node loaded from {loaded}, not from the install at {site}")
    _check_imports_from(site, _source_modules(colcon_workspace / "src" / PACKAGE),
                        installed_env, colcon_workspace)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def test_colcon_installed_nodes_exchange_states_and_actions(colcon_workspace, installed_env,
                                                            ros_context, tmp_path):
    """massage_sim and td3_agent, started from the install as `ros2 run` would, with the
    installed parameter file: the agent trains its small budget over DDS and saves; a
    probe in this process sees both streams; the sim stops cleanly on SIGINT."""
    from geometry_msgs.msg import Vector3Stamped
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Float64MultiArray

    prefix = colcon_workspace / "install" / PACKAGE
    params = ["--ros-args", "--params-file", str(prefix / "share" / PACKAGE / "config" /
                                                 "train.yaml")]
    run_folder = tmp_path / "run"
    agent_overrides = [
        f"train.total_steps:={AGENT_STEPS}", "train.warmup_steps:=100",
        f"agent.run_folder:={run_folder}", "train.log_tensorboard:=false",
        "td3.actor_hidden:=[32,32]", "td3.critic_hidden:=[32,32]", "td3.batch_size:=32",
        "train.buffer_size:=10000", "train.eval_every_episodes:=0",
        "train.plot_every_episodes:=0"]

    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    counts = {"state": 0, "action": 0}
    probe = Node("layout_test_probe", context=ros_context)

    def count(key: str):
        def callback(_message) -> None:
            counts[key] += 1
        return callback

    states = probe.create_subscription(Float64MultiArray, "/massage/state", count("state"), qos)
    actions = probe.create_subscription(Vector3Stamped, "/massage/action", count("action"), qos)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(probe)

    logs = {name: (tmp_path / f"{name}.out", tmp_path / f"{name}.err")
            for name in ("massage_sim", "td3_agent")}

    def start(name: str, extra: list[str]) -> subprocess.Popen:
        out, err = logs[name]
        with out.open("w") as stdout, err.open("w") as stderr:
            # Own session: a Ctrl-C on the test's terminal does not reach it; the
            # SIGINT below is the only one it gets.
            return subprocess.Popen([str(prefix / "lib" / PACKAGE / name), *params, *extra],
                                    env=installed_env, cwd=tmp_path, stdout=stdout,
                                    stderr=stderr, start_new_session=True)

    def output(name: str) -> str:
        return "".join(f"--- {path.name}:\n{path.read_text(errors='replace')}\n"
                       for path in logs[name])

    def spin_until(condition, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        return condition()

    sim = agent = None
    try:
        # The agent first, and the sim only once the probe is matched to the agent's
        # action publisher: the lock-step run takes well under a second, and a probe
        # still in discovery when it starts would see few or no actions.
        agent = start("td3_agent", [arg for item in agent_overrides for arg in ("-p", item)])
        assert spin_until(lambda: actions.get_publisher_count() > 0 or agent.poll() is not None,
                          60.0) and agent.poll() is None, (
            f"td3_agent did not come up (exit code {agent.poll()}):\n{output('td3_agent')}")
        sim = start("massage_sim", [])
        assert spin_until(lambda: agent.poll() is not None or sim.poll() is not None, 75.0), (
            f"td3_agent still running after 75 s:\n{output('td3_agent')}")
        assert sim.poll() is None, f"massage_sim exited early:\n{output('massage_sim')}"
        assert agent.returncode == 0, (
            f"td3_agent exited {agent.returncode}:\n{output('td3_agent')}")
        # The sim re-sends its unanswered state every 0.25 s, so a probe that matched the
        # sim late still hears it.
        spin_until(lambda: states.get_publisher_count() > 0 and counts["state"] > 0, 10.0)
        spin_until(lambda: False, 0.3)  # the last messages in flight

        sim.send_signal(signal.SIGINT)
        try:
            sim.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"massage_sim ignored SIGINT for 20 s:\n{output('massage_sim')}")
        assert sim.returncode == 0, (
            f"massage_sim exited {sim.returncode} on SIGINT:\n{output('massage_sim')}")
    finally:
        for process in (agent, sim):
            if process is not None:
                _stop(process)
        executor.remove_node(probe)
        probe.destroy_node()
        executor.shutdown()

    agent_err = logs["td3_agent"][1].read_text(errors="replace")
    assert f"stopped at env step {AGENT_STEPS}" in agent_err, output("td3_agent")
    assert "bad states 0" in agent_err, output("td3_agent")
    assert (run_folder / "checkpoints" / "final.pt").is_file(), output("td3_agent")
    assert counts["state"] > 0 and counts["action"] > 0, (
        f"probe saw {counts['state']} /massage/state and {counts['action']} /massage/action "
        "messages")


def test_wheel_carries_and_imports_every_module(tmp_path):
    source = tmp_path / "src"
    _copy_sources(source)  # a copy: the build writes build/ and *.egg-info beside setup.py
    dist = tmp_path / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--quiet", "-w", str(dist), str(source)],
        cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(dist.glob(f"{PACKAGE}-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as wheel:
        carried = set(wheel.namelist())
    missing = [name for name in _source_files(source) if name not in carried]
    assert not missing, f"the wheel {wheels[0].name} lacks {missing}"

    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--quiet", "--target", str(site), str(wheels[0])],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    env = dict(os.environ, PYTHONPATH=str(site))
    _check_imports_from(site, _source_modules(source), env, tmp_path)
