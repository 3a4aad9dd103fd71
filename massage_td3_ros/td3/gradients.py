"""Hand-written forward and backward passes of the TD3 update's ReLU networks.

The update's networks are fixed small MLPs, so their gradients are a few matrix
products each: for a layer ``y = x W + b`` with upstream gradient ``g``, ``dW = x^T g``,
``db = sum(g)``, ``dx = g W^T``, and ReLU passes ``g`` where its output was positive.
Writing them out (td3.backprop: manual) skips autograd's graph, its saved tensors and
its per-operation bookkeeping, computes only the gradients the update uses, and casts
each weight to the matmul dtype once per pass instead of once per product. The maths
is autograd's; test_td3_gradients.py checks both give the same update.

Two weight layouts, as the networks store them:
- 2-D ``[out, in]`` with bias ``[out]`` (``nn.Linear``: the actor);
- 3-D ``[heads, in, out]`` with bias ``[heads, 1, out]`` (``StackedLinear``: the critic,
  its heads evaluated in one batched product; inputs ``[heads, batch, in]``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Layer = tuple[torch.Tensor, torch.Tensor]  # (weight, bias) in the matmul dtype

_relu_backward = torch.ops.aten.threshold_backward


def cast_layers(params: Sequence[torch.Tensor], dtype: torch.dtype) -> list[Layer]:
    """``[(weight, bias), ...]`` in ``dtype`` from a network's parameters in their
    registration order (weight, bias, weight, bias, ...); a float32 cast of float32 is free."""
    tensors = [param.detach().to(dtype) for param in params]
    return list(zip(tensors[0::2], tensors[1::2], strict=True))


def forward(x: torch.Tensor, layers: Sequence[Layer]) -> list[torch.Tensor]:
    """Every layer's output, ReLU after all but the last: ``[x, h1, ..., out]``.

    The ReLU runs in place: its backward needs only its output, which is kept.
    """
    outputs = [x]
    last = len(layers) - 1
    for i, (weight, bias) in enumerate(layers):
        if weight.dim() == 3:
            x = torch.baddbmm(bias, x, weight)
        else:
            x = torch.addmm(bias, x, weight.t())
        if i < last:
            x = torch.relu_(x)
        outputs.append(x)
    return outputs


def backward(outputs: Sequence[torch.Tensor], layers: Sequence[Layer], grad: torch.Tensor,
             param_grads: bool = True, input_grad: bool = False
             ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    """Gradients of the loss whose gradient at the last output is ``grad``.

    Returns the parameter gradients in registration order (weight, bias, ...; each laid
    out as its parameter, in the matmul dtype; empty without ``param_grads``) and, with
    ``input_grad``, the gradient at the input (else None).
    """
    grads: list[torch.Tensor] = []
    for i in reversed(range(len(layers))):
        weight, inputs = layers[i][0], outputs[i]
        stacked = weight.dim() == 3
        if param_grads:
            if stacked:
                grads += [grad.sum(dim=1, keepdim=True), torch.bmm(inputs.transpose(1, 2), grad)]
            else:
                grads += [grad.sum(dim=0), torch.mm(grad.t(), inputs)]
        if i == 0 and not input_grad:
            break
        grad = torch.bmm(grad, weight.transpose(1, 2)) if stacked else torch.mm(grad, weight)
        if i > 0:
            grad = _relu_backward(grad, inputs, 0)
    grads.reverse()
    return grads, (grad if input_grad else None)


def set_grads(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor]) -> None:
    """Store ``grads`` (in any dtype) as the parameters' ``.grad``, in their dtype."""
    for param, grad in zip(params, grads, strict=True):
        param.grad = grad.to(param.dtype)
