"""/massage/state codec round trip and ROS parameter declaration (real rclpy nodes)."""

import dataclasses

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter

from massage_td3_ros.config import NODE_GROUPS, SimNodeConfig
from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.metrics import STEP_INFO_KEYS
from massage_td3_ros.env.observation import OBS_DIM
from massage_td3_ros.ros.parameters import declare_and_read
from massage_td3_ros.ros.state_message import StateCodec


def _sample(codec: StateCodec, rng: np.random.Generator) -> dict:
    return dict(stamp_sec=1_700_000_123, stamp_nanosec=999_999_999, episode=41, step=317,
                first=False, terminated=True, truncated=False, held=True, reward=-0.625,
                obs=rng.normal(size=codec.obs_dim).astype(np.float32),
                info={key: float(i) * 0.5 - 1.0 for i, key in enumerate(codec.info_keys)})


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
    assert decoded.info == fields["info"]
    assert decoded.stamp_ns == 1_700_000_123_999_999_999


def test_state_layout_is_labelled_consecutive_segments():
    codec = StateCodec.for_env()
    msg = codec.encode(**_sample(codec, np.random.default_rng(1)))
    labels = [d.label for d in msg.layout.dim]
    assert labels[:9] == ["stamp_sec", "stamp_nanosec", "episode", "step", "first",
                          "terminated", "truncated", "held", "reward"]
    assert labels[9] == "obs" and msg.layout.dim[9].size == OBS_DIM
    assert labels[10:] == [f"info.{key}" for key in STEP_INFO_KEYS]
    offsets = [d.stride for d in msg.layout.dim]
    sizes = [d.size for d in msg.layout.dim]
    assert offsets == [sum(sizes[:i]) for i in range(len(sizes))]
    assert sum(sizes) == len(msg.data) == codec.length


def test_decoder_rejects_wrong_length_and_labels_naming_the_layout():
    codec = StateCodec.for_env()
    msg = codec.encode(**_sample(codec, np.random.default_rng(2)))
    short = codec.encode(**_sample(codec, np.random.default_rng(2)))
    short.data = list(msg.data)[:-1]
    with pytest.raises(ValueError, match=r"expected 73 float64 values: stamp_sec\[1\]"):
        codec.decode(short)
    msg.layout.dim[9].label = "observation"
    with pytest.raises(ValueError, match="layout is .*observation.*expected"):
        codec.decode(msg)
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
    with pytest.raises(ValueError, match=r"non-finite values at obs\[12\], info.force_n"):
        codec.decode(codec.encode(**fields))


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
