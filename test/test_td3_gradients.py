"""Hand-written gradients (td3.backprop: manual) against torch.autograd: the same maths."""

import dataclasses

import pytest
import torch

from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.td3.gradients import backward, cast_layers, forward
from massage_td3_ros.td3.networks import Actor, Critic
from massage_td3_ros.td3.replay_buffer import Batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def batches(count, size=32, obs_dim=5, act_dim=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [Batch(obs=torch.randn(size, obs_dim, generator=gen),
                  action=torch.rand(size, act_dim, generator=gen) * 2 - 1,
                  reward=torch.randn(size, 1, generator=gen),
                  next_obs=torch.randn(size, obs_dim, generator=gen),
                  terminated=(torch.rand(size, 1, generator=gen) < 0.2).float())
            for _ in range(count)]


def twin_agents(config: TD3Config) -> tuple[TD3, TD3]:
    """Two agents with identical weights, one per backprop kind."""
    torch.manual_seed(0)
    by_hand = TD3(5, 2, dataclasses.replace(config, backprop="manual"))
    reference = TD3(5, 2, dataclasses.replace(config, backprop="autograd"))
    reference.load_state_dict(by_hand.state_dict())
    return by_hand, reference


def train_both(agents, batch_list):
    """Train each agent on the same batches with the same noise draws; their losses."""
    history = {id(agent): [] for agent in agents}
    for step, batch in enumerate(batch_list):
        for agent in agents:
            torch.manual_seed(100 + step)
            history[id(agent)].append(agent.train(batch))
    return [history[id(agent)] for agent in agents]


@pytest.mark.parametrize(("smoothness", "models"),
                         [(0.0, {}), (0.7, {}),
                          (0.0, {"reward_model_weight": 10.0}),
                          (0.0, {"tracking_model_weight": 30.0, "tracking_entry": 3}),
                          (0.0, {"tracking_model_weight": 30.0, "tracking_entry": 3,
                                 "tracking_error_kept": 0.5})],
                         ids=["plain", "caps", "reward-model", "tracking-model",
                              "tracking-model-error-kept"])
def test_manual_update_equals_autograd_in_float32(smoothness, models):
    """Several updates (critic-only and with actor, soft updates, terminal rows, the
    CAPS terms, a one-step model's term): the same losses and weights as autograd's."""
    config = TD3Config(actor_hidden=(24, 16), critic_hidden=(20, 12), precision="float32",
                       smooth_temporal=smoothness, smooth_spatial=smoothness, **models)
    by_hand, reference = twin_agents(config)
    got, want = train_both((by_hand, reference), batches(6))
    for mine, theirs in zip(got, want, strict=True):
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert mine[key] == pytest.approx(theirs[key], rel=1e-5, abs=1e-6), key
    pairs = [(getattr(by_hand, name), getattr(reference, name))
             for name in ("actor", "critic", "actor_target", "critic_target")]
    pairs += [(mine.network, theirs.network) for mine, theirs
              in zip(by_hand.one_step_models, reference.one_step_models, strict=True)]
    assert len(pairs) == 4 + sum(name.endswith("_model_weight") for name in models)
    for mine, theirs in pairs:
        for a, b in zip(mine.parameters(), theirs.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item()


def test_manual_bfloat16_gradients_match_autograd_under_autocast():
    """bfloat16 matmuls: rounding differs in order, not in kind; every gradient points
    the same way and has the same size as autocast's within bfloat16's precision."""
    config = TD3Config(actor_hidden=(64, 48), critic_hidden=(64, 48), precision="bfloat16",
                       smooth_temporal=0.5, smooth_spatial=0.5)
    by_hand, reference = twin_agents(config)
    batch = batches(1, size=128)[0]
    for agent in (by_hand, reference):
        torch.manual_seed(7)
        critic_grads = agent._critic_grads_manual if agent is by_hand else agent._critic_grads
        critic_grads(batch)
        actor_grads = agent._actor_grads_manual if agent is by_hand else agent._actor_grads
        actor_grads(batch)
    for net in ("critic", "actor"):
        for a, b in zip(getattr(by_hand, net).parameters(),
                        getattr(reference, net).parameters(), strict=True):
            assert a.grad.dtype == torch.float32
            assert cosine(a.grad, b.grad) > 0.99, net
            assert a.grad.norm().item() == pytest.approx(b.grad.norm().item(), rel=0.03), net


@pytest.mark.parametrize("stacked", [False, True], ids=["linear", "stacked"])
def test_backward_of_each_layout_equals_autograd(stacked):
    """Weight, bias and input gradients of the 2-D (nn.Linear) and the 3-D (stacked
    heads) layouts, for an arbitrary upstream gradient."""
    torch.manual_seed(3)
    net = Critic(4, 2, (9, 7)) if stacked else Actor(6, 3, (9, 7), 1.0).net
    params = list(net.parameters())
    x = torch.randn(2, 11, 6) if stacked else torch.randn(11, 6)
    layers = cast_layers(params, torch.float32)
    outputs = forward(x, layers)
    upstream = torch.randn_like(outputs[-1])
    grads, input_grad = backward(outputs, layers, upstream, input_grad=True)

    x_auto = x.clone().requires_grad_(True)
    if stacked:
        y = x_auto
        for i, layer in enumerate(net.layers):
            y = torch.baddbmm(layer.bias, y, layer.weight)
            y = torch.relu(y) if i < len(net.layers) - 1 else y
    else:
        y = net(x_auto)
    torch.testing.assert_close(outputs[-1], y.detach())
    (y * upstream).sum().backward()
    for got, param in zip(grads, params, strict=True):
        assert got.shape == param.shape
        torch.testing.assert_close(got, param.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(input_grad, x_auto.grad, rtol=1e-5, atol=1e-6)
    only_params, none = backward(outputs, layers, upstream)
    assert none is None and len(only_params) == len(params)
    no_params, _ = backward(outputs, layers, upstream, param_grads=False, input_grad=True)
    assert no_params == []


def test_cached_target_weights_follow_soft_updates_and_loaded_state():
    """bfloat16 copies of the target networks are reused between soft updates; they
    must never be stale: after an actor step, and after load_state_dict."""
    config = TD3Config(actor_hidden=(16,), critic_hidden=(16,), precision="bfloat16")
    torch.manual_seed(0)
    agent, other = TD3(5, 2, config), TD3(5, 2, config)
    batch_list = batches(5)
    for batch in batch_list[:3]:
        agent.train(batch)                      # the cache now holds agent's targets
    agent.load_state_dict(other.state_dict())   # ... which this must drop
    fresh = TD3(5, 2, config)
    fresh.load_state_dict(other.state_dict())
    for step, batch in enumerate(batch_list[3:]):
        for learner in (agent, fresh):
            torch.manual_seed(step)
            learner.train(batch)
    for a, b in zip(agent.critic.parameters(), fresh.critic.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
