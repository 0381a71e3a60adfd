"""Names that become file names: ``hydra.job.name`` (the log, ``<name>.log`` in the run folder)
and ``hydra.sweeper.study_name`` (the Optuna database, ``outputs/optuna/<name>.db``). A name
with a separator or ``..`` would write outside its folder, and a long one fails at the file
system (255 bytes a name), so each is checked before anything is written."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from seqnet.errors import ConfigError

#: Longest name allowed, in characters (a file system allows 255 bytes, the suffix included).
MAX_NAME_LENGTH = 100
#: The Hydra keys whose values seqnet makes file names of.
PATH_NAMES = ("hydra.job.name", "hydra.sweeper.study_name")
RULE = "names become file names: use letters, digits, '_', '-' and '.', at most 100 of them"


def check_name(key: str, name: Any) -> None:
    """Raise ``ConfigError`` (naming ``key``) for a value that is no safe file name."""
    text = str(name)
    if not text:
        problem = f"{key} is empty"
    elif len(text) > MAX_NAME_LENGTH:
        problem = f"{key} is {len(text)} characters long"
    elif separators := [c for c in ("/", "\\", "\0") if c in text]:
        problem = f"{key}={text!r} holds {separators[0]!r}"
    elif text in (".", ".."):
        problem = f"{key}={text!r} names {'a parent' if text == '..' else 'the current'} folder"
    else:
        return
    raise ConfigError(f"{problem}; {RULE}")


def check_path_names(config: DictConfig) -> None:
    """Every name of ``PATH_NAMES`` that ``config`` (with its ``hydra`` node) sets."""
    for key in PATH_NAMES:
        value = OmegaConf.select(config, key, default=None)
        if value is not None:
            check_name(key, value)
