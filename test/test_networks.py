"""The stacked twin critic: the same as two independent nn.Linear MLPs, and old-layout
(two-MLP) checkpoints still load."""

import copy
import dataclasses
import math

import pytest
import torch
from torch import nn
from torch.nn import functional

from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.td3.networks import Critic, convert_two_mlp_state, mlp
from massage_td3_ros.td3.optim import adam

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class TwoMLPCritic(nn.Module):
    """The critic as it was before issue 13: two separate MLPs."""

    def __init__(self, obs_dim, act_dim, hidden):
        super().__init__()
        self.q1 = mlp(obs_dim + act_dim, hidden, 1)
        self.q2 = mlp(obs_dim + act_dim, hidden, 1)

    def forward(self, obs, action):
        obs_action = torch.cat([obs, action], dim=1)
        return self.q1(obs_action), self.q2(obs_action)

    def q1_value(self, obs, action):
        return self.q1(torch.cat([obs, action], dim=1))


def linears(net):
    return [m for m in net if isinstance(m, nn.Linear)]


def copy_into_stacked(old: TwoMLPCritic, new: Critic) -> None:
    with torch.no_grad():
        for layer, l1, l2 in zip(new.layers, linears(old.q1), linears(old.q2), strict=True):
            layer.weight.copy_(torch.stack([l1.weight.t(), l2.weight.t()]))
            layer.bias.copy_(torch.stack([l1.bias, l2.bias]).unsqueeze(1))


def inputs(batch=64, obs_dim=7, act_dim=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, obs_dim, generator=gen), torch.randn(batch, act_dim, generator=gen)


def test_stacked_critic_equals_two_independent_mlps_outputs_and_gradients():
    torch.manual_seed(1)
    old, new = TwoMLPCritic(7, 3, (32, 24)), Critic(7, 3, (32, 24))
    copy_into_stacked(old, new)
    obs, action = inputs()
    target = torch.randn(64, 1, generator=torch.Generator().manual_seed(5))
    results = []
    for critic in (old, new):
        q1, q2 = critic(obs, action)
        loss = functional.mse_loss(q1, target) + functional.mse_loss(q2, target)
        loss.backward()
        results.append((q1.detach(), q2.detach(), loss.item()))
    (o1, o2, old_loss), (n1, n2, new_loss) = results
    assert n1.shape == n2.shape == (64, 1)
    torch.testing.assert_close(n1, o1, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(n2, o2, rtol=1e-6, atol=1e-6)
    assert new_loss == pytest.approx(old_loss, rel=1e-6)
    for j, (l1, l2) in enumerate(zip(linears(old.q1), linears(old.q2), strict=True)):
        layer = new.layers[j]
        for head, linear in ((0, l1), (1, l2)):
            torch.testing.assert_close(layer.weight.grad[head], linear.weight.grad.t(),
                                       rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(layer.bias.grad[head, 0], linear.bias.grad,
                                       rtol=1e-5, atol=1e-6)


def test_q1_value_is_q1_and_its_gradient_touches_only_q1():
    torch.manual_seed(2)
    old, new = TwoMLPCritic(7, 3, (16, 16)), Critic(7, 3, (16, 16))
    copy_into_stacked(old, new)
    obs, action = inputs(batch=32)
    action_old = action.clone().requires_grad_(True)
    action_new = action.clone().requires_grad_(True)
    q_old, q_new = old.q1_value(obs, action_old), new.q1_value(obs, action_new)
    torch.testing.assert_close(q_new, q_old, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(q_new, new(obs, action)[0], rtol=1e-6, atol=1e-6)
    q_old.mean().backward()
    q_new.mean().backward()
    torch.testing.assert_close(action_new.grad, action_old.grad, rtol=1e-5, atol=1e-7)
    for layer, linear in zip(new.layers, linears(old.q1), strict=True):
        torch.testing.assert_close(layer.weight.grad[0], linear.weight.grad.t(),
                                   rtol=1e-5, atol=1e-7)
        assert not layer.weight.grad[1].any() and not layer.bias.grad[1].any()


def test_each_q_network_is_initialised_like_independent_linear_layers():
    torch.manual_seed(3)
    critic = Critic(10, 2, (256, 128))
    widths = [12, 256, 128, 1]
    for layer, fan_in in zip(critic.layers, widths[:-1], strict=True):
        bound = 1.0 / math.sqrt(fan_in)  # kaiming-uniform(a=sqrt(5)) and the bias bound
        assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
        assert not torch.equal(layer.weight[0], layer.weight[1])
        assert not torch.equal(layer.bias[0], layer.bias[1])
        if layer.weight[0].numel() > 1000:  # uniform over the whole range, not narrower
            assert layer.weight.abs().max() > 0.95 * bound
            assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    # The very draws two separate nn.Linear MLPs make from the same seed.
    torch.manual_seed(4)
    old = TwoMLPCritic(10, 2, (256, 128))
    torch.manual_seed(4)
    new = Critic(10, 2, (256, 128))
    converted = dict(old.state_dict())
    convert_two_mlp_state(converted)
    for key, value in new.state_dict().items():
        assert torch.equal(value, converted[key]), key


def test_old_two_mlp_state_dict_loads_with_identical_q_values():
    torch.manual_seed(5)
    old = TwoMLPCritic(7, 3, (32, 32))
    new = Critic(7, 3, (32, 32))
    new.load_state_dict(old.state_dict())  # strict
    obs, action = inputs()
    for q_new, q_old in zip(new(obs, action), old(obs, action), strict=True):
        torch.testing.assert_close(q_new, q_old, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(new.q1_value(obs, action), old.q1_value(obs, action),
                               rtol=1e-6, atol=1e-6)
    assert set(new.state_dict()) == {f"layers.{i}.{kind}" for i in range(3)
                                     for kind in ("weight", "bias")}
    incomplete = {k: v for k, v in old.state_dict().items() if k != "q2.2.bias"}
    with pytest.raises(RuntimeError, match="q1.2.weight"):  # named, not silently dropped
        Critic(7, 3, (32, 32)).load_state_dict(incomplete)


def old_layout_agent(config):
    """A TD3 agent with the earlier two-MLP critic (its autograd train() only calls the
    critic's forward and q1_value, so it runs the earlier update)."""
    agent = TD3(3, 2, dataclasses.replace(config, backprop="autograd"))
    agent.critic = TwoMLPCritic(3, 2, config.critic_hidden)
    agent.critic_target = copy.deepcopy(agent.critic).requires_grad_(False)
    agent.critic_optimizer = adam(agent.critic.parameters(), config.lr_critic, agent.device)
    return agent


def batch(seed):
    from massage_td3_ros.td3.replay_buffer import Batch
    gen = torch.Generator().manual_seed(seed)
    return Batch(obs=torch.randn(16, 3, generator=gen),
                 action=torch.rand(16, 2, generator=gen) * 2 - 1,
                 reward=torch.randn(16, 1, generator=gen),
                 next_obs=torch.randn(16, 3, generator=gen),
                 terminated=torch.zeros(16, 1))


def test_old_layout_agent_state_resumes_the_same_training():
    config = TD3Config(actor_hidden=(16, 16), critic_hidden=(16, 16), batch_size=16,
                       precision="float32")
    torch.manual_seed(6)
    old = old_layout_agent(config)
    for i in range(5):
        old.train(batch(i))
    state = copy.deepcopy(old.state_dict())
    assert any(key.startswith("q1.") for key in state["critic"])
    new = TD3(3, 2, config)
    new.load_state_dict(state)
    obs, action = batch(99).obs, batch(99).action
    for net in ("critic", "critic_target"):
        for q_new, q_old in zip(getattr(new, net)(obs, action), getattr(old, net)(obs, action),
                                strict=True):
            torch.testing.assert_close(q_new, q_old, rtol=1e-6, atol=1e-6)
    # The converted Adam moments continue the same optimisation.
    for i in range(5, 9):
        torch.manual_seed(i)
        old_losses = old.train(batch(i))
        torch.manual_seed(i)
        new_losses = new.train(batch(i))
        for key, value in old_losses.items():
            assert new_losses[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    for net in ("critic", "critic_target"):
        for q_new, q_old in zip(getattr(new, net)(obs, action), getattr(old, net)(obs, action),
                                strict=True):
            torch.testing.assert_close(q_new, q_old, rtol=1e-4, atol=1e-5)
    steps = {float(s["step"]) for s in new.critic_optimizer.state_dict()["state"].values()}
    assert steps == {9.0} and len(new.critic_optimizer.state_dict()["state"]) == 6
