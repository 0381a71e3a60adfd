"""One exact gradient-profile pass.

The model is run step by step on the engine with a zero probe added to every state, with the
same weights as training (or a float64 copy of them). One ``autograd.grad`` call then yields the
total derivative of the loss with respect to every state at every timestep. Only the probes'
gradients are computed: parameter ``.grad`` fields, the model's mode and every random-number
generator are left as they were, so measuring does not change training.
"""

from __future__ import annotations

import copy
import hashlib

import numpy as np
import torch

from seqnet.data.task import Batch, Task
from seqnet.gradients.profiles import GradientProfile
from seqnet.models.engine import Probes
from seqnet.models.factory import Model

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def measure_profile(
    model: Model,
    task: Task,
    batch: Batch,
    step: int,
    dtype: str = "float32",
    loss: str = "last",
) -> GradientProfile:
    """Per-timestep gradient norms of ``model`` on ``batch``.

    The loss is the sum over sequences of each sequence's task loss (``loss="last"``: at the
    final output; ``"total"``: summed over outputs), so each sequence's gradient is that of its
    own loss, independent of the batch size; norms are averaged over the batch. For sequences
    of different lengths (``task.sequence_ends``) the norms are aligned at each sequence's own
    end: position ``T-1-k`` holds the mean over the sequences that have a step ``k`` steps
    before their end (``mean_from_ends``).
    """
    if dtype not in _DTYPES:
        raise ValueError(f"grad_log.dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    if loss not in ("last", "total"):
        raise ValueError(f"grad_log.loss must be 'last' or 'total', got {loss!r}")
    torch_dtype = _DTYPES[dtype]
    net = model
    if torch_dtype != next(model.parameters()).dtype:
        net = copy.deepcopy(model).to(torch_dtype)
    x, y = (t.to(torch_dtype) if t.is_floating_point() else t for t in batch)

    was_training = net.training
    net.eval()  # no dropout: the probe pass draws no random numbers
    try:
        with torch.enable_grad():
            probes = Probes()
            pred, _ = net(x, probes=probes, targets=y)
            total = task.sequence_loss(pred, y, last_only=loss == "last").sum()
            names = list(probes.tensors)
            grads = torch.autograd.grad(
                total, [probes.tensors[n] for n in names], allow_unused=True
            )
    finally:
        net.train(was_training)

    ends = task.sequence_ends(y)
    norms: dict[str, np.ndarray] = {}
    for name, grad in zip(names, grads, strict=True):
        if grad is None:
            grad = torch.zeros_like(probes.tensors[name])
        per_sequence = scaled_norm(grad.detach())  # "x": (batch, time); states: (time, batch)
        time_first = per_sequence if name != "x" else per_sequence.transpose(0, 1)
        mean = time_first.mean(dim=1) if ends is None else mean_from_ends(time_first, ends)
        norms[name] = mean.cpu().numpy()
    return GradientProfile(step=step, norms=norms, dtype=dtype)


def mean_from_ends(norms: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Per-step norms (time, batch) of sequences that end at steps ``ends`` (batch,), averaged
    with each sequence aligned at its own end: entry ``T-1-k`` is the mean of
    ``norms[ends[b] - k, b]`` over the sequences ``b`` with ``ends[b] >= k`` (0 where none has
    such a step). A sequence's steps after its end (padding) take no part."""
    steps = norms.shape[0]
    back = torch.arange(steps - 1, -1, -1, device=norms.device)  # k at each position
    source = ends.to(norms.device)[None, :] - back[:, None]  # (time, batch): the step shown
    present = source >= 0
    picked = norms.gather(0, source.clamp(min=0))
    total = torch.where(present, picked, torch.zeros_like(picked)).sum(dim=1)
    return total / present.sum(dim=1).clamp(min=1)


def scaled_norm(grad: torch.Tensor) -> torch.Tensor:
    """Euclidean norm over the last dimension, in float64, exact down to the smallest float64.

    ``x.norm()`` is a plain square root of a sum of squares: a float64 entry below about 1e-154
    squares below the smallest normal float64 (below 1e-162, under the smallest denormal), so
    with denormals flushed a float64 profile would read exactly 0 from about 1e-154 down (and a
    norm above about 1e154 would overflow). Rows whose plain norm is outside (1e-150, 1e150)
    are recomputed divided by their largest magnitude, which keeps the squares near 1, and
    multiplied back; all-zero rows stay zero. Float32 gradients need no scaling: their squares,
    taken in float64, stay far inside its range. Only those rows are rescaled, since scaling
    every row made the norms several times as costly.
    """
    norm = grad.double().norm(dim=-1)
    if grad.dtype != torch.float64:
        return norm
    risky = ~((norm > 1e-150) & (norm < 1e150))
    if risky.any():
        rows = grad[risky]
        largest = rows.abs().amax(dim=-1, keepdim=True)
        scale = torch.where(largest > 0, largest, torch.ones_like(largest))
        norm[risky] = (rows / scale).norm(dim=-1) * scale.squeeze(-1)
    return norm


def batch_fingerprint(batch: Batch) -> str:
    """A short hash of the probe batch (each tensor's dtype, shape and bytes): profiles are
    comparable only when measured on the same sequences, whatever settings produced them."""
    digest = hashlib.sha256()
    for tensor in batch:
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]
