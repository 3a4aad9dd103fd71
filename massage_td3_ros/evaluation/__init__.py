"""Evaluation of controllers on MassageEnv: baselines, the learned policy, metrics,
rendering and speed benchmarks (ROS-free)."""
