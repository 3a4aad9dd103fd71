"""Learned one-step models whose value at the actor's action joins the actor's loss.

Both are off by default, as in the paper's TD3 (issue 14, results/heldout/PROTOCOL.md,
sessions 23 and 24). Each is a small network of (s, a), fitted by mean squared error to
one quantity of the batch's transitions at every critic update, with its own Adam at
``lr_critic``:

- ``RewardModel`` (td3.reward_model_weight): R(s, a) fitted to r; the actor's term is
  -w mean R(s, pi(s)).
- ``TrackingModel`` (td3.tracking_model_weight, td3.tracking_entry): M(s, a) fitted to
  the change of one observation entry e from s to s' (an error that is 0 at the goal,
  e.g. the force error); the actor's term is w mean (s[e] + M(s, pi(s)) - rho s[e])^2,
  the squared distance of the predicted next error from rho times the current one
  (td3.tracking_error_kept). With rho 0 its minimum is the action a one-step search
  over that model would take; above 0 the actor closes a fraction 1 - rho of the error
  per step, a first-order reference trajectory, as model-predictive controllers use so
  that a model error at a large correction costs less.

They know nothing of envs: the tracked entry is an index into the observation. With
td3.backprop manual (the default) their passes are written out as the actor's and the
critics' are (td3/gradients.py): no autograd graph; the autograd form stays for td3.backprop
autograd and the test that compares them.
"""

from __future__ import annotations

import torch
from torch.nn import functional

from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.td3.gradients import backward, cast_layers, forward, set_grads
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

    def term(self, obs: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """The actor's loss term (a scalar, to be minimised) from the model's ``value``
        (B, 1) at the actor's actions."""
        raise NotImplementedError

    def term_grad(self, obs: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """d term / d value, (B, 1): :meth:`term` differentiated by hand."""
        raise NotImplementedError

    def actor_term(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The model's part of the actor's loss, through autograd."""
        return self.term(obs, self(obs, action))

    @torch.no_grad()
    def actor_term_manual(self, obs: torch.Tensor, action: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`actor_term` and its gradient at ``action``, written out."""
        layers = cast_layers(list(self.network.parameters()), torch.float32)
        outputs = forward(torch.cat([obs, action.float()], dim=1), layers)
        value = outputs[-1]
        _, input_grad = backward(outputs, layers, self.term_grad(obs, value),
                                 param_grads=False, input_grad=True)
        return self.term(obs, value), input_grad[:, obs.shape[1]:]

    def fit(self, batch: Batch, manual: bool = True) -> torch.Tensor:
        """One Adam step towards the batch's labels (float32); the loss. ``manual``:
        gradients written out, else through autograd (the same maths)."""
        if manual:
            with torch.no_grad():
                params = list(self.network.parameters())
                layers = cast_layers(params, torch.float32)
                outputs = forward(torch.cat([batch.obs, batch.action], dim=1), layers)
                error = outputs[-1] - self.label(batch)
                grads, _ = backward(outputs, layers, error * (2.0 / error.numel()))
                set_grads(params, grads)
                loss = error.square().mean()
        else:
            loss = functional.mse_loss(self(batch.obs, batch.action), self.label(batch))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            loss = loss.detach()
        step_adam(self.optimizer)
        return loss


class RewardModel(OneStepModel):
    # R's action gradient says which way the next step's reward rises, which the
    # critic's bootstrapped values blur.
    key, weight_option = "reward_model", "reward_model_weight"

    def label(self, batch: Batch) -> torch.Tensor:
        return batch.reward

    def term(self, obs: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return -self.weight * value.mean()

    def term_grad(self, obs: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return torch.full_like(value, -self.weight / value.shape[0])


class TrackingModel(OneStepModel):
    # The model-greedy objective (session 23's best realisable controller), smooth and
    # zero at the goal, without the reward's kink and its other terms.
    key, weight_option = "tracking_model", "tracking_model_weight"

    def __init__(self, obs_dim: int, act_dim: int, weight: float, lr: float,
                 device: torch.device, entry: int, error_kept: float = 0.0) -> None:
        if not 0 <= entry < obs_dim:
            raise ValueError(f"td3.tracking_entry is {entry}; with td3.tracking_model_weight "
                             f"> 0 it must index the observation (0-{obs_dim - 1})")
        super().__init__(obs_dim, act_dim, weight, lr, device)
        self.entry = slice(entry, entry + 1)
        self.closed = 1.0 - error_kept   # the fraction of the error each step aims to close

    def label(self, batch: Batch) -> torch.Tensor:
        return batch.next_obs[:, self.entry] - batch.obs[:, self.entry]

    def term(self, obs: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return self.weight * (self.closed * obs[:, self.entry] + value).square().mean()

    def term_grad(self, obs: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return (self.closed * obs[:, self.entry] + value) * (2.0 * self.weight / value.shape[0])


def one_step_models(config: TD3Config, obs_dim: int, act_dim: int,
                    device: torch.device) -> list[OneStepModel]:
    """The models ``config`` switches on (a weight > 0), in a fixed order."""
    models: list[OneStepModel] = []
    if config.reward_model_weight > 0.0:
        models.append(RewardModel(obs_dim, act_dim, config.reward_model_weight,
                                  config.lr_critic, device))
    if config.tracking_model_weight > 0.0:
        models.append(TrackingModel(obs_dim, act_dim, config.tracking_model_weight,
                                    config.lr_critic, device, config.tracking_entry,
                                    config.tracking_error_kept))
    return models


ALL_MODELS = (RewardModel, TrackingModel)
