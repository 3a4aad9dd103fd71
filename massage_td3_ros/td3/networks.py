"""Actor and twin-Q critic: fully connected ReLU networks.

The critic's two Q networks are stored stacked (one ``[2, in, out]`` weight and one
``[2, 1, out]`` bias per layer) and evaluated with one batched product per layer, so both
run in one kernel (and, under autocast, one weight cast) instead of two. Each Q network
is still initialised and trained exactly as an independent MLP of ``nn.Linear`` layers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int) -> nn.Sequential:
    """Linear layers with ReLU between them and none after the last."""
    layers: list[nn.Module] = []
    width = in_dim
    for size in hidden:
        layers += [nn.Linear(width, int(size)), nn.ReLU()]
        width = int(size)
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """Deterministic policy: observation -> action in [-max_action, max_action]."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int],
                 max_action: float) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, act_dim)
        self.max_action = float(max_action)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.max_action * torch.tanh(self.net(obs))


class StackedLinear(nn.Module):
    """``heads`` independent linear layers in one: weight ``[heads, in, out]`` (each head's
    is ``nn.Linear.weight`` transposed), bias ``[heads, 1, out]``."""

    def __init__(self, heads: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)
        self.weight = nn.Parameter(torch.empty(heads, self.in_dim, self.out_dim))
        self.bias = nn.Parameter(torch.empty(heads, 1, self.out_dim))

    @torch.no_grad()
    def reset_head(self, head: int) -> None:
        """Head ``head`` as ``nn.Linear(in, out)`` initialises itself, with the same draws
        from torch's generator: kaiming-uniform(a=sqrt(5)) weight, U(+-1/sqrt(in)) bias."""
        weight = torch.empty(self.out_dim, self.in_dim)
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        self.weight[head].copy_(weight.t())
        bound = 1.0 / math.sqrt(self.in_dim) if self.in_dim > 0 else 0.0
        nn.init.uniform_(self.bias[head], -bound, bound)

    def extra_repr(self) -> str:
        return f"heads={self.weight.shape[0]}, in={self.in_dim}, out={self.out_dim}"


# A key of the earlier two-MLP critic: q1.<index in nn.Sequential>.weight / .bias.
_OLD_KEY = re.compile(r"q([12])\.(\d+)\.(weight|bias)$")


class Critic(nn.Module):
    """Two independent Q networks over the concatenated observation and action, stacked:
    layer ``i`` of both is ``layers[i]``, evaluated with one ``baddbmm``."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        widths = [obs_dim + act_dim, *(int(size) for size in hidden), 1]
        self.layers = nn.ModuleList(StackedLinear(2, a, b)
                                    for a, b in zip(widths[:-1], widths[1:]))
        # Q1's layers first, then Q2's: the draws two separate MLPs would make.
        for head in range(2):
            for layer in self.layers:
                layer.reset_head(head)

    def forward(self, obs: torch.Tensor, action: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both Q estimates, each of shape (batch, 1)."""
        obs_action = torch.cat([obs, action], dim=1)
        x = obs_action.unsqueeze(0).expand(2, *obs_action.shape)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = torch.baddbmm(layer.bias, x, layer.weight)
            if i < last:
                x = torch.relu(x)
        return x[0], x[1]

    def q1_value(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The first Q estimate only (what the actor maximises)."""
        x = torch.cat([obs, action], dim=1)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = torch.addmm(layer.bias[0], x, layer.weight[0])
            if i < last:
                x = torch.relu(x)
        return x

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any,
                              **kwargs: Any) -> None:
        """Also loads the earlier layout (``q1.0.weight``, ... of two ``mlp``s)."""
        convert_two_mlp_state(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _old_layer_keys(state_dict: dict[str, Any], prefix: str) -> dict[int, dict[str, str]]:
    """{sequential index: {"q1.weight": key, ...}} of the old-layout keys under prefix."""
    found: dict[int, dict[str, str]] = {}
    for key in state_dict:
        if key.startswith(prefix):
            match = _OLD_KEY.fullmatch(key[len(prefix):])
            if match:
                head, index, kind = match.groups()
                found.setdefault(int(index), {})[f"q{head}.{kind}"] = key
    return found


def convert_two_mlp_state(state_dict: dict[str, Any], prefix: str = "") -> None:
    """In place: the keys of the earlier two-``mlp`` critic (q1.<i>.weight ``[out, in]``,
    q1.<i>.bias ``[out]``, same for q2) under ``prefix`` become the stacked layout
    (layers.<j>.weight ``[2, in, out]``, layers.<j>.bias ``[2, 1, out]``). Keys that do
    not form complete q1/q2 pairs are left alone (strict loading then names them)."""
    found = _old_layer_keys(state_dict, prefix)
    wanted = {"q1.weight", "q1.bias", "q2.weight", "q2.bias"}
    for j, index in enumerate(sorted(found)):
        keys = found[index]
        if set(keys) != wanted:
            continue
        w1, w2 = state_dict[keys["q1.weight"]], state_dict[keys["q2.weight"]]
        b1, b2 = state_dict[keys["q1.bias"]], state_dict[keys["q2.bias"]]
        if w1.shape != w2.shape or b1.shape != b2.shape:
            continue
        for key in keys.values():
            del state_dict[key]
        state_dict[f"{prefix}layers.{j}.weight"] = torch.stack([w1.t(), w2.t()]).contiguous()
        state_dict[f"{prefix}layers.{j}.bias"] = torch.stack([b1, b2]).unsqueeze(1)


def convert_two_mlp_optimizer_state(state: dict[str, Any], critic: Critic) -> dict[str, Any]:
    """An Adam state_dict of the earlier two-``mlp`` critic (one parameter group over
    q1's weights and biases, then q2's) as one for ``critic``'s stacked parameters:
    each moment stacked like the parameter; the step count from Q1 (both have one).
    Any other state is returned unchanged."""
    params = list(critic.parameters())
    groups = state.get("param_groups", [])
    if len(groups) != 1 or len(groups[0]["params"]) != 2 * len(params):
        return state
    ids = groups[0]["params"]
    old = state["state"]
    half = len(params)
    new_state: dict[int, dict[str, Any]] = {}
    for i, param in enumerate(params):
        first, second = old.get(ids[i]), old.get(ids[half + i])
        if first is None or second is None:
            continue
        entry: dict[str, Any] = {}
        for name, value in first.items():
            other = second[name]
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                stacked = torch.stack([value.t(), other.t()] if value.dim() == 2
                                      else [value, other])
                entry[name] = stacked.reshape(param.shape).contiguous()
            else:
                entry[name] = value
        new_state[i] = entry
    group = dict(groups[0], params=list(range(half)))
    return {"state": new_state, "param_groups": [group]}
