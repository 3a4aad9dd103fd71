"""TD3 (Fujimoto et al. 2018): twin critics, target-policy smoothing, delayed actor.

The update is the paper's; how it runs is tuned for CPUs: optional bfloat16 autocast of
the matrix products (td3.precision), both critics in one batched product per layer
(networks.Critic), the actor's backward pass computing the actor's gradients only, fused
Adam stepped without torch's per-call bookkeeping (td3/optim.py), the soft target update
as one foreach lerp per network, and (td3.backprop: manual, the default) gradients
written out by hand instead of autograd's (td3/gradients.py; the autograd form is kept,
readable and checked against). Optional action smoothness terms in the actor loss (CAPS,
Mysore et al. 2021; td3.smooth_*), and optional learned one-step models in it (a reward
model, a tracking model: td3/one_step_models.py), all off by default.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch.nn import functional

from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.td3.cpu import flushed_denormals, has_fast_bfloat16
from massage_td3_ros.td3.gradients import backward, cast_layers, forward, set_grads
from massage_td3_ros.td3.networks import (
    Actor,
    Critic,
    convert_two_mlp_optimizer_state,
)
from massage_td3_ros.td3.one_step_models import ALL_MODELS, OneStepModel, one_step_models
from massage_td3_ros.td3.optim import adam, step_adam
from massage_td3_ros.td3.replay_buffer import Batch


def resolve_device(name: str) -> torch.device:
    """The torch device for ``name``; a clear error when CUDA is asked for but absent."""
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("td3.device is 'cuda' but torch sees no CUDA device "
                           "(CPU-only torch build or no GPU); set td3.device: cpu")
    return torch.device(name)


def use_torch_threads(threads: int) -> None:
    """``torch.set_num_threads(threads)`` (td3.torch_threads); 0 leaves torch's default."""
    if threads > 0:
        torch.set_num_threads(threads)


@torch.no_grad()
def polyak_update(sources: Iterable[torch.Tensor], targets: Iterable[torch.Tensor],
                  tau: float) -> None:
    """In place: target <- tau * source + (1 - tau) * target (one foreach lerp)."""
    targets, sources = list(targets), list(sources)
    if len(targets) != len(sources):
        raise ValueError(f"{len(sources)} source tensors for {len(targets)} targets")
    torch._foreach_lerp_(targets, sources, tau)


def matmul_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype of the update's matrix products for td3.precision on ``device``."""
    if precision == "bfloat16":
        return torch.bfloat16
    if precision == "auto" and device.type == "cpu" and has_fast_bfloat16():
        return torch.bfloat16
    return torch.float32


def target_action(actor_target: torch.nn.Module, next_obs: torch.Tensor,
                  policy_noise: float, noise_clip: float, max_action: float) -> torch.Tensor:
    """Target-policy smoothing: target actor's action plus clipped Gaussian noise."""
    action = actor_target(next_obs)
    noise = (torch.randn_like(action) * policy_noise).clamp(-noise_clip, noise_clip)
    return (action + noise).clamp(-max_action, max_action)


def both_heads(obs: torch.Tensor, action: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The critic's input for both stacked Q heads: ``[2, B, obs + act]`` in ``dtype``."""
    obs_action = torch.cat([obs, action], dim=1).to(dtype)
    return obs_action.unsqueeze(0).expand(2, *obs_action.shape)


def squashed_action(obs: torch.Tensor, actor_layers, dtype: torch.dtype
                    ) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Actor.forward without max_action, from cast layers: (every layer's output, tanh of
    the last in float32)."""
    outputs = forward(obs.to(dtype), actor_layers)
    return outputs, torch.tanh(outputs[-1].float())


class TD3:
    """Actor, twin critics, their target copies and optimisers; knows nothing of envs."""

    def __init__(self, obs_dim: int, act_dim: int, config: TD3Config | None = None) -> None:
        self.config = config or TD3Config()
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.device = resolve_device(self.config.device)
        cfg = self.config
        self.actor = Actor(obs_dim, act_dim, cfg.actor_hidden, cfg.max_action).to(self.device)
        self.critic = Critic(obs_dim, act_dim, cfg.critic_hidden).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_params = list(self.actor.parameters())
        self.actor_optimizer = adam(self.actor_params, cfg.lr_actor, self.device)
        self.critic_optimizer = adam(self.critic.parameters(), cfg.lr_critic, self.device)
        self.matmul_dtype = matmul_dtype(cfg.precision, self.device)
        self.one_step_models: list[OneStepModel] = one_step_models(cfg, obs_dim, act_dim,
                                                                   self.device)
        self.critic_updates = 0
        self.actor_updates = 0
        # The target networks in the matmul dtype (manual backprop): they change only
        # at the soft update, every policy_freq-th update, so they are cast only then.
        self._cast_targets: tuple[list, list] | None = None

    def _matmuls(self):
        """Autocast of the forward passes to the matmul dtype (float32: nothing)."""
        if self.matmul_dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.matmul_dtype)

    def train(self, batch: Batch) -> dict[str, float]:
        """One critic update; every ``policy_freq``-th call also the actor and targets.

        Returns critic_loss and q_mean, plus actor_loss when the actor was updated.
        Runs with denormal floats flushed to zero (:func:`flushed_denormals`).
        """
        with flushed_denormals():
            return self._train(batch)

    def _train(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        manual = cfg.backprop == "manual"
        critic_loss, q1 = (self._critic_grads_manual if manual else self._critic_grads)(batch)
        step_adam(self.critic_optimizer)
        self.critic_updates += 1
        losses = {"critic_loss": critic_loss.item(), "q_mean": q1.mean().item()}
        for model in self.one_step_models:
            losses[f"{model.key}_loss"] = model.fit(batch, manual).item()

        if self.critic_updates % cfg.policy_freq == 0:
            actor_loss = (self._actor_grads_manual if manual else self._actor_grads)(batch)
            step_adam(self.actor_optimizer)
            self.actor_updates += 1
            polyak_update(self.critic.parameters(), self.critic_target.parameters(), cfg.tau)
            polyak_update(self.actor.parameters(), self.actor_target.parameters(), cfg.tau)
            self._cast_targets = None
            losses["actor_loss"] = actor_loss.item()
        return losses

    def _critic_grads(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Autograd: the critics' gradients of the clipped double-Q loss; (loss, Q1)."""
        cfg = self.config
        with torch.no_grad(), self._matmuls():
            next_action = target_action(self.actor_target, batch.next_obs, cfg.policy_noise,
                                        cfg.noise_clip, cfg.max_action)
            q1_next, q2_next = self.critic_target(batch.next_obs, next_action)
        # Targets and losses in float32 whatever the matmuls ran in.
        with torch.no_grad():
            # Only a true termination stops bootstrapping; a time-limit cut does not.
            target_q = batch.reward + cfg.gamma * (1.0 - batch.terminated) * torch.min(
                q1_next, q2_next).float()
        with self._matmuls():
            q1, q2 = self.critic(batch.obs, batch.action)
        q1, q2 = q1.float(), q2.float()
        critic_loss = functional.mse_loss(q1, target_q) + functional.mse_loss(q2, target_q)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        return critic_loss.detach(), q1.detach()

    def model(self, key: str) -> OneStepModel | None:
        """The one-step model named ``key`` ("reward_model", "tracking_model"), if on."""
        return next((m for m in self.one_step_models if m.key == key), None)

    def _model_terms(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The one-step models' part of the actor loss (0.0 when none is on)."""
        return sum((m.actor_term(obs, action) for m in self.one_step_models),
                   torch.zeros(()))

    def _actor_grads(self, batch: Batch) -> torch.Tensor:
        """Autograd: the actor's gradients of -Q1(s, pi(s)) (+ smoothness, + the one-step
        models' terms); the loss."""
        with self._matmuls():
            action = self.actor(batch.obs)
            q_actor = self.critic.q1_value(batch.obs, action)
        actor_loss = (-q_actor.float().mean() + self._smoothness_loss(batch, action)
                      + self._model_terms(batch.obs, action))
        self.actor_optimizer.zero_grad(set_to_none=True)
        # Gradients for the actor only: the critic's from this loss would be dropped
        # (zero_grad before the next critic backward), so they are not computed.
        actor_loss.backward(inputs=self.actor_params)
        return actor_loss.detach()

    @torch.no_grad()
    def _critic_grads_manual(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_critic_grads` with the gradients written out (td3/gradients.py)."""
        cfg, dtype = self.config, self.matmul_dtype
        if self._cast_targets is None:
            self._cast_targets = (cast_layers(list(self.actor_target.parameters()), dtype),
                                  cast_layers(list(self.critic_target.parameters()), dtype))
        target_actor, target_critic = self._cast_targets
        next_action = target_action(
            lambda obs: cfg.max_action * squashed_action(obs, target_actor, dtype)[1],
            batch.next_obs, cfg.policy_noise, cfg.noise_clip, cfg.max_action)
        q_next = forward(both_heads(batch.next_obs, next_action, dtype), target_critic)[-1]
        target_q = batch.reward + cfg.gamma * (1.0 - batch.terminated) * torch.min(
            q_next[0], q_next[1]).float()
        critic = cast_layers(list(self.critic.parameters()), dtype)
        outputs = forward(both_heads(batch.obs, batch.action, dtype), critic)
        q = outputs[-1].float()                             # (2, B, 1): Q1 and Q2
        error = q - target_q
        critic_loss = error.square().mean(dim=(1, 2)).sum()  # MSE of Q1 + MSE of Q2
        grads, _ = backward(outputs, critic, (error * (2.0 / error.shape[1])).to(dtype))
        set_grads(list(self.critic.parameters()), grads)
        return critic_loss, q[0]

    @torch.no_grad()
    def _actor_grads_manual(self, batch: Batch) -> torch.Tensor:
        """:meth:`_actor_grads` with the gradients written out: back through Q1 to the
        action, through tanh, then through the actor. The smoothness terms' extra
        observations (s', noisy s) go through the actor in the same pass as s."""
        cfg, dtype = self.config, self.matmul_dtype
        rows = batch.obs.shape[0]
        observations = [batch.obs]
        if cfg.smooth_temporal > 0.0:
            observations.append(batch.next_obs)
        if cfg.smooth_spatial > 0.0:
            observations.append(batch.obs + cfg.smooth_sigma * torch.randn_like(batch.obs))
        actor = cast_layers(self.actor_params, dtype)
        actor_outputs, squashed = squashed_action(torch.cat(observations), actor, dtype)
        actions = cfg.max_action * squashed
        q1_layers = cast_layers([param[:1] for param in self.critic.parameters()], dtype)
        q1_outputs = forward(torch.cat([batch.obs, actions[:rows]], dim=1).to(dtype)
                             .unsqueeze(0), q1_layers)
        actor_loss = -q1_outputs[-1].float().mean()
        _, input_grad = backward(q1_outputs, q1_layers,
                                 torch.full_like(q1_outputs[-1], -1.0 / rows),
                                 param_grads=False, input_grad=True)
        action_grads = torch.zeros_like(actions)
        action_grads[:rows] = input_grad[0, :, self.obs_dim:]
        for model in self.one_step_models:
            term, model_grad = model.actor_term_manual(batch.obs, actions[:rows])
            actor_loss = actor_loss + term
            action_grads[:rows] += model_grad.to(action_grads.dtype)
        weights = [weight for weight in (cfg.smooth_temporal, cfg.smooth_spatial) if weight > 0]
        for k, weight in enumerate(weights, start=1):
            other = slice(k * rows, (k + 1) * rows)
            difference = actions[:rows] - actions[other]
            norm = torch.linalg.vector_norm(difference, dim=1, keepdim=True)
            actor_loss = actor_loss + weight * norm.mean()
            # d|a - b| / da = (a - b) / |a - b|, and 0 where a == b (as autograd's).
            grad = torch.where(norm > 0, difference / norm.clamp_min(1e-30), 0.0) * (weight / rows)
            action_grads[:rows] += grad
            action_grads[other] -= grad
        output_grad = action_grads * cfg.max_action * (1.0 - squashed * squashed)
        grads, _ = backward(actor_outputs, actor, output_grad.to(dtype))
        set_grads(self.actor_params, grads)
        return actor_loss

    def _smoothness_loss(self, batch: Batch, action: torch.Tensor) -> torch.Tensor | float:
        """CAPS's temporal and spatial terms (0.0 when both weights are 0)."""
        cfg, loss = self.config, 0.0
        if cfg.smooth_temporal > 0.0:
            with self._matmuls():
                next_action = self.actor(batch.next_obs)
            loss = loss + cfg.smooth_temporal * torch.linalg.vector_norm(
                (action - next_action).float(), dim=1).mean()
        if cfg.smooth_spatial > 0.0:
            nearby = batch.obs + cfg.smooth_sigma * torch.randn_like(batch.obs)
            with self._matmuls():
                nearby_action = self.actor(nearby)
            loss = loss + cfg.smooth_spatial * torch.linalg.vector_norm(
                (action - nearby_action).float(), dim=1).mean()
        return loss

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training: networks, targets, optimisers, counters
        (and each one-step model with its optimiser, when on)."""
        state = {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "critic_updates": self.critic_updates,
            "actor_updates": self.actor_updates,
        }
        for model in self.one_step_models:
            state[model.key] = model.network.state_dict()
            state[f"{model.key}_optimizer"] = model.optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (strict: every tensor must match).

        A state saved with the earlier two-MLP critic loads too: its critic weights (by
        the critic's load hook) and its critic optimiser's moments become the stacked ones.
        """
        for kind in ALL_MODELS:
            saved, here = kind.key in state, self.model(kind.key) is not None
            if saved != here:
                name = kind.key.replace("_", " ")
                raise ValueError(f"the saved agent {'has a' if saved else 'has no'} {name} "
                                 f"and this one {'has one' if here else 'has none'} "
                                 f"(td3.{kind.weight_option} must be > 0 in both or in "
                                 "neither)")
        if any(key.startswith("q1.") for key in state["critic"]):
            state = dict(state, critic_optimizer=convert_two_mlp_optimizer_state(
                state["critic_optimizer"], self.critic))
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.actor_target.load_state_dict(state["actor_target"])
        self.critic_target.load_state_dict(state["critic_target"])
        optimizers = [(self.actor_optimizer, "actor_optimizer"),
                      (self.critic_optimizer, "critic_optimizer")]
        for model in self.one_step_models:
            model.network.load_state_dict(state[model.key])
            optimizers.append((model.optimizer, f"{model.key}_optimizer"))
        for optimizer, key in optimizers:
            # A saved optimiser brings its own kernel choice; keep this one's (same maths).
            kernels = [{k: group.get(k) for k in ("fused", "foreach")}
                       for group in optimizer.param_groups]
            optimizer.load_state_dict(state[key])
            for group, kernel in zip(optimizer.param_groups, kernels, strict=True):
                group.update(kernel)
        self.critic_updates = int(state["critic_updates"])
        self.actor_updates = int(state["actor_updates"])
        self._cast_targets = None
