"""``key=value`` command-line arguments in the style of Hydra overrides, for the small commands."""

from __future__ import annotations

from seqnet.errors import SeqnetError


def parse_options(
    argv: list[str], defaults: dict[str, str | None], usage: str
) -> dict[str, str | None]:
    """``defaults`` updated by the ``key=value`` arguments; an unknown key is an error."""
    options = dict(defaults)
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in options:
            raise SeqnetError(f"unknown argument {arg!r}\n{usage}")
        options[key] = value
    return options
