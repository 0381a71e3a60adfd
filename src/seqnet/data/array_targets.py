"""The targets of ``data=arrays`` checked and made ready for a shape: class ids in range (the
declared ``data.classes``), values as (N, D) or (N, T, D), target sequences of ids closed by an
end token; with the loss and metrics that fit them (``seqnet.data.targets``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from seqnet.data.array_files import ArrayFiles
from seqnet.data.files import file_error
from seqnet.data.targets import ClassTargets, DecodedTokens, DecodedValues, ValueTargets
from seqnet.data.task import IGNORE_INDEX

Kind = ClassTargets | ValueTargets | DecodedTokens


@dataclass
class Prepared:
    """Targets (N, ...) as a tensor, their loss and metrics, and the model's output side."""

    y: Tensor
    kind: Kind
    output_size: int
    output_kind: str = "real"
    output_len: int | None = None
    end_token: int | None = None


def prepare_targets(
    files: ArrayFiles, y: np.ndarray, shape: str, steps: int, classes: int | None
) -> Prepared:
    integer = y.dtype.kind in "iu"
    where, label = files.where("y"), files.label("y")
    wrong = file_error(
        where,
        f"{label} has shape {y.shape} ({y.dtype}), which does not fit data.shape={shape} with "
        f"x's {steps} steps",
        "see the shapes data=arrays takes (docs: Tasks), or set data.shape to the one meant",
    )
    if shape == "many_to_one":
        if integer and y.ndim == 1:
            labels = check_classes(files, y, classes)
            return Prepared(labels, ClassTargets(), class_count(y, classes))
        if integer or y.ndim > 2:
            raise wrong
        values = torch.from_numpy(y.astype(np.float32)).reshape(len(y), -1)
        return Prepared(values, ValueTargets(1.0), values.shape[1])
    if shape == "many_to_many":
        if y.ndim < 2 or y.shape[1] != steps or (integer and y.ndim != 2):
            raise wrong
        if integer:
            return Prepared(
                check_classes(files, y, classes), ClassTargets(), class_count(y, classes)
            )
        values = torch.from_numpy(y.astype(np.float32)).reshape(len(y), steps, -1)
        return Prepared(values, ValueTargets(1.0), values.shape[2])
    if y.ndim < 2 or (integer and y.ndim != 2):
        raise wrong
    if not integer:
        values = torch.from_numpy(y.astype(np.float32)).reshape(len(y), y.shape[1], -1)
        return Prepared(values, DecodedValues(1.0), values.shape[2], "real", y.shape[1])
    real = y >= 0
    inside = np.flatnonzero((real[:, 1:] & ~real[:, :-1]).any(axis=1))
    if len(inside):
        raise file_error(
            where,
            f"{label}: target sequence {inside[0]} has padding (a negative id) before an id "
            f"({len(inside)} such sequences)",
            "pad each target sequence only after its last id (with -100 or any negative id)",
        )
    count = class_count(np.where(real, y, 0), classes)
    check_classes(files, np.where(real, y, 0), classes)
    length = y.shape[1]
    out = np.full((len(y), length + 1), IGNORE_INDEX, dtype=np.int64)
    out[:, :length] = np.where(real, y, IGNORE_INDEX)
    out[np.arange(len(y)), real.sum(axis=1)] = count  # the end token, after each sequence
    return Prepared(torch.from_numpy(out), DecodedTokens(), count + 1, "tokens", length + 1, count)


def class_count(y: np.ndarray, classes: int | None) -> int:
    """``data.classes``, or the largest label + 1 (at least 2)."""
    return classes if classes is not None else max(int(y.max()) + 1, 2)


def check_classes(files: ArrayFiles, y: np.ndarray, classes: int | None) -> Tensor:
    """Labels within 0 .. classes-1 (the declared ``data.classes``; any label >= 0 without)."""
    if classes is not None and classes < 2:
        raise ValueError(f"data.classes must be >= 2, got {classes}")
    high = np.inf if classes is None else classes
    outside = np.argwhere((y < 0) | (y >= high))
    if len(outside):
        at = ", ".join(str(int(i)) for i in outside[0])
        declared = f"the declared classes 0..{classes - 1}" if classes else "the labels 0, 1, ..."
        fix = (
            f"set data.classes to at least {int(y.max()) + 1}, or fix the labels"
            if classes and y.min() >= 0
            else "use labels 0 .. classes-1"
        )
        raise file_error(
            files.where("y"),
            f"{files.label('y')} has label {int(y[tuple(outside[0])])} at [{at}], outside "
            f"{declared} ({len(outside)} such labels)",
            fix,
        )
    return torch.from_numpy(y.astype(np.int64))


def mean_baseline(y: Tensor) -> float:
    """The MSE of predicting the mean of the real (not NaN) training targets, per value."""
    values = y.double().reshape(-1, y.shape[-1])
    real = ~torch.isnan(values)
    mean = torch.where(real, values, 0).sum(0) / real.sum(0).clamp(min=1)
    errors = torch.where(real, values - mean, 0) ** 2
    mse = float(errors.sum() / real.sum())
    return mse if mse > 0 else 1.0
