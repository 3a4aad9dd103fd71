"""Evaluation of controllers on MassageEnv: baselines, the learned policy, metrics and
rendering (ROS-free). Speed benchmarks live in the checkout's benchmarks/ folder."""
