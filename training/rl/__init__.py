"""Reinforcement learning, DeepRacer style: sandboxed reward functions, PPO training, logs, export."""
