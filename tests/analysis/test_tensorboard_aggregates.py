"""The aggregate TensorBoard runs a seeded sweep ends with (``<sweep>/aggregate/<group>/``):
their series recomputed from the runs' own files, their margin-chart layout and HPARAMS entry,
and the CUSTOM SCALARS page of the real TensorBoard UI drawing them in headless Chromium."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto import summary_pb2  # noqa: F401  (registers the protos)
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata

from helpers.browser import DEEP_QUERY, browser_page, chromium, tensorboard
from helpers.seed_sweep import MODELS, SEEDS, job
from seqnet.cli.compare import main

pytestmark = pytest.mark.slow


def accumulate(folder: Path) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def scalar(folder: Path, tag: str) -> dict[int, float]:
    return {e.step: e.value for e in accumulate(folder).Scalars(tag)}


def test_the_sweep_ends_with_one_aggregate_run_per_group(seed_sweep):
    root = seed_sweep / "aggregate"
    assert sorted(p.name for p in root.iterdir()) == ["model.name=gru", "model.name=lstm"]
    for model in MODELS:
        folder = root / f"model.name={model}"
        runs = [job(seed_sweep, model, s) for s in SEEDS]
        # Validation: the median and quartiles of the runs' own val/loss at each step.
        per_run = [scalar(r / "tb", "val/loss") for r in runs]
        for name, q in (("median", 50), ("q25", 25), ("q75", 75)):
            got = scalar(folder, f"val/loss/{name}")
            assert sorted(got) == [3, 6]
            for step, value in got.items():
                expected = np.percentile([r[step] for r in per_run], q)
                assert value == pytest.approx(expected, rel=1e-6)  # float32 in the event file
        # The final profile per timestep (log10 norms), and a summary over training.
        with_npz = [np.load(r / "gradients.npz") for r in runs]
        logs = np.log10([d["h_l0"][-1] for d in with_npz])
        profile = scalar(folder, "grad_profile/h_l0/median")
        assert sorted(profile) == list(range(12))
        np.testing.assert_allclose(
            [profile[t] for t in range(12)], np.median(logs, axis=0), rtol=1e-6
        )
        ratios = [np.log10(d["h_l0"][:, 0] / d["h_l0"][:, -1]) for d in with_npz]
        over_training = scalar(folder, "grad_summary/h_l0/log10_ratio/median")
        assert sorted(over_training) == [0, 3, 6]
        np.testing.assert_allclose(
            [over_training[s] for s in (0, 3, 6)], np.median(ratios, axis=0), rtol=1e-5
        )


def test_aggregates_carry_margin_charts_and_an_hparams_entry(seed_sweep):
    acc = accumulate(seed_sweep / "aggregate" / "model.name=lstm")
    raw = acc.Tensors("custom_scalars__config__")[0].tensor_proto.string_val[0]
    layout = layout_pb2.Layout.FromString(raw)
    margins = {
        chart.title: [(s.value, s.lower, s.upper) for s in chart.margin.series]
        for category in layout.category
        for chart in category.chart
    }
    assert margins["val/loss"] == [("val/loss/median", "val/loss/q25", "val/loss/q75")]
    assert margins["grad_profile/c_l0"] == [
        ("grad_profile/c_l0/median", "grad_profile/c_l0/q25", "grad_profile/c_l0/q75")
    ]
    assert "grad_summary/h_l0/horizon" in margins
    content = acc.PluginTagToContent("hparams")
    start = hparams_metadata.parse_session_start_info_plugin_data(
        content[hparams_metadata.SESSION_START_INFO_TAG]
    )
    values = {k: v.ListFields()[0][1] for k, v in start.hparams.items()}
    assert values["model/name"] == "lstm"
    assert values["n"] == 3
    assert values["seed"] == "0,1,2"
    # The metric columns hold the median of the runs' final metrics.
    finals = [scalar(job(seed_sweep, "gru", s) / "tb", "final/val_loss")[6] for s in SEEDS]
    assert scalar(seed_sweep / "aggregate" / "model.name=gru", "final/val_loss")[6] == (
        pytest.approx(np.median(finals), rel=1e-6)
    )


def test_compare_rewrites_the_aggregates_on_demand(seed_sweep, tmp_path, capsys):
    copy = tmp_path / "sweep"
    shutil.copytree(seed_sweep, copy)
    shutil.rmtree(copy / "aggregate")
    assert main([str(copy), "--out", str(tmp_path / "c.png"), "--tensorboard"]) == 0
    assert f"wrote 2 aggregate runs to {copy / 'aggregate'}" in capsys.readouterr().out
    first = scalar(copy / "aggregate" / "model.name=lstm", "val/loss/median")
    assert main([str(copy), "--out", str(tmp_path / "c.png"), "--tensorboard"]) == 0
    # Rewritten, not appended to: one value per step.
    assert scalar(copy / "aggregate" / "model.name=lstm", "val/loss/median") == first
    assert len(list((copy / "aggregate" / "model.name=lstm").iterdir())) == 1
    assert main([str(copy), str(copy), "--out", str(tmp_path / "c.png"), "--tensorboard"]) == 2


@pytest.mark.skipif(chromium() is None, reason="needs Chromium (apt-get install chromium)")
def test_custom_scalars_page_draws_the_groups_margin_charts(seed_sweep, tmp_path):
    script = Path(sys.executable).parent / "tensorboard"
    if not script.is_file():
        pytest.skip("tensorboard's command is not installed beside this interpreter")
    with tensorboard(seed_sweep, str(script)) as url, browser_page(tmp_path) as page:
        page.call("Page.enable")
        # A tall window: charts load their data once they are on screen.
        page.call("Emulation.setDeviceMetricsOverride", width=1400, height=12000,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        page.call("Page.navigate", url=f"{url}/#custom_scalars")
        wanted = ("val/loss", "grad_summary/h_l0/log10_ratio", "grad_profile/h_l0")
        deadline, cards = time.monotonic() + 90, []
        while time.monotonic() < deadline:
            cards = page.evaluate(DEEP_QUERY, "tf-custom-scalar-margin-chart-card") or []
            shown = {c["title"]: c["text"] for c in cards}
            if all("Matches (2)" in shown.get(title, "") for title in wanted):
                break
            time.sleep(1)
        shot = page.call("Page.captureScreenshot", format="png")["data"]
        (tmp_path / "custom_scalars.png").write_bytes(__import__("base64").b64decode(shot))
    by_title = {c["title"]: c["text"] for c in cards}
    assert set(wanted) <= set(by_title)
    for title in wanted:  # each margin chart drew both groups' aggregate runs
        assert "Matches (2)" in by_title[title], title
