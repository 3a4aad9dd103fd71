"""Learned one-step models whose value at the actor's action joins the actor's loss.

Both are off by default, as in the paper's TD3 (issue 14, results/heldout/PROTOCOL.md,
sessions 23 and 24). Each is a small network of (s, a), fitted by mean squared error to
one quantity of the batch's transitions at every critic update, with its own Adam at
``lr_critic``:

- ``RewardModel`` (td3.reward_model_weight): R(s, a) fitted to r; the actor's term is
  -w mean R(s, pi(s)).
- ``TrackingModel`` (td3.tracking_model_weight, td3.tracking_entry): M(s, a) fitted to
  the change of one observation entry e from s to s' (an error that is 0 at the goal,
  e.g. the force error); the actor's term is w mean (s[e] + M(s, pi(s)))^2, the
  predicted next error squared, whose minimum is the action a one-step search over
  that model would take.

They know nothing of envs: the tracked entry is an index into the observation.
"""

from __future__ import annotations

import torch
from torch.nn import functional

from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.td3.networks import mlp
from massage_td3_ros.td3.optim import adam, step_adam
from massage_td3_ros.td3.replay_buffer import Batch

HIDDEN = (256, 256)  # each model's hidden layers


class OneStepModel:
    """A network of (s, a), its optimiser, what it is fitted to and its actor term."""

    key = ""            # its name in the agent's state_dict and losses
    weight_option = ""  # the TD3Config field that switches it on

    def __init__(self, obs_dim: int, act_dim: int, weight: float, lr: float,
                 device: torch.device) -> None:
        self.weight = float(weight)
        self.network = mlp(obs_dim + act_dim, HIDDEN, 1).to(device)
        self.optimizer = adam(self.network.parameters(), lr, device)

    def __call__(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.network(torch.cat([obs, action.float()], dim=1))

    def label(self, batch: Batch) -> torch.Tensor:
        """(B, 1): what the model predicts for each transition."""
        raise NotImplementedError

    def actor_term(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The model's part of the actor's loss (a scalar, to be minimised)."""
        raise NotImplementedError

    def fit(self, batch: Batch) -> torch.Tensor:
        """One Adam step towards the batch's labels (float32); the loss."""
        loss = functional.mse_loss(self(batch.obs, batch.action), self.label(batch))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        step_adam(self.optimizer)
        return loss.detach()


class RewardModel(OneStepModel):
    # R's action gradient says which way the next step's reward rises, which the
    # critic's bootstrapped values blur.
    key, weight_option = "reward_model", "reward_model_weight"

    def label(self, batch: Batch) -> torch.Tensor:
        return batch.reward

    def actor_term(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return -self.weight * self(obs, action).mean()


class TrackingModel(OneStepModel):
    # The model-greedy objective (session 23's best realisable controller), smooth and
    # zero at the goal, without the reward's kink and its other terms.
    key, weight_option = "tracking_model", "tracking_model_weight"

    def __init__(self, obs_dim: int, act_dim: int, weight: float, lr: float,
                 device: torch.device, entry: int) -> None:
        if not 0 <= entry < obs_dim:
            raise ValueError(f"td3.tracking_entry is {entry}; with td3.tracking_model_weight "
                             f"> 0 it must index the observation (0-{obs_dim - 1})")
        super().__init__(obs_dim, act_dim, weight, lr, device)
        self.entry = slice(entry, entry + 1)

    def label(self, batch: Batch) -> torch.Tensor:
        return batch.next_obs[:, self.entry] - batch.obs[:, self.entry]

    def actor_term(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        predicted = obs[:, self.entry] + self(obs, action)
        return self.weight * predicted.square().mean()


def one_step_models(config: TD3Config, obs_dim: int, act_dim: int,
                    device: torch.device) -> list[OneStepModel]:
    """The models ``config`` switches on (a weight > 0), in a fixed order."""
    models: list[OneStepModel] = []
    if config.reward_model_weight > 0.0:
        models.append(RewardModel(obs_dim, act_dim, config.reward_model_weight,
                                  config.lr_critic, device))
    if config.tracking_model_weight > 0.0:
        models.append(TrackingModel(obs_dim, act_dim, config.tracking_model_weight,
                                    config.lr_critic, device, config.tracking_entry))
    return models


ALL_MODELS = (RewardModel, TrackingModel)
