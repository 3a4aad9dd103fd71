"""benchmarks/target_actor.py: the copy acts with the target actor's weights, and keeps
everything else of the checkpoint, so its held-out scores are the averaged policy's."""

import numpy as np
import torch
from benchmark_scripts import load_benchmark
from test_checkpoint import trained_session

from massage_td3_ros.td3.checkpoint import load_checkpoint
from massage_td3_ros.td3.policy import Policy


def script():
    return load_benchmark("target_actor")


def test_copy_acts_with_the_target_actor(tmp_path):
    source = trained_session(tmp_path / "run").save_checkpoint("latest")
    copy = script().target_actor_copy(source, tmp_path / "copy" / "steps60.pt")
    before, after = load_checkpoint(source), load_checkpoint(copy)
    for name, tensor in before["agent"]["actor_target"].items():
        assert torch.equal(after["agent"]["actor"][name], tensor)
    # the online and target actors differ after training, so the copy is another policy
    assert any(not torch.equal(before["agent"]["actor"][n], t)
               for n, t in before["agent"]["actor_target"].items())
    for part in ("critic", "actor_target", "critic_target"):
        for name, tensor in before["agent"][part].items():
            assert torch.equal(after["agent"][part][name], tensor)
    assert after["meta"]["policy_from"] == f"actor_target of {source}"
    assert {k: v for k, v in after["meta"].items() if k != "policy_from"} == before["meta"]
    obs = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    target_policy, online_policy = Policy.load(copy), Policy.load(source)
    acted = [target_policy.act(o) for o in obs]
    assert any(not np.array_equal(a, online_policy.act(o)) for a, o in zip(acted, obs))
