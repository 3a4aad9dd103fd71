"""The package as ROS tooling sees it: package.xml parses, colcon installs the layout
that `ros2 run` and launch_ros rely on."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "massage_td3_ros"


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


def test_colcon_build_installs_ros_layout(tmp_path):
    colcon = shutil.which("colcon") or str(Path(sys.executable).with_name("colcon"))
    if not Path(colcon).exists():
        pytest.fail("colcon is not installed (scripts/setup.sh installs it)")
    _copy_sources(tmp_path / "src" / PACKAGE)
    result = subprocess.run(
        [colcon, "build", "--base-paths", "src", "--event-handlers", "console_direct-"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

    prefix = tmp_path / "install" / PACKAGE
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
