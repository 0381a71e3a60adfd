"""``trainer.precision``: 32 (float32 throughout), bf16-mixed or 16-mixed (autocast).

Under autocast the forward pass runs matrix products in bfloat16 or float16 while the weights,
the optimizer and the gradients stay float32. float16's narrow range needs loss scaling (a
``GradScaler``) and is offered on the GPU only; bfloat16 has float32's range and needs none.
Gradient profiles are measured outside autocast, in ``grad_log.dtype`` (float32 or float64):
a vanishing gradient is exactly what reduced precision would hide.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from seqnet.errors import ConfigError

PRECISIONS = ("32", "bf16-mixed", "16-mixed")

log = logging.getLogger(__name__)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX). Without either
    PyTorch emulates it, many times slower than float32 (``scripts/bench.py --only precision``;
    the docs' performance page)."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


class MixedPrecision:
    """Autocast for the forward pass, and loss scaling for 16-mixed."""

    def __init__(self, precision: str, device: torch.device) -> None:
        precision = str(precision)
        if precision not in PRECISIONS:
            raise ConfigError(
                f"trainer.precision={precision} is not a precision; use one of "
                f"{', '.join(PRECISIONS)}"
            )
        if precision == "16-mixed" and device.type != "cuda":
            raise ConfigError(
                f"trainer.precision=16-mixed needs a GPU (this run is on {device.type}); "
                "use trainer.precision=bf16-mixed on the CPU"
            )
        if precision == "bf16-mixed" and device.type == "cpu" and not cpu_has_native_bf16():
            log.warning(
                "trainer.precision=bf16-mixed: this CPU has no native bfloat16 (AVX512-BF16 or "
                "AMX), so PyTorch emulates it and training runs many times slower than with "
                "trainer.precision=32"
            )
        self.precision = precision
        self.device_type = device.type
        self.dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
        self.scaler = torch.amp.GradScaler("cuda") if precision == "16-mixed" else None

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.dtype is None:
            yield
            return
        with torch.autocast(self.device_type, dtype=self.dtype):
            yield

    def backward(self, loss: Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler else loss).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Bring the gradients back to their true size (before measuring and clipping them)."""
        if self.scaler:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()

    def skip(self) -> None:
        """A step skipped for a non-finite gradient: the scaler lowers its scale."""
        if self.scaler:
            self.scaler.update()

    def scale_overflowed(self, loss_value: float) -> bool:
        """Whether a step's non-finite gradient is the loss scaling's, not the model's: under
        16-mixed with a finite loss and a scale still above 1, the scaled float16 gradients
        overflowed. That is the scaler's normal search for its scale (a short GPU run meets a
        few at the start): ``skip()`` halves the scale and the run goes on, without counting
        the step as non-finite. At a scale of 1 or below, scaling explains nothing any more."""
        return self.scaler is not None and math.isfinite(loss_value) and self.scale() > 1.0

    def scalars(self) -> dict[str, float]:
        """What the loop logs beside its own scalars: ``train/loss_scale`` under 16-mixed."""
        return {"train/loss_scale": self.scale()} if self.scaler else {}

    def scale(self) -> float:
        """The loss scale (1.0 without a scaler)."""
        return float(self.scaler.get_scale()) if self.scaler else 1.0

    def state_dict(self) -> dict[str, Any]:
        return self.scaler.state_dict() if self.scaler else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler and state:
            self.scaler.load_state_dict(state)
