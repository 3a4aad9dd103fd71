"""Adam for the TD3 update: torch's own, fused, stepped without its per-call bookkeeping.

``torch.optim.Adam.step()`` gathers every parameter's state, checks dtypes, devices and
flags, and only then calls the fused kernel: about 0.17 ms of Python per step on a
2-core AMD EPYC, paid 1.5 times per update of about 7.5 ms. Once every parameter has its
state, :func:`step_adam` hands the same lists to the same kernel with the same
arguments, so the result is torch's to the bit and the optimiser's state (its
``state_dict``, hence checkpoints) is its own (``test/test_td3_optim.py``). Anything
the shortcut does not cover (the first step, a non-fused or AMSGrad optimiser, several
parameter groups, a missing gradient) goes through ``optimizer.step()``.
"""

from __future__ import annotations

import torch


def adam(parameters, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam with its fused kernel where torch has one for the device (same maths)."""
    try:
        return torch.optim.Adam(parameters, lr=lr, fused=device.type in ("cpu", "cuda"))
    except (RuntimeError, TypeError):  # an older torch without a fused CPU Adam
        return torch.optim.Adam(parameters, lr=lr)


def _plain_fused(optimizer: torch.optim.Optimizer) -> dict | None:
    """The one parameter group if the fused kernel can be called on it as torch would."""
    if len(optimizer.param_groups) != 1:
        return None
    group = optimizer.param_groups[0]
    unsupported = ("amsgrad", "maximize", "capturable", "differentiable",
                   "decoupled_weight_decay")
    if not group.get("fused") or any(group.get(flag) for flag in unsupported):
        return None
    if isinstance(group["lr"], torch.Tensor) or not hasattr(torch, "_fused_adam_"):
        return None
    kinds = {(param.device, param.dtype) for param in group["params"]}
    if len(kinds) != 1 or not next(iter(kinds))[1].is_floating_point:
        return None   # torch would split the lists by device and dtype, or view complex
    return group


def step_adam(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.step()``, calling the fused kernel directly once the state exists."""
    group = _plain_fused(optimizer)
    params = group["params"] if group is not None else ()
    states = [optimizer.state.get(param) for param in params]
    if (group is None or any(param.grad is None for param in params)
            or any(not state or "step" not in state for state in states)):
        optimizer.step()
        return
    steps = [state["step"] for state in states]
    beta1, beta2 = group["betas"]
    with torch.no_grad():   # as torch's step: the parameters change outside autograd
        torch._foreach_add_(steps, 1)   # as torch: the step counts first, then the kernel
        torch._fused_adam_(params, [param.grad for param in params],
                           [state["exp_avg"] for state in states],
                           [state["exp_avg_sq"] for state in states], [], steps,
                           lr=group["lr"], beta1=beta1, beta2=beta2,
                           weight_decay=group["weight_decay"], eps=group["eps"],
                           amsgrad=False, maximize=False)


__all__ = ["adam", "step_adam"]
