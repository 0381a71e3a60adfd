"""Checks of what a checkpoint holds, field by field, so that a damaged or foreign one stops
with one line naming the field instead of a traceback (or a run that fails later, such as a
negative step): the types of every field on load (``check_fields``), that its numbers are
finite before it is resumed or written (``nonfinite_entries``), and that its optimizer state
fits the model it is loaded into (``check_optimizer_fits``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from seqnet.errors import CheckpointError

#: Bytes of a CPU generator state (``torch.get_rng_state()``, the Mersenne Twister's).
CPU_RNG_BYTES = torch.get_rng_state().numel()


def _type(value: Any) -> str:
    return type(value).__name__


def damaged(path: str | Path, what: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {str(path)!r} is damaged: {what}; use another checkpoint")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_fields(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Every field a resume, seqnet-grads or seqnet-sample reads has the type it must have."""
    config = checkpoint["config"]
    if not isinstance(config, Mapping):
        raise damaged(path, f"its config is a {_type(config)}, not a mapping of settings")
    for group in ("model", "data", "optim"):
        if not isinstance(config.get(group), Mapping):
            raise damaged(
                path,
                f"its config has no {group} settings (config.{group} is missing or not a mapping)",
            )
    for key in ("step", "nonfinite_steps", "clipped_steps"):
        if key not in checkpoint:
            continue
        value = checkpoint[key]
        if not _count(value):
            plain_int = isinstance(value, int) and not isinstance(value, bool)
            kind = "" if plain_int else f" (a {_type(value)})"
            raise damaged(path, f"its {key} is {value!r}{kind}, not an integer >= 0")
    _check_rng(checkpoint["rng"], path, "rng")
    for i, state in enumerate(checkpoint.get("rank_rng") or []):
        _check_rng(state, path, f"rank_rng[{i}]")
    model = checkpoint["model"]
    if not isinstance(model, Mapping):
        raise damaged(path, f"its model is a {_type(model)}, not a mapping of tensors")
    for name, value in model.items():
        if not isinstance(value, torch.Tensor):
            raise damaged(path, f"its model[{name!r}] is a {_type(value)}, not a tensor")
    optimizer = checkpoint["optimizer"]
    if not (
        isinstance(optimizer, Mapping)
        and isinstance(optimizer.get("state"), Mapping)
        and isinstance(optimizer.get("param_groups"), list)
    ):
        raise damaged(path, "its optimizer has no state and param_groups")


def _check_rng(state: Any, path: str | Path, name: str) -> None:
    if not isinstance(state, Mapping) or "torch" not in state:
        raise damaged(path, f"its {name} has no torch generator state")
    cpu = state["torch"]
    if not isinstance(cpu, torch.Tensor) or cpu.dtype != torch.uint8:
        raise damaged(path, f"its {name}.torch is a {_type(cpu)}, not a uint8 tensor")
    if cpu.numel() != CPU_RNG_BYTES:
        raise damaged(
            path, f"its {name}.torch holds {cpu.numel()} bytes, not the {CPU_RNG_BYTES} of a "
            "generator state"
        )  # fmt: skip


def _tensors(tree: Any, prefix: str) -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(tree, torch.Tensor):
        yield prefix, tree
    elif isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from _tensors(value, f"{prefix} {key}" if prefix else str(key))


def nonfinite_entries(model: Mapping[str, Any], optimizer_state: Any) -> list[str]:
    """``"model core.weight_hh_l0: 1 of 1024 values"`` for each floating tensor of the weights
    or of the optimizer's state that holds NaN or inf (empty when every number is finite)."""
    found = []
    named = [*_tensors(dict(model), "model"), *_tensors(optimizer_state, "optimizer state")]
    for name, tensor in named:
        if tensor.is_floating_point() or tensor.is_complex():
            bad = int((~torch.isfinite(tensor)).sum())
            if bad:
                found.append(f"{name}: {bad} of {tensor.numel()} values")
    return found


def check_finite(checkpoint: dict[str, Any], path: str | Path) -> None:
    """A checkpoint to resume from holds finite weights and optimizer state only."""
    bad = nonfinite_entries(checkpoint["model"], checkpoint["optimizer"].get("state", {}))
    if bad:
        raise CheckpointError(
            f"checkpoint {str(path)!r} holds non-finite numbers ({'; '.join(bad)}); it cannot "
            "be resumed: resume from an earlier checkpoint, or start afresh"
        )


def check_optimizer_fits(
    state: Mapping[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer, path: Path
) -> None:
    """The saved optimizer state belongs to this model: as many parameter groups and parameters,
    and every per-parameter tensor (Adam's moments, a momentum buffer) of the weight's shape."""
    saved_groups = state["param_groups"]
    saved = [len(g.get("params", [])) for g in saved_groups if isinstance(g, Mapping)]
    ours = [len(g["params"]) for g in optimizer.param_groups]
    hint = "use a checkpoint written with this model's optimizer"
    prefix = f"checkpoint {str(path)!r} holds an optimizer state that does not fit its model"
    if saved != ours:
        raise CheckpointError(
            f"{prefix}: it has {sum(saved)} parameter(s) in {len(saved)} group(s), the model "
            f"{sum(ours)} in {len(ours)}; {hint}"
        )
    names = {id(p): n for n, p in model.named_parameters()}
    params = [p for g in optimizer.param_groups for p in g["params"]]
    saved_ids = [i for g in saved_groups for i in g["params"]]
    for param, index in zip(params, saved_ids, strict=True):
        for key, value in (state["state"].get(index) or {}).items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != param.shape:
                raise CheckpointError(
                    f"{prefix}: {names.get(id(param), index)} is {tuple(param.shape)} and its "
                    f"{key} {tuple(value.shape)}; {hint}"
                )
