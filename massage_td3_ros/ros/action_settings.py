"""massage/action_settings: how the sim (or the real-arm bridge) reads massage/action.

An action means nothing without them: in increment mode a unit moves the tool target
by env.action_increment_m per step, in offset mode by env.action_scale_m once, and with
an env.action_base it corrects a base controller. The in-process trainer records them
in every checkpoint from its env config; the ROS agent never sees the sim's env
section, so the sim announces them on a latched std_msgs/String (JSON, the keys of
env.episode.action_meta) and the agent records what it hears. An evaluation then
refuses an env that reads the policy's actions otherwise (evaluation.controllers).
"""

from __future__ import annotations

import json
from typing import Any

from std_msgs.msg import String

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.episode import action_meta
from massage_td3_ros.params import from_dict

TOPIC = "massage/action_settings"
KEYS = tuple(action_meta(EnvConfig()))


def settings_message(env_config: EnvConfig) -> String:
    """The latched message announcing ``env_config``'s action settings."""
    return String(data=json.dumps(action_meta(env_config), sort_keys=True))


def parse_settings(msg: String) -> dict[str, Any]:
    """The settings a message announces; ValueError naming what is wrong (not JSON, a
    key missing or unknown, a value of the wrong type or outside its range)."""
    try:
        values = json.loads(msg.data)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"expected a JSON object, got {type(values).__name__}")
    missing = sorted(set(KEYS) - set(values))
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}")
    return action_meta(from_dict(EnvConfig, values))  # types and ranges as the config's


def differences(recorded: dict[str, Any], announced: dict[str, Any]) -> str:
    """``env.key: run's X, sim's Y`` for each setting that differs ('' if none)."""
    return ", ".join(f"env.{key}: run's {recorded.get(key)!r}, sim's {announced[key]!r}"
                     for key in KEYS if recorded.get(key) != announced[key])
