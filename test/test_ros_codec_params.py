"""/massage/state codec round trip and ROS parameter declaration (real rclpy nodes)."""

import dataclasses

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter

from massage_td3_ros.config import NODE_GROUPS, SimNodeConfig
from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.metrics import STEP_INFO_KEYS
from massage_td3_ros.env.observation import OBS_BOUNDS, OBS_DIM, OBS_LAYOUT
from massage_td3_ros.ros.parameters import declare_and_read
from massage_td3_ros.ros.state_message import BadStateError, StateCodec, reward_bounds


def _sample(codec: StateCodec, rng: np.random.Generator) -> dict:
    """A valid state: every value inside its segment's range."""
    obs = np.concatenate([rng.uniform(OBS_BOUNDS[name][0], OBS_BOUNDS[name][1], size)
                          for name, size in OBS_LAYOUT]).astype(np.float32)
    info = {"force_n": 21.5, "target_force_n": 20.0, "in_band": 1.0, "over_force": 0.0,
            "wrong_link_contact": 0.0, "contact_lost": 0.0, "path_progress": 0.25,
            "tool_z_cmd_m": 0.93, "tool_z_m": 0.94, "lateral_error_m": -0.004,
            "contact_link": -2.0, "tissue_region": 1.0, "target_step": 1.0}
    return dict(stamp_sec=1_700_000_123, stamp_nanosec=999_999_999, episode=41, step=317,
                first=False, terminated=True, truncated=False, held=True,
                applied_action=[1.0, -0.25, 0.125], reward=-0.625, obs=obs, info=info)


def test_state_codec_round_trip_is_exact():
    codec = StateCodec.for_env()
    assert codec.obs_dim == OBS_DIM and codec.info_keys == STEP_INFO_KEYS
    fields = _sample(codec, np.random.default_rng(0))
    decoded = codec.decode(codec.encode(**fields))
    for name in ("stamp_sec", "stamp_nanosec", "episode", "step", "first", "terminated",
                 "truncated", "held", "reward"):
        assert getattr(decoded, name) == fields[name], name
    np.testing.assert_array_equal(decoded.obs, fields["obs"])
    assert decoded.obs.dtype == np.float32
    assert decoded.applied_action.dtype == np.float64
    np.testing.assert_array_equal(decoded.applied_action, fields["applied_action"])
    assert decoded.info == fields["info"]
    assert decoded.stamp_ns == 1_700_000_123_999_999_999


def test_state_layout_is_labelled_consecutive_segments():
    codec = StateCodec.for_env()
    msg = codec.encode(**_sample(codec, np.random.default_rng(1)))
    labels = [d.label for d in msg.layout.dim]
    assert labels[:10] == ["stamp_sec", "stamp_nanosec", "episode", "step", "first",
                           "terminated", "truncated", "held", "applied_action", "reward"]
    assert msg.layout.dim[8].size == 3
    assert labels[10] == "obs" and msg.layout.dim[10].size == OBS_DIM
    assert labels[11:] == [f"info.{key}" for key in STEP_INFO_KEYS]
    offsets = [d.stride for d in msg.layout.dim]
    sizes = [d.size for d in msg.layout.dim]
    assert offsets == [sum(sizes[:i]) for i in range(len(sizes))]
    assert sum(sizes) == len(msg.data) == codec.length == 81


def test_decoder_rejects_wrong_length_and_labels_naming_the_layout():
    codec = StateCodec.for_env()
    msg = codec.encode(**_sample(codec, np.random.default_rng(2)))
    short = codec.encode(**_sample(codec, np.random.default_rng(2)))
    short.data = list(msg.data)[:-1]
    with pytest.raises(BadStateError, match=r"expected 81 float64 values: stamp_sec\[1\]") as got:
        codec.decode(short)
    assert got.value.reason == "length"
    msg.layout.dim[10].label = "observation"
    with pytest.raises(BadStateError, match="layout is .*observation.*expected") as got:
        codec.decode(msg)
    assert got.value.reason == "layout"
    msg.layout.dim = []
    with pytest.raises(ValueError, match="expected"):
        codec.decode(msg)
    with pytest.raises(ValueError, match="obs has 3 values"):
        codec.encode(**{**_sample(codec, np.random.default_rng(3)), "obs": np.zeros(3)})


def test_decoder_rejects_non_finite_values_naming_them():
    """A NaN from a bridge must never reach the replay buffer."""
    codec = StateCodec.for_env()
    fields = _sample(codec, np.random.default_rng(4))
    fields["obs"][12] = np.nan
    fields["info"]["force_n"] = np.inf
    with pytest.raises(BadStateError, match=r"non-finite values at obs\[12\] \(joint_vel\[5\]\), "
                       r"info.force_n") as got:
        codec.decode(codec.encode(**fields))
    assert got.value.reason == "non_finite"


def _raw(codec: StateCodec, fields: dict, label: str, value: float, index: int = 0):
    """An encoded state with one value of segment ``label`` replaced (after encoding,
    so obs values are not rounded to float32 first)."""
    msg = codec.encode(**fields)
    dim = next(d for d in msg.layout.dim if d.label == label)
    data = np.array(msg.data)
    data[dim.stride + index] = value
    msg.data = data
    return msg


@pytest.mark.parametrize("label, index, value, match", [
    ("obs", 21, 1e39, r"obs\[21\] \(force\) = 1e\+39 is not in \[0, 5\]"),
    ("obs", 21, -0.1, r"obs\[21\] \(force\) = -0.1 is not in \[0, 5\]"),
    ("obs", 0, 1e30, r"obs\[0\] \(joint_pos\[0\]\) = 1e\+30 is not in \[-5, 5\]"),
    ("obs", 17, 1.5, r"obs\[17\] \(tool_quat\[0\]\) = 1.5 is not in \[-1, 1\]"),
    ("obs", 53, -1.01, r"obs\[53\] \(last_action\[0\]\)"),
    ("reward", 0, 1e30, r"reward = 1e\+30 is not in \[-11900, 100\]"),
    ("reward", 0, -1e39, r"reward = -1e\+39"),
    ("applied_action", 1, 1.5, r"applied_action\[1\] = 1.5 is not in \[-1, 1\]"),
    ("first", 0, 0.5, r"first = 0.5 is not a whole number in \[0, 1\]"),
    ("held", 0, 2.0, r"held = 2.0 is not a whole number in \[0, 1\]"),
    ("step", 0, 1.5, r"step = 1.5 is not a whole number"),
    ("episode", 0, -1.0, r"episode = -1.0 is not a whole number in \[0, "),
    ("episode", 0, 2.0**60, r"episode = "),
    ("info.force_n", 0, 1e30, r"info.force_n = 1e\+30 is not in \[0, 100000\]"),
    ("info.contact_link", 0, 2.5, r"info.contact_link = 2.5 is not a whole number"),
])
def test_decoder_rejects_values_outside_their_segment_naming_them(label, index, value, match):
    """Finite but absurd values (1e39 is inf in float32) would poison the networks."""
    codec = StateCodec.for_env()
    msg = _raw(codec, _sample(codec, np.random.default_rng(5)), label, value, index)
    with pytest.raises(BadStateError, match=match) as got:
        codec.decode(msg)
    assert got.value.reason == "out_of_range"


@pytest.mark.parametrize("label, value, match", [
    ("stamp_nanosec", -1.0, r"stamp_nanosec = -1.0 is not a whole number in \[0, 999999999\]"),
    ("stamp_nanosec", 1e9, r"stamp_nanosec = 1000000000.0"),
    ("stamp_nanosec", 0.5, r"stamp_nanosec = 0.5"),
    ("stamp_sec", -1.0, r"stamp_sec = -1.0 is not a whole number in \[0, 2147483647\]"),
    ("stamp_sec", 2.0**31, r"stamp_sec = 2147483648.0"),
])
def test_decoder_rejects_stamps_no_time_message_can_carry(label, value, match):
    codec = StateCodec.for_env()
    msg = _raw(codec, _sample(codec, np.random.default_rng(6)), label, value)
    with pytest.raises(BadStateError, match=match) as got:
        codec.decode(msg)
    assert got.value.reason == "stamp"


def test_reward_bounds_are_the_reward_s_range_over_every_allowed_weight():
    from massage_td3_ros.env.reward import RewardWeights, compute_reward

    high = {f.name: f.metadata["high"] for f in dataclasses.fields(EnvConfig)}
    weights = RewardWeights(
        force=high["reward_force_weight"], force_falloff_n=0.1,
        wrong_link=high["reward_wrong_link_weight"],
        contact_lost=high["reward_contact_lost_weight"], lateral=high["reward_lateral_weight"],
        lateral_scale_m=0.001, action_rate=high["reward_action_rate_weight"],
        unsafe=high["reward_unsafe_penalty"], overshoot=high["reward_overshoot_weight"],
        overshoot_margin_n=0.0)
    worst, _ = compute_reward(force_n=100.0, target_force_n=0.0, band_n=0.0, wrong_link=True,
                              contact_lost=True, lateral_error_m=1.0, action=[1, 1, 1],
                              previous_action=[-1, -1, -1], unsafe=True, weights=weights)
    best, _ = compute_reward(force_n=10.0, target_force_n=10.0, band_n=0.0, wrong_link=False,
                             contact_lost=False, lateral_error_m=0.0, action=[0, 0, 0],
                             previous_action=[0, 0, 0], unsafe=False, weights=weights)
    assert reward_bounds() == (worst, best)


def test_the_env_s_observations_lie_within_the_declared_bounds():
    """Pressing hard, flailing and lifting off: the sim's states always decode."""
    from massage_td3_ros.env import MassageEnv

    codec = StateCodec.for_env()
    env = MassageEnv(EnvConfig(episode_time_s=4.0, action_mode="offset"))
    rng = np.random.default_rng(7)
    try:
        for episode in range(3):
            obs, info = env.reset(seed=episode)
            reward, done, step, action = 0.0, False, 0, np.zeros(3)
            while True:
                codec.decode(codec.encode(
                    stamp_sec=1, stamp_nanosec=step, episode=episode, step=step,
                    first=step == 0, terminated=False, truncated=False, held=False,
                    applied_action=action, reward=reward, obs=obs, info=info))
                if done:
                    break
                # episode 0 presses down (over-force), the others flail
                action = np.array([0.0, 0.0, -1.0]) if episode == 0 else rng.uniform(-1, 1, 3)
                obs, reward, terminated, truncated, info = env.step(action)
                done, step = terminated or truncated, step + 1
    finally:
        env.close()


def test_every_field_is_a_described_ranged_read_only_parameter(ros_context):
    node = Node("massage_sim", context=ros_context)
    try:
        groups = declare_and_read(node, NODE_GROUPS["massage_sim"])
        assert groups == {"sim": SimNodeConfig(), "env": EnvConfig()}
        for group, cls in NODE_GROUPS["massage_sim"].items():
            for field in dataclasses.fields(cls):
                descriptor = node.describe_parameter(f"{group}.{field.name}")
                assert descriptor.description.startswith(field.metadata["description"][:20])
                assert descriptor.read_only
                low = field.metadata["low"]
                if low is not None and isinstance(field.default, float):
                    assert descriptor.floating_point_range[0].from_value == low
                if low is not None and type(field.default) is int:
                    assert descriptor.integer_range[0].from_value == low
        rng = node.describe_parameter("env.target_force_n").floating_point_range[0]
        assert (rng.from_value, rng.to_value) == (
            EnvConfig.__dataclass_fields__["target_force_n"].metadata["low"],
            EnvConfig.__dataclass_fields__["target_force_n"].metadata["high"])
    finally:
        node.destroy_node()


def test_overrides_are_read_back_and_bad_values_rejected(ros_context):
    node = Node("massage_sim", context=ros_context, parameter_overrides=[
        Parameter("env.target_force_n", value=12.5), Parameter("sim.mode", value="realtime"),
        Parameter("env.rand_target_force_n", value=[9.0, 11.0])])
    try:
        groups = declare_and_read(node, NODE_GROUPS["massage_sim"])
        assert groups["env"].target_force_n == 12.5
        assert groups["env"].rand_target_force_n == (9.0, 11.0)
        assert groups["sim"].mode == "realtime"
    finally:
        node.destroy_node()
    for bad, match in ((Parameter("env.target_force_n", value=1e9), "target_force_n"),
                       (Parameter("env.target_force_n", value=10), "decimal point"),
                       (Parameter("sim.mode", value="fast"), "one of"),
                       (Parameter("env.target_forse_n", value=3.0),  # misspelled
                        "did you mean 'env.target_force_n'")):
        node = Node("massage_sim", context=ros_context, parameter_overrides=[bad])
        try:
            with pytest.raises(ValueError, match=match):
                declare_and_read(node, NODE_GROUPS["massage_sim"])
        finally:
            node.destroy_node()
