"""TensorBoard views of gradient profiles. Tag names are a public interface:

- ``grad_profile/<q>/step_<s:07d>``: log10 norm per timestep (TensorBoard step = timestep), so
  the same tag from several runs overlays their curves at training step s;
- ``grad_depth/<q>/t_<t:04d>``: log10 norm at a few fixed timesteps against the training step;
- ``grad_summary/<q>/<summary>`` against the training step, for every summary of
  ``seqnet.gradients.summaries`` (``log10_ratio``, ``horizon``, ``zero_steps``);
- ``grad_heatmap/<q>``: an image of log10 norm over timestep x logged training step.

``q`` is ``h_l<l>``, ``c_l<l>`` or ``x`` (``enc_h_l<l>``, ``dec_h_l<l>``, ... for an
encoder-decoder, whose encoder and decoder quantities have their own lengths; ``h_l<l>_fwd`` and
``h_l<l>_bwd``, ... for a bidirectional model, see ``seqnet.gradients.profiles``). Exact zeros are
plotted at the floor of ``seqnet.gradients.profiles``.
"""

from __future__ import annotations

import numpy as np

from seqnet.gradients.profiles import GradientProfile, log10_norms
from seqnet.gradients.summaries import SUMMARIES
from seqnet.tblog.writer import RunWriter


def depth_timesteps(seq_len: int, points: int) -> list[int]:
    """``points`` timesteps spread evenly from the first to the last."""
    return sorted({int(t) for t in np.linspace(0, seq_len - 1, max(points, 1)).round()})


def log_profile(
    writer: RunWriter, profile: GradientProfile, depth_points: int, horizon_threshold: float
) -> None:
    s = profile.step
    add = writer.writer.add_scalar
    for q in profile.norms:
        values = profile.log10(q)
        for t, v in enumerate(values):
            add(f"grad_profile/{q}/step_{s:07d}", float(v), t)
        for t in depth_timesteps(len(values), depth_points):  # an encoder-decoder's differ
            add(f"grad_depth/{q}/t_{t:04d}", float(values[t]), s)
        for name, value in profile.summary(q, horizon_threshold).items():
            add(f"grad_summary/{q}/{name}", value, s)


def log_heatmaps(
    writer: RunWriter, steps: np.ndarray, matrices: dict[str, np.ndarray], dtype: str, step: int
) -> None:
    """One image per quantity: log10 norm over (logged training step, timestep)."""
    for q, norms in matrices.items():
        writer.figure(f"grad_heatmap/{q}", heatmap_figure(steps, norms, q, dtype), step)


def heatmap_figure(steps: np.ndarray, norms: np.ndarray, quantity: str, dtype: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = log10_norms(norms, dtype)
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    seq_len = norms.shape[1]
    image = ax.imshow(
        logs,
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        cmap="viridis",
        extent=(-0.5, seq_len - 0.5, -0.5, len(steps) - 0.5),
    )
    ticks = np.unique(np.linspace(0, len(steps) - 1, min(len(steps), 6)).round().astype(int))
    ax.set_yticks(ticks, [str(steps[i]) for i in ticks])
    ax.set_xlabel("timestep t")
    ax.set_ylabel("training step")
    ax.set_title(f"log10 ||dL/d{quantity}(t)||")
    fig.colorbar(image, ax=ax, label="log10 gradient norm")
    fig.tight_layout()
    return fig


def gradient_layout(quantities: list[str]) -> dict[str, dict[str, list]]:
    """The custom-scalars layout grouping seqnet's charts (tags are regular expressions)."""
    return {
        "training": {
            "loss": ["Multiline", [r"train/loss$", r"val/loss$"]],
            "gradient norm (pre/post clip)": [
                "Multiline",
                [r"train/grad_norm$", r"train/grad_norm_clipped$"],
            ],
        },
        "gradient profiles (x: timestep)": {
            q: ["Multiline", [rf"grad_profile/{q}/step_"]] for q in quantities
        },
        "gradient depth (x: training step)": {
            q: ["Multiline", [rf"grad_depth/{q}/t_"]] for q in quantities
        },
        "gradient summary (x: training step)": {
            name: ["Multiline", [rf"grad_summary/.*/{name}$"]] for name in SUMMARIES
        },
    }
