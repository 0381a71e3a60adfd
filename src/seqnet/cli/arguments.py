"""Command-line arguments of the small commands (``seqnet-compare``, ``seqnet-grads``,
``seqnet-sample``), parsed one way.

Each command declares its options once (``Option``: name, meaning, default, how to read the
value). Every option can be given in the style of a Hydra override, ``name=value``, or as a flag,
``--name value`` / ``--name=value`` (``-`` and ``_`` are the same in a name); a switch
(``kind=bool``) is ``--name`` alone, or ``name=true``. A command with positional arguments (the
folders of ``seqnet-compare``) takes every other word as one. Bad input raises ``ArgumentError``,
which the command prints as ``<prog>: error: <message>`` followed by its usage line.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqnet.errors import SeqnetError


class ArgumentError(SeqnetError):
    """An argument a command cannot use; its message names the argument and what it expects.
    ``usage``: whether the command's usage line should follow (an unknown or missing argument;
    not a bad value, whose message says everything)."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class Option:
    #: A Python identifier (``batch_size``); as a flag, ``--batch-size`` (or ``--batch_size``).
    name: str
    help: str
    #: The value when the option is not given (None: unset).
    default: Any = None
    #: Reads the text of a value: returns it converted, or raises ValueError with what it
    #: expects ("a positive integer"). bool for a switch.
    kind: Callable[[str], Any] | type = str
    metavar: str | None = None
    required: bool = False
    #: The value of ``--name`` given alone, for an option whose value may be left out
    #: (``--scalars [FILE]``): the next word is its value unless it is an option or an
    #: existing directory (a positional argument of ``seqnet-compare``).
    const: str | None = None

    @property
    def switch(self) -> bool:
        return self.kind is bool

    def read(self, text: str, style: str = "override") -> Any:
        given = f"{self.flag} {text}" if style == "flag" else f"{self.name}={text}"
        if self.switch:
            if text.lower() not in ("true", "false"):
                raise ArgumentError(f"{given} must be true or false")
            return text.lower() == "true"
        try:
            return self.kind(text)  # type: ignore[call-arg]
        except ValueError as e:
            expected = str(e) or f"a {getattr(self.kind, '__name__', 'value')}"
            raise ArgumentError(f"{given} must be {expected}") from None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def usage(self, style: str = "override") -> str:
        """How the usage line shows it: ``name=VALUE`` (``style="override"``) or ``--name
        VALUE`` (``"flag"``), in brackets unless required."""
        metavar = self.metavar or self.name.upper()
        if self.switch:
            text = self.flag
        elif self.const is not None:
            text = f"{self.flag} [{metavar}]"
        elif style == "flag":
            text = f"{self.flag} {metavar}"
        else:
            text = f"{self.name}={metavar}"
        return text if self.required else f"[{text}]"


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError("a positive integer")
    return int(text)


def nonnegative_int(text: str) -> int:
    if not text.isdigit():
        raise ValueError("an integer >= 0")
    return int(text)


def integer(text: str) -> int:
    if not text.lstrip("-").isdigit():
        raise ValueError("an integer")
    return int(text)


def one_of(*choices: str) -> Callable[[str], str]:
    def read(text: str) -> str:
        if text not in choices:
            raise ValueError(f"one of {', '.join(choices)}")
        return text

    read.__name__ = "choice"
    return read


@dataclass(frozen=True)
class Command:
    """A small command's arguments: ``Command(...).parse(argv)`` returns every option's value by
    name (``positional``: the list of positional arguments), or None after printing ``--help``."""

    prog: str
    description: str
    options: Sequence[Option]
    #: The name of the positional arguments (``RUN_OR_SWEEP_DIR``), or None for none.
    positional: str | None = None
    #: How the usage line and the help show options: "override" (``name=VALUE``) or "flag"
    #: (``--name VALUE``); both forms are accepted either way.
    style: str = "override"

    def usage(self) -> str:
        words = [self.prog, *(o.usage(self.style) for o in self.options)]
        if self.positional:
            words.insert(1, f"{self.positional} [{self.positional} ...]")
        return "usage: " + " ".join(words)

    def help(self) -> str:
        description = textwrap.fill(" ".join(self.description.split()), width=96)
        lines = [self.usage(), "", description, "", "arguments:"]
        for option in self.options:
            name = option.usage(self.style)
            name = name if option.required else name[1:-1]  # the brackets of an optional one
            default = "" if option.default in (None, False) else f" (default: {option.default})"
            body = textwrap.fill(
                option.help + default, width=96, initial_indent="      ", subsequent_indent="      "
            )
            lines += [f"  {name}", body]
        other = "--name VALUE or --name=VALUE" if self.style == "override" else "name=VALUE"
        lines.append(f"\nEach option is also accepted as {other}.")
        return "\n".join(lines)

    def error(self, error: ArgumentError) -> str:
        """The text a command prints for ``error``: one line, plus the usage where it helps."""
        return f"{self.prog}: error: {error}" + (f"\n{self.usage()}" if error.usage else "")

    def parse(self, argv: Sequence[str]) -> dict[str, Any] | None:
        if any(word in ("-h", "--help") for word in argv):
            print(self.help())
            return None
        by_name = {o.name: o for o in self.options}
        given: dict[str, Any] = {}
        positional: list[str] = []
        words = list(argv)
        while words:
            word = words.pop(0)
            name, value = self._split(word, by_name)
            if name is None:
                if self.positional is None or word.startswith("-"):
                    raise ArgumentError(f"unknown argument {word!r}", usage=True)
                positional.append(word)
                continue
            option = by_name[name]
            if value is None:  # --name VALUE, or a switch alone
                if option.switch:
                    value = "true"
                elif option.const is not None and (
                    not words or words[0].startswith("-") or Path(words[0]).is_dir()
                ):
                    value = option.const
                elif not words:
                    usage = option.usage(self.style).strip("[]")
                    raise ArgumentError(f"{option.flag} needs a value: {usage}", usage=True)
                else:
                    value = words.pop(0)
            given[name] = option.read(value, self.style)
        for option in self.options:
            if option.required and option.name not in given:
                required = option.usage(self.style).strip("[]")
                raise ArgumentError(f"{required} is required", usage=True)
        if self.positional is not None and not positional:
            raise ArgumentError(f"give at least one {self.positional}", usage=True)
        values = {o.name: given.get(o.name, o.default) for o in self.options}
        if self.positional is not None:
            values["positional"] = positional
        return values

    @staticmethod
    def _split(word: str, by_name: dict[str, Option]) -> tuple[str | None, str | None]:
        """``(option name, value or None)`` when ``word`` names an option, else ``(None, None)``."""
        flag = word.startswith("--")
        key, sep, value = word.removeprefix("--").partition("=")
        key = key.replace("-", "_")
        if key not in by_name or (not flag and not sep):
            return None, None
        return key, (value if sep else None)
