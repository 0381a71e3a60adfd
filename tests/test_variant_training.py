"""The variants in use: gradient probes against an independent unrolled reference, a few
training steps on a many-to-one and a many-to-many task with gradient profiles, bad options
through ``train()``, and the plain models' backends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf, open_dict
from torch import Tensor

from cell_references import VARIANTS, unrolled
from conftest import compose_config
from seqnet.data import Task, TaskSpec, build_task
from seqnet.data.task import Batch
from seqnet.errors import ConfigError
from seqnet.gradients import load_gradients, measure_profile
from seqnet.models import MODEL_REGISTRY, GRUCell, build_model, register_model
from seqnet.models.options import EngineConfig, GatedOptions
from seqnet.train import CONFIG_DIR
from seqnet.training.loop import train

#: Every variant, the plain models with zoneout (on the engine), and some options.
CASES = [(name, {}) for name in VARIANTS] + [
    ("lstm", {"zoneout": 0.2}),
    ("gru", {"zoneout": 0.2}),
    ("lstm_layernorm", {"zoneout": 0.1, "chrono_tmax": 8}),
    ("indrnn", {"recurrent_max": 4, "nonlinearity": "tanh"}),
]
IDS = [f"{n}{o or ''}" for n, o in CASES]


class EchoTask(Task):
    """A many-to-many toy task: an output at every step, the target the input one step back."""

    spec = TaskSpec(input_size=1, output_size=1, input_kind="real", output_mode="every")

    def __init__(self, seq_len: int, n: int) -> None:
        super().__init__(batch_size=n)
        x = torch.randn(n, seq_len, 1, generator=torch.Generator().manual_seed(3))
        self._val = Batch(x, torch.roll(x, 1, dims=1))

    def val_set(self) -> Batch:
        return self._val

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return ((pred - y) ** 2).mean()

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        per_step = ((pred - y) ** 2).sum(-1)
        return per_step[:, -1] if last_only else per_step.sum(dim=1)


def reference_norms(name, options, model, task, x, y, last_only=True) -> dict[str, np.ndarray]:
    """The textbook equations unrolled with every state retained, and ``autograd.grad`` of the
    summed per-sequence loss with respect to each state (zoneout: its expectation, as in eval)."""
    e = model.encoder(x)
    reference = {k: v for k, v in options.items() if k in ("nonlinearity", "recurrent_max")}
    out, states = unrolled(name, model.core, e, zoneout=options.get("zoneout", 0.0), **reference)
    loss = task.sequence_loss(model.head(out), y, last_only=last_only).sum()
    names = list(states)
    # allow_unused: with zoneout the last cell state feeds nothing (h_t is the output of the
    # un-zoned c_t); its gradient is 0, as its probe's.
    flat = [e] + [s for n in names for s in states[n]]
    grads = torch.autograd.grad(loss, flat, allow_unused=True)
    grads = [torch.zeros_like(s) if g is None else g for s, g in zip(flat, grads, strict=True)]
    norms = {"x": grads[0].norm(dim=-1).mean(dim=0).numpy()}
    T = e.shape[1]
    for k, n in enumerate(names):
        per_step = torch.stack(grads[1 + k * T : 1 + (k + 1) * T])
        norms[n] = per_step.norm(dim=-1).mean(dim=1).numpy()
    return norms


@pytest.mark.parametrize(("name", "options"), CASES, ids=IDS)
def test_probes_match_an_unrolled_reference(name, options):
    """float64, 2 layers: the probes of the many-to-one adding problem and of the many-to-many
    toy task (loss at the last output and summed) equal the reference to 1e-10."""
    torch.manual_seed(0)
    adding = build_task({"name": "adding", "seq_len": 7, "val_size": 5})
    echo = EchoTask(seq_len=6, n=4)
    for task, loss in ((adding, "last"), (echo, "last"), (echo, "total")):
        config = {"name": name, "hidden_size": 5, "num_layers": 2, **options}
        model = build_model(config, task.spec)
        x, y = task.val_set()
        profile = measure_profile(model, task, Batch(x, y), step=0, dtype="float64", loss=loss)
        model = model.double().eval()
        expected = reference_norms(
            name, options, model, task, x.double(), y.double(), loss == "last"
        )
        assert set(profile.norms) == set(expected)
        for q, ref in expected.items():
            np.testing.assert_allclose(profile.norms[q], ref, rtol=1e-10, err_msg=q)
            assert np.all(ref[:-1] > 0)


@pytest.mark.parametrize(("name", "options"), CASES, ids=IDS)
def test_a_few_steps_on_a_many_to_many_task(name, options):
    """Three Adam steps on the toy task lower its loss; the profile is finite and positive."""
    torch.manual_seed(1)
    task = EchoTask(seq_len=8, n=16)
    model = build_model({"name": name, "hidden_size": 8, **options}, task.spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = task.val_set()
    losses = []
    for _ in range(4):
        loss = task.loss(model(x)[0], y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    profile = measure_profile(model, task, Batch(x[:4], y[:4]), step=3, loss="total")
    for norms in profile.norms.values():  # (with zoneout the last c feeds nothing: 0)
        assert norms.shape == (8,) and np.all(np.isfinite(norms)) and np.all(norms[:-1] > 0)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "options"), CASES[:10], ids=IDS[:10])
def test_train_on_the_adding_problem_with_profiles(make_cfg, name, options):
    """train() end to end (6 steps, profiles at 0, 3 and 6) for every variant."""
    overrides = [f"model.{k}={v}" for k, v in options.items()]
    cfg = make_cfg(f"model={name}", *overrides)
    metrics = train(cfg)
    assert np.isfinite(metrics["val/loss"]) and metrics["nonfinite_steps"] == 0
    steps, norms, _ = load_gradients(f"{cfg.paths.run_dir}/gradients.npz")
    assert steps.tolist() == [0, 3, 6]
    expected = {"x", "h_l0"} | ({"c_l0"} if name.startswith("lstm") else set())
    assert set(norms) == expected
    for values in norms.values():  # (with zoneout the last c feeds nothing: 0)
        assert values.shape == (3, 12) and np.all(np.isfinite(values))
        assert np.all(values[:, :-1] > 0)


# ---------------------------------------------------------------------------- bad options


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["model=lstm", "model.zoneout=1.5"],
            "model.zoneout=1.5 must be in [0, 1): the probability that a unit keeps its previous "
            "state at a step (e.g. model.zoneout=0.1; 0 turns zoneout off)",
        ),
        (
            ["model=gru_layernorm", "model.zoneout=-0.1"],
            "model.zoneout=-0.1 must be in [0, 1): the probability that a unit keeps its previous "
            "state at a step (e.g. model.zoneout=0.1; 0 turns zoneout off)",
        ),
        (
            ["model=lstm_cifg", "model.chrono_tmax=-3"],
            "model.chrono_tmax=-3 must be >= 2: the longest dependency to remember, in timesteps "
            "(e.g. the task's data.seq_len); null turns chrono initialisation off",
        ),
        (
            ["model=indrnn", "model.recurrent_max=-5"],
            "model.recurrent_max=-5 must be a positive number of timesteps T (|u| is kept <= "
            "2^(1/T)), or null for no constraint",
        ),
        (
            ["model=gru", "model.zoneout=0.1", "model.backend=fused"],
            "model.zoneout=0.1 needs the step-by-step engine and model.backend=fused is the fused "
            "kernel, which has no zoneout: set model.backend=auto (or stepped)",
        ),
    ],
)
def test_bad_options_stop_train_with_one_line(make_cfg, tmp_path, overrides, message):
    with pytest.raises(ConfigError) as excinfo:
        train(make_cfg(*overrides))
    assert str(excinfo.value) == message
    assert not (tmp_path / "run" / "tb").exists()


@dataclass
class ChronoGRUConfig(GatedOptions, EngineConfig):
    name: str = "chrono_gru_test"
    chrono_tmax: int | None = None


class ChronoGRUCell(GRUCell):
    """A cell written by a user who passes chrono_tmax on to a cell without a forget gate."""

    def __init__(self, input_size, hidden_size, bias=True, chrono_tmax=None, **options):
        super(GRUCell, self).__init__(input_size, hidden_size, bias, chrono_tmax=chrono_tmax)


def test_chrono_on_a_model_without_a_forget_gate(make_cfg):
    # A config key only the LSTM family has: Hydra refuses it by name ...
    with pytest.raises(ConfigCompositionException, match="chrono_tmax"):
        compose_config(["model=gru", "model.chrono_tmax=100"])
    # ... a dict names the models that have it ...
    with pytest.raises(KeyError) as excinfo:
        build_model({"name": "mingru", "chrono_tmax": 100}, EchoTask.spec)
    assert excinfo.value.args[0].endswith(
        "'chrono_tmax' is an option of models lstm, lstm_cifg, lstm_layernorm, lstm_peephole, "
        "minlstm"
    )
    # ... and a cell without a forget gate refuses it in one line.
    register_model("chrono_gru_test", config=ChronoGRUConfig)(ChronoGRUCell)
    try:
        cfg = make_cfg("model=gru")
        with open_dict(cfg):
            model = OmegaConf.to_container(cfg.model, enum_to_str=True)
            del model["backend"]
            cfg.model = {**model, "name": "chrono_gru_test", "chrono_tmax": 100}
        with pytest.raises(ConfigError) as excinfo:
            train(cfg)
    finally:
        MODEL_REGISTRY.pop("chrono_gru_test")
    assert str(excinfo.value) == (
        "model.chrono_tmax=100: chrono initialisation sets forget-gate biases and ChronoGRUCell "
        "has no forget gate; use a model that has one (lstm, lstm_peephole, lstm_cifg, "
        "lstm_layernorm, minlstm) or remove model.chrono_tmax"
    )


# ---------------------------------------------------------------------------- backends


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_backends_share_parameters_and_results(name):
    """The same weights under backend=fused and stepped: same names, same outputs (float64)."""
    torch.manual_seed(2)
    spec = build_task({"name": "adding", "seq_len": 6, "val_size": 4}).spec
    fused = build_model({"name": name, "hidden_size": 6, "backend": "fused"}, spec).double()
    stepped = build_model({"name": name, "hidden_size": 6, "backend": "stepped"}, spec).double()
    stepped.load_state_dict(fused.state_dict())  # strict: the fused names (weight_ih_l0 ...)
    assert not fused.core.runs_stepped("cpu") and stepped.core.runs_stepped("cpu")
    x = torch.rand(3, 6, 2, dtype=torch.float64)
    torch.testing.assert_close(stepped(x)[0], fused(x)[0], rtol=0, atol=1e-10)


def test_backend_auto_runs_the_measured_faster_path_per_device():
    """The GRU's kernel beat the fused nn.GRU on CPU; the fused kernels won everywhere else."""
    spec = build_task({"name": "adding", "seq_len": 6, "val_size": 4}).spec
    runs = {
        name: [build_model({"name": name}, spec).core.runs_stepped(d) for d in ("cpu", "cuda")]
        for name in ("rnn", "lstm", "gru")
    }
    assert runs == {"rnn": [False, False], "lstm": [False, False], "gru": [True, False]}


def test_a_checkpoint_resumes_on_another_backend(make_cfg):
    first = make_cfg("model=gru", "model.backend=fused", "trainer.max_steps=3", run="fused")
    train(first)
    resumed = make_cfg(
        "model=gru",
        "model.backend=stepped",
        f"ckpt_path={first.paths.run_dir}/checkpoints/last.pt",
        run="stepped",
    )
    metrics = train(resumed)
    assert metrics["step"] == 6


def test_experiment_variants_sweeps_every_variant():
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            config_name="train", overrides=["experiment=variants"], return_hydra_config=True
        )
    models = cfg.hydra.sweeper.params.model.split(",")
    assert sorted(models) == sorted(["lstm", "gru", *VARIANTS])
    assert (cfg.data.name, cfg.data.seq_len, cfg.model.hidden_size) == ("adding", 200, 64)
    assert (cfg.trainer.max_steps, cfg.grad_log.every_n_steps) == (1000, 100)


def test_the_log_says_where_backend_auto_runs(caplog):
    spec = build_task({"name": "adding", "seq_len": 6, "val_size": 4}).spec
    model = build_model({"name": "gru", "hidden_size": 4, "zoneout": 0.1}, spec)
    with caplog.at_level("INFO", logger="seqnet.models.cores"):
        model(torch.rand(2, 6, 2))
        model(torch.rand(2, 6, 2))  # once per core and device
    assert caplog.messages == [
        "FusedGRU: model.backend=auto runs on the step-by-step engine on cpu"
    ]
