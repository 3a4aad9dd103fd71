"""ROS-free PyBullet massage environment.

The light modules (config, observation, reward, metrics) import without PyBullet;
``MassageEnv`` (and PyBullet with it) is loaded only when first accessed.
"""

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.metrics import STEP_INFO_KEYS, EpisodeMetrics
from massage_td3_ros.env.observation import (
    OBS_DIM,
    OBS_LAYOUT,
    build_observation,
    observation_labels,
)
from massage_td3_ros.env.reward import RewardWeights, compute_reward

__all__ = ["EnvConfig", "EpisodeMetrics", "MassageEnv", "OBS_DIM", "OBS_LAYOUT",
           "RewardWeights", "STEP_INFO_KEYS", "build_observation", "compute_reward",
           "observation_labels"]


def __getattr__(name: str):
    # Lazy: importing the package must not import PyBullet.
    if name == "MassageEnv":
        from massage_td3_ros.env.massage_env import MassageEnv
        return MassageEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
