"""Install rules for massage_td3_ros (ament_python)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "massage_td3_ros"

# ROS 2 itself (rclpy, messages) is deliberately absent: a distro provides it via
# package.xml, a machine without one via requirements-ros.txt.
INSTALL_REQUIRES = [
    "numpy>=1.24",
    "pyyaml>=6",
    "gymnasium>=1.0",
    "pybullet>=3.2.6",
    "torch>=2.1",
    "matplotlib>=3.7",
]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/rviz", glob("rviz/*.rviz")),
    ],
    install_requires=INSTALL_REQUIRES,
    extras_require={
        "logging": ["tensorboard>=2.14"],
        "video": ["imageio>=2.31", "pillow>=9"],
        "all": ["tensorboard>=2.14", "imageio>=2.31", "pillow>=9"],
    },
    zip_safe=True,
    maintainer="massage_td3_ros developers",
    maintainer_email="maintainers@massage-td3-ros.org",
    description=("Online TD3 learning of pressure-controlled back massage with a robot "
                 "arm, as ROS 2 nodes over a PyBullet scene."),
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "massage_sim = massage_td3_ros.ros.sim_node:main",
            "td3_agent = massage_td3_ros.ros.agent_node:main",
            "arm_sim = massage_td3_ros.ros.arm_sim_node:main",
            "massage_bridge = massage_td3_ros.ros.bridge_node:main",
            "massage-td3 = massage_td3_ros.cli:main",
        ],
    },
)
