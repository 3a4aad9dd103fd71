"""Actor and twin-Q critic: fully connected ReLU networks."""

from __future__ import annotations

from collections.abc import Sequence

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


class Critic(nn.Module):
    """Two independent Q networks over the concatenated observation and action."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.q1 = mlp(obs_dim + act_dim, hidden, 1)
        self.q2 = mlp(obs_dim + act_dim, hidden, 1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both Q estimates, each of shape (batch, 1)."""
        obs_action = torch.cat([obs, action], dim=1)
        return self.q1(obs_action), self.q2(obs_action)

    def q1_value(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The first Q estimate only (what the actor maximises)."""
        return self.q1(torch.cat([obs, action], dim=1))
