"""config/train.yaml: the one parameter file, in step with the declarations."""

import subprocess
import sys
from pathlib import Path

import pytest

from massage_td3_ros.config import (
    Config,
    config_from_dict,
    config_to_dict,
    load_config,
    parse_overrides,
    render_yaml,
)

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_yaml_equals_declared_defaults():
    assert load_config(ROOT / "config" / "train.yaml") == Config()
    assert (ROOT / "config" / "train.yaml").read_text() == render_yaml(), \
        "config/train.yaml is stale: python -m massage_td3_ros.config > config/train.yaml"


def test_round_trip_through_dict():
    config = Config().replace(env={"target_force_n": 12.5}, td3={"batch_size": 64})
    assert config_from_dict(config_to_dict(config)) == config


def test_misspelled_parameter_is_rejected_by_name():
    document = config_to_dict(Config())
    document["/**/massage_sim"]["ros__parameters"]["env"]["target_forse_n"] = 3.0
    with pytest.raises(ValueError, match="target_forse_n"):
        config_from_dict(document)


def test_out_of_range_value_is_rejected_by_name():
    with pytest.raises(ValueError, match=r"TD3Config\.gamma"):
        Config().replace(td3={"gamma": 1.5})


def test_wrong_type_is_rejected():
    with pytest.raises(ValueError, match="expected"):
        Config().replace(td3={"batch_size": "many"})


def test_overrides_change_one_value_each_and_name_bad_ones():
    config = load_config(None, ["env.action_mode=offset", "td3.lr_actor=1e-3",
                                "td3.actor_hidden=[64, 64]"])
    assert config.env.action_mode == "offset" and config.td3.lr_actor == 1e-3
    assert list(config.td3.actor_hidden) == [64, 64]
    assert config.env.target_force_n == load_config().env.target_force_n
    assert load_config(None, ["train.run_dir=2024"]).train.run_dir == "2024"
    with pytest.raises(ValueError, match="expected group.name=value"):
        parse_overrides(["envv.target_force_n=3"])
    with pytest.raises(ValueError, match="tagret_force_n"):
        load_config(None, ["env.tagret_force_n=3"])
    with pytest.raises(ValueError, match="action_mode"):
        load_config(None, ["env.action_mode=sideways"])


def test_core_never_imports_ros():
    """The env, the TD3 learner and the trainer must be usable without rclpy."""
    code = ("import sys, massage_td3_ros.config, massage_td3_ros.env.massage_env, "
            "massage_td3_ros.td3.agent, massage_td3_ros.training.learner, "
            "massage_td3_ros.training.trainer; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('rclpy', 'launch')); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_observation_and_reward_import_without_pybullet():
    """A real-arm bridge reuses these without a simulator installed."""
    code = ("import sys, massage_td3_ros.env.observation, massage_td3_ros.env.reward, "
            "massage_td3_ros.env.metrics; assert 'pybullet' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_package_trains_the_paper_td3_plus_the_tracking_model_on_the_force_error():
    from massage_td3_ros.env.observation import observation_labels
    from massage_td3_ros.td3.config import TD3Config

    package, paper = Config().td3, TD3Config()
    assert paper.tracking_model_weight == 0.0 and paper.tracking_entry == -1
    assert package.tracking_model_weight > 0.0
    assert observation_labels()[package.tracking_entry] == "force_error"
    changed = {name for name, value in vars(package).items() if getattr(paper, name) != value}
    assert changed == {"tracking_model_weight", "tracking_entry"}


def test_a_parameter_file_that_leaves_names_out_gets_the_package_values():
    document = config_to_dict(Config().replace(td3={"batch_size": 64}))
    td3 = document["/**/td3_agent"]["ros__parameters"]["td3"]
    del td3["tracking_model_weight"], td3["tracking_entry"]
    config = config_from_dict(document)
    assert config.td3 == Config().replace(td3={"batch_size": 64}).td3
    del document["/**/td3_agent"]["ros__parameters"]["td3"]
    assert config_from_dict(document).td3 == Config().td3


def test_a_node_declares_the_package_values(ros_context):
    from massage_td3_ros.ros.common import PackageNode

    node = PackageNode("td3_agent", context=ros_context)
    try:
        assert node.groups["td3"] == Config().td3
        assert node.get_parameter("td3.tracking_entry").value == Config().td3.tracking_entry
    finally:
        node.destroy_node()
