"""Exactly what a real robot runs, with a simulated driver: arm_sim (the PyBullet arm,
person and table behind a ros2_control-style driver's topics) + massage_bridge +
td3_agent.

    ros2 launch massage_td3_ros hardware_sim.launch.py mode:=eval checkpoint:=.../final.pt
    ros2 launch massage_td3_ros hardware_sim.launch.py mode:=train total_steps:=5000

`massage-td3 launch --hardware-sim` does the same without the ROS 2 CLI.
"""

from massage_td3_ros.launch_support import robot_launch_description


def generate_launch_description():
    return robot_launch_description(with_driver=True)
