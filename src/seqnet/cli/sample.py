"""``seqnet-sample ckpt=PATH [options]``: what a model with a decoder writes, for every task that
has one (any registered model). The checkpoint's task decides what is written and which options
apply (an option that does not apply is refused in one line, before any work):

- ``data=char_lm``: ``prompt="..." [length=200] [temperature=1.0] [seed=0]``. The model reads
  the prompt, then writes ``length`` characters, each drawn from its predicted distribution
  sharpened or flattened by ``temperature`` (0: always the most likely character), with its
  state carried from character to character. Prints the prompt followed by the characters.
- ``data=digit_caption``: ``[split=val|test] [n=8] [samples=3] [temperature=1.0] [seed=0]
  [out=FILE.png]``: the greedy caption and ``samples`` sampled captions of the first ``n``
  images of the split, printed and drawn beside each digit.
- ``data=sine_gen``: ``[n=4] [out=FILE.png]``: the waves generated from the parameters of the
  first ``n`` validation examples against the true ones, with their MSE, printed and drawn.
- ``data=seq2seq``: ``[prompt=4021,17] [n=10] [samples=0] [temperature=1.0] [seed=0]
  [csv=FILE]``: translations of the given numbers (else of the first ``n`` validation
  examples): input, greedy output, reference and exact-match flag, and ``samples`` sampled
  translations; printed, and written as CSV with ``csv=``.

The same ``seed`` gives the same samples (``seqnet.cli.sample_decoders`` holds the decoders').
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from seqnet.cli.arguments import ArgumentError, Command, Option, integer, one_of, positive_int
from seqnet.errors import SeqnetError

if TYPE_CHECKING:
    from seqnet.data.task import TaskSpec

PROG = "seqnet-sample"


def temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ValueError(
            "a number >= 0 (1.0: the model's distribution; 0: always the most likely character)"
        )
    return value


#: The most characters one call writes: each is a model step, and the text is held in memory.
MAX_LENGTH = 100_000


def length(text: str) -> int:
    try:
        value = positive_int(text)
    except ValueError:
        raise ValueError("a positive integer (characters to write)") from None
    if value > MAX_LENGTH:
        raise ValueError(
            f"at most {MAX_LENGTH} (characters to write, one model step each); write longer "
            "texts in several calls, each with the last text as its prompt"
        )
    return value


def count(text: str) -> int:
    if not text.isdigit():
        raise ValueError("an integer >= 0")
    return int(text)


COMMAND = Command(
    PROG,
    "What a model with a decoder writes: text continuing a prompt (data=char_lm), captions "
    "beside digits (digit_caption), generated waves against the true ones (sine_gen), "
    "translations against their references (seq2seq). The checkpoint's task decides which "
    "options apply.",
    [
        Option("ckpt", "the checkpoint of a run with a decoder", metavar="PATH", required=True),
        Option(
            "prompt",
            "char_lm: the text to continue (required); seq2seq: numbers to translate, "
            "comma-separated (default: the first n validation examples)",
            metavar='"TEXT"',
        ),
        Option("length", "char_lm: characters to write (default 200)", kind=length, metavar="N"),
        Option(
            "temperature",
            "1.0: the model's distribution; 0: the most likely token (default 1.0)",
            kind=temperature,
            metavar="T",
        ),
        Option(
            "seed", "the same seed gives the same samples (default 0)", kind=integer, metavar="S"
        ),
        Option("device", "cpu | cuda | cuda:N | auto", default="cpu"),
        Option(
            "split",
            "digit_caption, sine_gen, seq2seq: the held-out split to decode (default val)",
            kind=one_of("val", "test"),
        ),
        Option(
            "n",
            "digit_caption, sine_gen, seq2seq: how many examples, from the split's first "
            "(default 8, 4, 10)",
            kind=positive_int,
            metavar="N",
        ),
        Option(
            "samples",
            "digit_caption, seq2seq: sampled outputs per example beside the greedy one "
            "(default 3, 0)",
            kind=count,
            metavar="K",
        ),
        Option(
            "out",
            "digit_caption, sine_gen: the figure (default samples_<task>.png)",
            metavar="FILE.png",
        ),
        Option("csv", "seq2seq: also write the translations as CSV", metavar="FILE"),
    ],
)

#: What each task's samples are, for the one-line refusal of an option that does not apply.
WHAT = {
    "char_lm": "it continues prompt= for length= characters",
    "digit_caption": "it captions the images of split= (greedy, and samples= sampled captions "
    "at temperature=) and draws them to out=",
    "sine_gen": "it generates the waves of split= from their parameters, without sampling, "
    "and draws them to out=",
    "seq2seq": "it translates prompt= (numbers) or the numbers of split= (greedy, and "
    "samples= sampled translations at temperature=), printed and written to csv=",
}
#: The options each task takes (ckpt and device: every task).
APPLIES = {
    "char_lm": {"prompt", "length", "temperature", "seed"},
    "digit_caption": {"split", "n", "samples", "temperature", "seed", "out"},
    "sine_gen": {"split", "n", "out"},
    "seq2seq": {"prompt", "split", "n", "samples", "temperature", "seed", "csv"},
}


class SampleError(SeqnetError):
    """Input that seqnet-sample cannot use."""


def check_prompt(prompt: str) -> None:
    """A prompt the char_lm vocabulary can read, checked before any work."""
    if prompt == "":
        raise SampleError('prompt is empty: give the text to continue, e.g. prompt="The "')
    from seqnet.data.tasks.char_lm import VOCABULARY

    outside = sorted({c for c in prompt if c not in VOCABULARY})
    if outside:
        raise SampleError(
            f"prompt has characters outside the char_lm vocabulary (newline and printable "
            f"ASCII): {', '.join(repr(c) for c in outside)}; remove or replace them"
        )


def read_checkpoint(ckpt: str, device: torch.device) -> dict:
    from seqnet.training.checkpoint import load_checkpoint

    return load_checkpoint(ckpt, map_location=device)


def check_options(data: str | None, ckpt: str, options: dict) -> None:
    """Refuse a checkpoint without a decoder, or an option its task does not take."""
    if data not in APPLIES:
        raise SampleError(
            f"checkpoint {ckpt!r} was trained on data={data}; seqnet-sample writes the outputs "
            f"of models with a decoder: data={', '.join(APPLIES)}"
        )
    for name in ("prompt", "length", "temperature", "seed", "split", "n", "samples", "out", "csv"):
        if options[name] is not None and name not in APPLIES[data]:
            raise SampleError(
                f"{name}= does not apply to data={data}: {WHAT[data]}; leave {name}= out"
            )
    if data == "char_lm" and options["prompt"] is None:
        raise SampleError(
            'prompt="TEXT" is required for data=char_lm: the text to continue, e.g. prompt="The "'
        )


def load_model(ckpt: str, checkpoint: dict, spec: TaskSpec, device: torch.device) -> nn.Module:
    """The model of a checkpoint, built for ``spec``, in eval mode."""
    from seqnet.models import build_model

    model = build_model(checkpoint["config"]["model"], spec).to(device)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as e:
        raise SampleError(
            f"checkpoint {ckpt!r} does not fit the model its config names "
            f"(model={checkpoint['config']['model'].get('name')}): {str(e).splitlines()[0]}"
        ) from e
    return model.eval()


def load_char_model(ckpt: str, device: torch.device) -> nn.Module:
    """The model of a char_lm checkpoint, in eval mode."""
    from seqnet.data.tasks.char_lm import CharLanguageModel

    checkpoint = read_checkpoint(ckpt, device)
    data = checkpoint["config"].get("data", {}).get("name")
    if data != "char_lm":
        raise SampleError(f"checkpoint {ckpt!r} was trained on data={data}, not char_lm")
    return load_model(ckpt, checkpoint, CharLanguageModel.spec, device)


@torch.no_grad()
def sample(
    model: nn.Module, prompt: Tensor, length: int, temperature: float, generator: torch.Generator
) -> list[int]:
    """``length`` token ids that continue ``prompt`` (1-D ids), one at a time."""
    logits, state = model(prompt.unsqueeze(0))
    ids: list[int] = []
    for _ in range(length):
        last = logits[0, -1].double()
        if temperature == 0:
            token = last.argmax().view(1)
        else:
            probs = torch.softmax(last / temperature, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)
        ids.append(int(token))
        logits, state = model(token.view(1, 1), state)
    return ids


def write_text(options: dict, checkpoint: dict, device: torch.device) -> str:
    """char_lm: the prompt and the characters that continue it."""
    from seqnet.data.tasks.char_lm import CharLanguageModel, decode, encode

    prompt = options["prompt"]
    check_prompt(prompt)
    model = load_model(options["ckpt"], checkpoint, CharLanguageModel.spec, device)
    seed = 0 if options["seed"] is None else options["seed"]
    generator = torch.Generator(device=device).manual_seed(seed)
    prompt_ids = torch.from_numpy(encode(prompt)).to(device)
    chars = 200 if options["length"] is None else options["length"]
    heat = 1.0 if options["temperature"] is None else options["temperature"]
    return prompt + decode(sample(model, prompt_ids, chars, heat, generator))


def main(argv: list[str] | None = None) -> int:
    try:
        from seqnet.plugins import load_plugins

        load_plugins()  # the checkpoint may hold a model that a plugin registers
        options = COMMAND.parse(sys.argv[1:] if argv is None else argv)
        if options is None:  # --help
            return 0
        from seqnet.training.device import configure_cpu, resolve_device

        device = resolve_device(options["device"])
        checkpoint = read_checkpoint(options["ckpt"], device)
        data = checkpoint["config"].get("data", {}).get("name")
        check_options(data, options["ckpt"], options)
        if data == "char_lm":
            check_prompt(options["prompt"])
        if device.type == "cpu":
            configure_cpu(True)
        if data == "char_lm":
            text = write_text(options, checkpoint, device)
        else:
            from seqnet.cli.sample_decoders import write_decoded

            text = write_decoded(data, options, checkpoint, device)
    except ArgumentError as e:
        print(COMMAND.error(e), file=sys.stderr)
        return 2
    except (SeqnetError, ValueError, KeyError) as e:
        print(f"{PROG}: error: {str(e).strip(chr(39))}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
