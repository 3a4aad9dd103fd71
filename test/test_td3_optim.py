"""step_adam: the fused kernel called directly gives torch's Adam to the bit, and the
cases it does not cover still step through torch."""

import copy

import pytest
import torch

from massage_td3_ros.td3.optim import adam, step_adam

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(7, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


def _train(net, optimizer, step, steps=6):
    torch.manual_seed(1)
    for _ in range(steps):
        x = torch.randn(32, 7)
        optimizer.zero_grad(set_to_none=True)
        net(x).square().mean().backward()
        step(optimizer)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_direct_fused_step_equals_torchs(weight_decay):
    nets = [_net(), _net()]
    optimizers = [adam(net.parameters(), 3e-4, torch.device("cpu")) for net in nets]
    for optimizer in optimizers:
        optimizer.param_groups[0]["weight_decay"] = weight_decay
    assert optimizers[0].param_groups[0]["fused"]
    _train(nets[0], optimizers[0], lambda optimizer: optimizer.step())
    _train(nets[1], optimizers[1], step_adam)
    for mine, theirs in zip(nets[1].parameters(), nets[0].parameters(), strict=True):
        assert torch.equal(mine, theirs)
    saved, expected = optimizers[1].state_dict(), optimizers[0].state_dict()
    for key, state in expected["state"].items():
        assert float(saved["state"][key]["step"]) == float(state["step"]) == 6.0
        for moment in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(saved["state"][key][moment], state[moment])


def test_cases_it_does_not_cover_step_through_torch():
    # Not fused (AMSGrad): torch's step runs, and the result is torch's.
    nets = [_net(), _net()]
    optimizers = [torch.optim.Adam(net.parameters(), lr=1e-3, amsgrad=True) for net in nets]
    _train(nets[0], optimizers[0], lambda optimizer: optimizer.step())
    _train(nets[1], optimizers[1], step_adam)
    for mine, theirs in zip(nets[1].parameters(), nets[0].parameters(), strict=True):
        assert torch.equal(mine, theirs)
    # A parameter without a gradient: torch skips it, and so does step_adam (through torch).
    net = _net()
    optimizer = adam(net.parameters(), 1e-3, torch.device("cpu"))
    _train(net, optimizer, step_adam, steps=2)
    frozen = copy.deepcopy(net[2].bias.detach())
    optimizer.zero_grad(set_to_none=True)
    net[0](torch.randn(4, 7)).sum().backward()   # the last layer gets no gradient
    step_adam(optimizer)
    assert torch.equal(net[2].bias, frozen)
    assert float(optimizer.state[net[2].bias]["step"]) == 2.0
    assert float(optimizer.state[net[0].bias]["step"]) == 3.0
