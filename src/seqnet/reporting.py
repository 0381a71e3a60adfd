"""What ``seqnet-train`` prints for an error: its one line on stderr, once. The run's
``train.log`` records it too, written to the log's file handlers only: logged as usual it would
also reach Hydra's console handler and show twice."""

from __future__ import annotations

import logging
import sys
from contextlib import suppress

from seqnet.errors import OutputError

PROG = "seqnet-train"
log = logging.getLogger("seqnet")


def log_to_files(level: int, message: str) -> None:
    """``message`` to the file handlers seqnet's log reaches (``train.log``), not the console."""
    record = log.makeRecord(log.name, level, __file__, 0, message, (), None)
    logger: logging.Logger | None = log
    while logger is not None:
        for handler in logger.handlers:
            if isinstance(handler, logging.FileHandler) and level >= handler.level:
                handler.handle(record)
        logger = logger.parent if logger.propagate else None


def report_error(error: BaseException | str, job: str = "") -> None:
    """``seqnet-train: error: <message>`` (`` [<job>]`` after it in a sweep) on stderr, and the
    message in ``train.log``."""
    line = f"{error}" + (f" [{job}]" if job else "")
    with suppress(OutputError):  # train.log may be what cannot be written
        log_to_files(logging.ERROR, line)
    print(f"{PROG}: error: {line}", file=sys.stderr)


def report_warning(message: str) -> None:
    """``seqnet-train: <message>`` on stderr (a run stopped by a signal), and in ``train.log``."""
    with suppress(OutputError):
        log_to_files(logging.WARNING, message)
    print(f"{PROG}: {message}", file=sys.stderr)
