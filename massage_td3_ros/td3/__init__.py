"""ROS-free, env-free TD3: networks, replay buffer, agent, exploration, checkpoints."""
