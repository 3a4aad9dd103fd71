"""massage_td3_ros: online TD3 learning of pressure-controlled back massage.

Importing the package registers ``MassageEnv-v0`` with gymnasium; the env module
itself (and PyBullet) is imported only when the env is made.
"""

import gymnasium

ENV_ID = "MassageEnv-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="massage_td3_ros.env.massage_env:MassageEnv")
