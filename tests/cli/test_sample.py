"""``seqnet-sample``: text from a model trained on char_lm; every bad input is one line (the
decoder tasks: test_sample_decoders.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import compose_config
from seqnet.cli import sample as sample_cli
from seqnet.data.tasks.char_lm import decode, encode
from seqnet.training.loop import train

pytestmark = pytest.mark.usefixtures("one_thread")

RUN = [
    "model=gru",
    "model.hidden_size=16",
    "model.encoder_size=8",
    "trainer.max_steps=3",
    "trainer.val_every_n_steps=3",
    "trainer.progress_bar=false",
    "grad_log.every_n_steps=0",
]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sample")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for data, extra in (("char_lm", ["data.seq_len=16", "data.batch_size=4"]), ("adding", [])):
        train(compose_config([f"data={data}", *extra, *RUN, f"paths.run_dir={root / data}"]))
    torch.set_num_threads(threads)
    return {d: root / d / "checkpoints" / "last.pt" for d in ("char_lm", "adding")}


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = sample_cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_samples_are_seeded(checkpoints, capsys) -> None:
    ckpt = f"ckpt={checkpoints['char_lm']}"
    code, first, err = run(capsys, ckpt, "prompt=The ", "length=40", "seed=3")
    assert code == 0 and err == ""
    text = first.removesuffix("\n")
    assert text.startswith("The ") and len(text) == 44
    assert run(capsys, ckpt, "prompt=The ", "length=40", "seed=3")[1] == first
    assert run(capsys, ckpt, "prompt=The ", "length=40", "seed=4")[1] != first


def test_temperature_zero_is_greedy(checkpoints, capsys) -> None:
    code, out, _ = run(
        capsys, f"ckpt={checkpoints['char_lm']}", "prompt=def ", "length=12", "temperature=0"
    )
    assert code == 0
    # Reference: rerun the model over the whole text so far and take the most likely character.
    model = sample_cli.load_char_model(str(checkpoints["char_lm"]), torch.device("cpu"))
    text = "def "
    with torch.no_grad():
        for _ in range(12):
            logits, _ = model(torch.from_numpy(encode(text)).unsqueeze(0))
            text += decode([int(logits[0, -1].argmax())])
    assert out == text + "\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prompt="], 'prompt is empty: give the text to continue, e.g. prompt="The "'),
        (
            ["prompt=café €"],
            "prompt has characters outside the char_lm vocabulary (newline and printable "
            "ASCII): 'é', '€'; remove or replace them",
        ),
        (["prompt=a", "length=0"], "length=0 must be a positive integer (characters to write)"),
        (["prompt=a", "length=x"], "length=x must be a positive integer (characters to write)"),
        (
            ["prompt=a", "length=100000000"],
            "length=100000000 must be at most 100000 (characters to write, one model step "
            "each); write longer texts in several calls, each with the last text as its prompt",
        ),
        (
            ["prompt=a", "temperature=-1"],
            "temperature=-1 must be a number >= 0 (1.0: the model's distribution; 0: always "
            "the most likely character)",
        ),
        (
            ["prompt=a", "temperature=hot"],
            "temperature=hot must be a number >= 0 (1.0: the model's distribution; 0: always "
            "the most likely character)",
        ),
        (["prompt=a", "seed=1.5"], "seed=1.5 must be an integer"),
    ],
)
def test_bad_values_are_one_line(checkpoints, capsys, args: list[str], message: str) -> None:
    code, out, err = run(capsys, f"ckpt={checkpoints['char_lm']}", *args)
    assert (code, out, err) == (2, "", f"seqnet-sample: error: {message}\n")


def test_other_bad_inputs(checkpoints, capsys, tmp_path: Path) -> None:
    adding = checkpoints["adding"]
    assert run(capsys, f"ckpt={adding}", "prompt=a")[2] == (
        f"seqnet-sample: error: checkpoint {str(adding)!r} was trained on data=adding; "
        "seqnet-sample writes the outputs of models with a decoder: data=char_lm, "
        "digit_caption, sine_gen, seq2seq\n"
    )
    missing = tmp_path / "none.pt"
    assert run(capsys, f"ckpt={missing}", "prompt=a")[2] == (
        f"seqnet-sample: error: checkpoint {str(missing)!r} does not exist\n"
    )
    code, _, err = run(capsys, "prompt=a")
    assert code == 2 and err.startswith("seqnet-sample: error: ckpt=PATH is required\nusage:")
    code, _, err = run(capsys, "ckpt=x.pt", "colour=red")
    assert code == 2 and err.startswith("seqnet-sample: error: unknown argument 'colour=red'")
    char_lm = checkpoints["char_lm"]
    assert run(capsys, f"ckpt={char_lm}") == (
        2,
        "",
        'seqnet-sample: error: prompt="TEXT" is required for data=char_lm: the text to '
        'continue, e.g. prompt="The "\n',
    )
    assert run(capsys, f"ckpt={char_lm}", "prompt=a", "n=3")[2] == (
        "seqnet-sample: error: n= does not apply to data=char_lm: it continues prompt= for "
        "length= characters; leave n= out\n"
    )
