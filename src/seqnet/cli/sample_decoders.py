"""``seqnet-sample`` for the decoder tasks: captions beside digits (``digit_caption``), generated
waves against the true ones (``sine_gen``), translations against their references
(``seq2seq``). Each decodes the first ``n`` examples of a held-out split (``seq2seq``: or the
numbers of ``prompt=``) with the model's greedy decoding (``model.generate``) and, for token
outputs, ``samples`` decodings drawn at ``temperature`` (``seqnet.models.sampling``)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from seqnet.cli.compare.profile_table import aligned
from seqnet.data.task import Batch, Task
from seqnet.errors import SeqnetError

#: Defaults of the options whose default depends on the task.
DEFAULT_N = {"digit_caption": 8, "sine_gen": 4, "seq2seq": 10}
DEFAULT_SAMPLES = {"digit_caption": 3, "seq2seq": 0}


def write_decoded(
    data: str, options: dict[str, Any], checkpoint: dict, device: torch.device
) -> str:
    """What seqnet-sample prints for a decoder task (files written on the way)."""
    from seqnet.cli.sample import load_model

    n = options["n"] or DEFAULT_N[data]
    split = options["split"] or "val"
    numbers = parse_numbers(options["prompt"], checkpoint) if data == "seq2seq" else None
    for name in ("split", "n"):
        if numbers is not None and options[name] is not None:
            raise SeqnetError(
                f"{name}= chooses validation examples, and prompt= gives the numbers to "
                f"translate: leave out {name}= or prompt="
            )
    task = rebuild_task(checkpoint["config"]["data"], n, device)
    if numbers is not None:
        batch = Batch(task.encode_source(numbers.to(device)), task.translate(numbers.to(device)))
        what = "the numbers of prompt="
    else:
        batch = held_out(task, split, n)
        what = f"{split} split, examples 0-{len(batch.x) - 1}"
    model = load_model(options["ckpt"], checkpoint, task.spec, device)
    samples = DEFAULT_SAMPLES.get(data, 0) if options["samples"] is None else options["samples"]
    heat = 1.0 if options["temperature"] is None else options["temperature"]
    seed = 0 if options["seed"] is None else options["seed"]
    if data == "sine_gen":
        return waves(task, model, batch, what, options["out"])
    sampled = sample_each(model, batch.x, samples, heat, seed)
    head = f"{data} ({what}): greedy decoding"
    if samples:
        head += f" and {samples} sampled at temperature {heat:g} (seed {seed})"
    if data == "digit_caption":
        return captions(task, model, batch, sampled, head, options["out"])
    return translations(task, model, batch, sampled, head, options["csv"])


def parse_numbers(prompt: str | None, checkpoint: dict) -> Tensor | None:
    """seq2seq's ``prompt=4021,17`` as numbers, checked against the run's data.max_digits."""
    if prompt is None:
        return None
    from seqnet.data.tasks.seq2seq import MAX_DIGITS

    max_digits = int(checkpoint["config"]["data"].get("max_digits", MAX_DIGITS))
    words = [w.strip() for w in prompt.split(",")]
    for word in words:
        if not word.isdigit() or len(word.lstrip("0") or "0") > max_digits:
            raise SeqnetError(
                f"prompt={prompt}: {word!r} is not a number of 1 to {max_digits} digits (the "
                f"run's data.max_digits); give numbers like prompt=4021,17"
            )
    return torch.tensor([int(w) for w in words], dtype=torch.int64)


def rebuild_task(data: dict[str, Any], n: int, device: torch.device) -> Task:
    """The checkpoint's task; a generated one with a validation set of at least ``n`` (its
    first sequences stay those the run validated on)."""
    from seqnet.data import build_task

    config = dict(data)
    if "val_size" in config:
        config["val_size"] = max(int(config["val_size"]), n)
    return build_task(config, device)


def held_out(task: Task, split: str, n: int) -> Batch:
    found = task.val_set() if split == "val" else task.test_set()
    if found is None:
        raise SeqnetError(f"split=test: data={task.config.name} has no test split; use split=val")
    if n > len(found.x):
        raise SeqnetError(
            f"n={n} is more than the {len(found.x)} examples of the {split} split; use n<="
            f"{len(found.x)}"
        )
    return Batch(found.x[:n], found.y[:n])


def sample_each(model: Any, x: Tensor, samples: int, heat: float, seed: int) -> list[Tensor]:
    """``samples`` sampled decodings of each example, (samples, output_len) ids per example:
    drawn example by example with one generator, so an example's samples do not depend on
    how many examples are decoded with it."""
    from seqnet.models.sampling import sample_tokens

    if not samples:
        return [x.new_zeros(0, 0) for _ in x]
    generator = torch.Generator(device=x.device).manual_seed(seed)
    return [
        sample_tokens(model, x[i : i + 1].expand(samples, *x.shape[1:]), heat, generator)
        for i in range(len(x))
    ]


def greedy(model: Any, x: Tensor) -> Tensor:
    with torch.no_grad():
        return model.generate(x)


def captions(
    task: Task, model: Any, batch: Batch, sampled: list[Tensor], head: str, out: str | None
) -> str:
    """digit_caption: each digit's greedy and sampled captions, printed and drawn."""
    from seqnet.data.tasks.digit_caption import VOCABULARY

    decoded = greedy(model, batch.x)
    rows = []
    for i in range(len(batch.x)):
        truth = VOCABULARY.decode(batch.y[i].tolist())
        caption = VOCABULARY.decode(decoded[i].tolist())
        others = [VOCABULARY.decode(s.tolist()) for s in sampled[i]]
        rows.append((truth, caption, caption == truth, others))
    k = len(sampled[0])
    table = [["#", "digit", "greedy", "right", *(f"sample {j + 1}" for j in range(k))]]
    table += [
        [str(i), t, c or "(empty)", "yes" if ok else "no", *(s or "(empty)" for s in o)]
        for i, (t, c, ok, o) in enumerate(rows)
    ]
    right = sum(ok for _, _, ok, _ in rows)
    path = Path(out or "samples_digit_caption.png")
    draw_captions(batch.x[:, 0].cpu().numpy(), rows, path)
    lines = [
        head,
        *aligned(table, left=len(table[0])),
        f"greedy captions right: {right} of {len(rows)}",
    ]
    return "\n".join([*lines, f"wrote {path}"])


def draw_captions(images: np.ndarray, rows: list, path: Path) -> None:
    from matplotlib.figure import Figure

    k = len(rows[0][3])
    fig = Figure(figsize=(1.5 * len(rows), 2.1 + 0.22 * k), dpi=80, layout="constrained")
    for i, (image, (truth, caption, ok, others)) in enumerate(zip(images, rows, strict=True)):
        ax = fig.add_subplot(1, len(rows), i + 1)
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(truth, fontsize="small")
        text = [f"{caption or '(empty)'} {'✓' if ok else '✗'}", *(s or "(empty)" for s in others)]
        ax.set_xlabel("\n".join(text), fontsize="small", color="0.1")
    fig.suptitle(
        "above: the true name; below: the greedy caption (✓ right), then sampled captions",
        fontsize="small",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def waves(task: Task, model: Any, batch: Batch, what: str, out: str | None) -> str:
    """sine_gen: the generated waves against the true ones, their MSE, printed and drawn."""
    from seqnet.data.tasks.sine_gen import BASELINE_MSE

    generated = greedy(model, batch.x)[..., 0].double().cpu().numpy()  # (n, T)
    truth = batch.y[..., 0].double().cpu().numpy()
    params = batch.x[:, 0].double().cpu().numpy()  # frequency, phase, amplitude
    mse = ((generated - truth) ** 2).mean(axis=1)
    table = [["#", "frequency", "phase", "amplitude", "mse", "baseline_ratio"]]
    for i, ((f, p, a), m) in enumerate(zip(params, mse, strict=True)):
        table.append(
            [str(i), f"{f:.3f}", f"{p:.3f}", f"{a:.3f}", f"{m:.4g}", f"{m / BASELINE_MSE:.4g}"]
        )
    path = Path(out or "samples_sine_gen.png")
    draw_waves(generated, truth, mse, path)
    mean = float(mse.mean())
    lines = [
        f"sine_gen ({what}, T={truth.shape[1]}): waves generated from (frequency, phase, "
        "amplitude) against the true ones",
        *aligned(table, left=1),
        f"mean mse over {len(mse)} waves: {mean:.4g} (baseline_ratio {mean / BASELINE_MSE:.4g}; "
        "predicting 0 everywhere scores 1)",
    ]
    return "\n".join([*lines, f"wrote {path}"])


def draw_waves(generated: np.ndarray, truth: np.ndarray, mse: np.ndarray, path: Path) -> None:
    from matplotlib.figure import Figure

    n = len(truth)
    fig = Figure(figsize=(7, 1.4 + 1.3 * n), dpi=80, layout="constrained")
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    t = np.arange(truth.shape[1])
    for i, ax in enumerate(axes):
        ax.plot(t, truth[i], color="0.2", lw=1.6, label="true")
        ax.plot(t, generated[i], color="C1", lw=1.4, ls="--", label="generated")
        ax.set_ylabel(f"#{i}", fontsize="small")
        ax.text(0.99, 0.92, f"mse {mse[i]:.3g}", transform=ax.transAxes, ha="right",
                va="top", fontsize="small")  # fmt: skip
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="upper left", fontsize="small", ncols=2, frameon=False)
    axes[-1].set_xlabel("timestep t")
    fig.suptitle("sine_gen: generated from the parameters alone, against the true wave")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def translations(
    task: Task, model: Any, batch: Batch, sampled: list[Tensor], head: str, out: str | None
) -> str:
    """seq2seq: input, greedy output, reference, exact-match flag (and the sampled outputs)."""
    from seqnet.data.tasks.seq2seq import SOURCE_PAD, VOCABULARY

    decoded = greedy(model, batch.x)
    records = []
    for i in range(len(batch.x)):
        source = "".join(str(d) for d in batch.x[i].tolist() if d != SOURCE_PAD)
        output = VOCABULARY.decode(decoded[i].tolist())
        reference = VOCABULARY.decode(batch.y[i].tolist())
        record = {"input": source, "output": output, "reference": reference}
        record["exact_match"] = output == reference
        for j, s in enumerate(sampled[i]):
            record[f"sample_{j + 1}"] = VOCABULARY.decode(s.tolist())
        records.append(record)
    columns = list(records[0])
    table = [["#", *columns]]
    for i, r in enumerate(records):
        cells = ["yes" if v is True else "no" if v is False else v or "(empty)" for v in r.values()]
        table.append([str(i), *cells])
    right = sum(r["exact_match"] for r in records)
    lines = [head, *aligned(table, left=len(table[0])), f"exact: {right} of {len(records)}"]
    if out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(records)
        lines.append(f"wrote {path}")
    return "\n".join(lines)
