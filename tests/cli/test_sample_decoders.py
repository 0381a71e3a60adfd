"""``seqnet-sample`` for the decoder tasks (digit_caption, sine_gen, seq2seq) on tiny trained
checkpoints: the printed outputs equal an independent decoding (the model rerun with teacher
forcing over its own outputs so far, one step longer each time), seeded samples are
reproducible, the PNG and CSV are written, and options that do not apply are one line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from conftest import TINY_RUN, compose_config
from seqnet.cli import sample as sample_cli
from seqnet.cli.compare.profile_table import aligned
from seqnet.data.tasks.seq2seq import number_words
from seqnet.training.checkpoint import load_checkpoint
from seqnet.training.loop import train

pytestmark = pytest.mark.usefixtures("one_thread")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RUN = [
    *TINY_RUN,
    "model=gru",
    "model.hidden_size=16",
    "model.encoder_size=8",
    "trainer.max_steps=2",
    "trainer.val_every_n_steps=2",
    "trainer.ckpt_every_n_steps=2",
    "grad_log.every_n_steps=0",
]
TASKS = {
    "digit_caption": ["data.batch_size=8"],
    "sine_gen": ["data.seq_len=12", "data.batch_size=8", "data.val_size=32"],
    "seq2seq": ["data.max_digits=2", "data.batch_size=8", "data.val_size=32"],
}


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("decoders")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for data, extra in TASKS.items():
        train(compose_config([f"data={data}", *extra, *RUN, f"paths.run_dir={root / data}"]))
    torch.set_num_threads(threads)
    return {data: root / data / "checkpoints" / "last.pt" for data in TASKS}


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = sample_cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def model_and_task(ckpt: Path):
    from seqnet.data import build_task

    checkpoint = load_checkpoint(ckpt)
    task = build_task(checkpoint["config"]["data"])
    model = sample_cli.load_model(str(ckpt), checkpoint, task.spec, torch.device("cpu"))
    return model, task


@torch.no_grad()
def decode_by_hand(model, x, temperature: float = 0.0, generator=None) -> torch.Tensor:
    """Token decoding, each step's distribution from a teacher-forced run over the tokens so
    far (plus a placeholder): not the step loop under test."""
    spec = model.spec
    tokens = torch.zeros(len(x), 0, dtype=torch.int64)
    ended = torch.zeros(len(x), dtype=torch.bool)
    while tokens.shape[1] < spec.output_len and not bool(ended.all()):
        targets = torch.cat((tokens, tokens.new_zeros(len(x), 1)), dim=1)
        logits = model(x, targets=targets)[0][:, -1].double()
        if temperature == 0:
            token = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)[:, 0]
        token = token.masked_fill(ended, spec.end_token)
        ended |= token == spec.end_token
        tokens = torch.cat((tokens, token[:, None]), dim=1)
    return tokens


def test_digit_captions_greedy_and_sampled(ckpts, capsys, tmp_path: Path) -> None:
    from seqnet.data.tasks.digit_caption import VOCABULARY

    out = tmp_path / "captions.png"
    args = [f"ckpt={ckpts['digit_caption']}", "n=3", "samples=2", "temperature=2", "seed=5"]
    code, printed, err = run(capsys, *args, f"out={out}")
    assert (code, err) == (0, "")
    model, task = model_and_task(ckpts["digit_caption"])
    x, y = task.val_set()
    greedy = decode_by_hand(model, x[:3])
    generator = torch.Generator().manual_seed(5)
    sampled = [
        decode_by_hand(model, x[i : i + 1].expand(2, 1, 64), 2.0, generator) for i in range(3)
    ]
    table = [["#", "digit", "greedy", "right", "sample 1", "sample 2"]]
    for i in range(3):
        truth, caption = VOCABULARY.decode(y[i].tolist()), VOCABULARY.decode(greedy[i].tolist())
        samples = [VOCABULARY.decode(s.tolist()) or "(empty)" for s in sampled[i]]
        table.append([str(i), truth, caption or "(empty)", "yes" if caption == truth else "no"])
        table[-1] += samples
    right = sum(row[3] == "yes" for row in table[1:])
    assert printed == "\n".join(
        [
            "digit_caption (val split, examples 0-2): greedy decoding and 2 sampled at "
            "temperature 2 (seed 5)",
            *aligned(table, left=len(table[0])),
            f"greedy captions right: {right} of 3",
            f"wrote {out}",
            "",
        ]
    )
    assert out.read_bytes()[:8] == PNG_MAGIC
    # Seeded: the same seed gives the same captions, another seed others.
    assert run(capsys, *args, f"out={out}")[1] == printed
    assert run(capsys, *args[:-1], "seed=6", f"out={out}")[1] != printed


def test_sine_waves_against_the_true_ones(ckpts, capsys, tmp_path: Path) -> None:
    from seqnet.data.tasks.sine_gen import BASELINE_MSE

    out = tmp_path / "waves.png"
    code, printed, err = run(capsys, f"ckpt={ckpts['sine_gen']}", "n=2", f"out={out}")
    assert (code, err) == (0, "")
    model, task = model_and_task(ckpts["sine_gen"])
    x, y = task.val_set()
    values = torch.zeros(2, 0, 1)
    with torch.no_grad():  # each value from a teacher-forced run over the values so far
        for _ in range(12):
            targets = torch.cat((values, values.new_zeros(2, 1, 1)), dim=1)
            values = torch.cat((values, model(x[:2], targets=targets)[0][:, -1:]), dim=1)
    mse = ((values.double() - y[:2].double()) ** 2).mean(dim=(1, 2))
    lines = printed.splitlines()
    assert lines[0] == (
        "sine_gen (val split, examples 0-1, T=12): waves generated from (frequency, phase, "
        "amplitude) against the true ones"
    )
    for i in range(2):
        cells = lines[2 + i].split()
        f, p, a = x[i, 0].tolist()
        assert cells[:4] == [str(i), f"{f:.3f}", f"{p:.3f}", f"{a:.3f}"]
        assert float(cells[4]) == pytest.approx(float(mse[i]), rel=1e-3)
        assert float(cells[5]) == pytest.approx(float(mse[i]) / BASELINE_MSE, rel=1e-3)
    mean = float(mse.mean())
    assert lines[4].startswith(f"mean mse over 2 waves: {mean:.4g} (baseline_ratio ")
    assert lines[5] == f"wrote {out}" and out.read_bytes()[:8] == PNG_MAGIC


def test_translations_of_given_numbers_and_csv(ckpts, capsys, tmp_path: Path) -> None:
    from seqnet.data.tasks.seq2seq import VOCABULARY

    table = tmp_path / "t.csv"
    code, printed, err = run(capsys, f"ckpt={ckpts['seq2seq']}", "prompt=42,7,0", f"csv={table}")
    assert (code, err) == (0, "")
    model, task = model_and_task(ckpts["seq2seq"])
    numbers = torch.tensor([42, 7, 0])
    greedy = decode_by_hand(model, task.encode_source(numbers))
    outputs = [VOCABULARY.decode(g.tolist()) for g in greedy]
    references = ["forty two", "seven", "zero"]
    assert references == [number_words(n) for n in (42, 7, 0)]
    with table.open() as f:
        assert list(csv.reader(f)) == [
            ["input", "output", "reference", "exact_match"],
            *(
                [str(n), o, r, str(o == r)]
                for n, o, r in zip((42, 7, 0), outputs, references, strict=True)
            ),
        ]
    lines = printed.splitlines()
    assert lines[0] == "seq2seq (the numbers of prompt=): greedy decoding"
    exact = sum(o == r for o, r in zip(outputs, references, strict=True))
    assert lines[-2:] == [f"exact: {exact} of 3", f"wrote {table}"]
    # The validation examples with sampled translations, seeded.
    args = [f"ckpt={ckpts['seq2seq']}", "n=4", "samples=2"]
    first = run(capsys, *args)[1]
    head = ["#", "input", "output", "reference", "exact_match", "sample_1", "sample_2"]
    assert first.splitlines()[1].split() == head
    assert run(capsys, *args)[1] == first


@pytest.mark.parametrize(
    ("data", "args", "message"),
    [
        (
            "digit_caption",
            ["prompt=7"],
            "prompt= does not apply to data=digit_caption: it captions the images of split= "
            "(greedy, and samples= sampled captions at temperature=) and draws them to out=; "
            "leave prompt= out",
        ),
        (
            "sine_gen",
            ["temperature=0.5"],
            "temperature= does not apply to data=sine_gen: it generates the waves of split= "
            "from their parameters, without sampling, and draws them to out=; leave "
            "temperature= out",
        ),
        (
            "seq2seq",
            ["out=x.png"],
            "out= does not apply to data=seq2seq: it translates prompt= (numbers) or the "
            "numbers of split= (greedy, and samples= sampled translations at temperature=), "
            "printed and written to csv=; leave out= out",
        ),
        (
            "seq2seq",
            ["prompt=123"],
            "prompt=123: '123' is not a number of 1 to 2 digits (the run's data.max_digits); "
            "give numbers like prompt=4021,17",
        ),
        (
            "seq2seq",
            ["prompt=12", "n=3"],
            "n= chooses validation examples, and prompt= gives the numbers to translate: "
            "leave out n= or prompt=",
        ),
        ("sine_gen", ["split=test"], "split=test: data=sine_gen has no test split; use split=val"),
        (
            "digit_caption",
            ["split=test", "n=300"],
            "n=300 is more than the 270 examples of the test split; use n<=270",
        ),
    ],
)
def test_options_that_do_not_apply_are_one_line(ckpts, capsys, data, args, message) -> None:
    assert run(capsys, f"ckpt={ckpts[data]}", *args) == (
        2,
        "",
        f"seqnet-sample: error: {message}\n",
    )
