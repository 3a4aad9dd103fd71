"""Thin rclpy adapters: the massage_sim and td3_agent nodes and their launcher.

A regular package (with this file), so every install (colcon, wheel, pip) carries it.
"""
