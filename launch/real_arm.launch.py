"""Massage with a real arm: massage_bridge and td3_agent against the robot's driver.

    ros2 launch massage_td3_ros real_arm.launch.py robot_config:=my_arm.yaml \
        mode:=eval checkpoint:=runs/.../final.pt            # always first
    ros2 launch massage_td3_ros real_arm.launch.py robot_config:=my_arm.yaml mode:=train
    ros2 launch massage_td3_ros real_arm.launch.py robot_config:=my_arm.yaml \
        stroke_source:=taught mode:=eval checkpoint:=...    # a taught stroke (below)

Start the robot's driver first, with a position controller (forward position or joint
trajectory) and a force/torque sensor broadcaster. robot_config is the bridge's
parameter file: topics, controller, sensor frame, tool, force limit (README, "Swap the
simulation for a real arm"). Time is the wall clock; the bridge paces the control loop.
With stroke_source:=taught the bridge waits for the stroke as a nav_msgs/Path on
massage/taught_stroke (bridge.taught_stroke_topic; docs/ros.md, massage_bridge).
"""

from massage_td3_ros.launch_support import robot_launch_description


def generate_launch_description():
    return robot_launch_description(with_driver=False)
