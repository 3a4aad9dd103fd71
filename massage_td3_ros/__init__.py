"""massage_td3_ros: online TD3 learning of pressure-controlled back massage.

Importing the package registers ``MassageEnv-v0`` with gymnasium; the env module
itself (and PyBullet) is imported only when the env is made.

The registration declares the default config's time limit (``max_episode_steps`` =
``EnvConfig().max_episode_steps``, 600 steps), so ``gymnasium.make`` wraps the env in
a ``TimeLimit`` that ends the episode on the same step as the env's own truncation.
A ``config`` (or override) with another ``episode_time_s`` or ``control_hz`` changes
the env's length but not the registered limit: pass that length to ``gymnasium.make``
as well, e.g. ``gymnasium.make("MassageEnv-v0", config=cfg,
max_episode_steps=cfg.max_episode_steps)``.
"""

import gymnasium

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.episode import MASSAGE_ENV_ID

if MASSAGE_ENV_ID not in gymnasium.registry:
    gymnasium.register(id=MASSAGE_ENV_ID,
                       entry_point="massage_td3_ros.env.massage_env:MassageEnv",
                       max_episode_steps=EnvConfig().max_episode_steps)
