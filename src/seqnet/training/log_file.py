"""The run's log file (``train.log``) as one line on a fault: the standard ``FileHandler``
prints a traceback for every record it cannot write (a full disk, a folder gone read-only);
``RunLogFile`` raises one ``OutputError`` naming the file instead, at the first record it
cannot write, and then stops writing (so the rest of the run's shutdown logs nothing more to a
file that cannot take it). The Hydra job-logging config ``hydra/job_logging=seqnet`` uses it."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from seqnet.errors import output_error


class RunLogFile(logging.FileHandler):
    """A ``logging.FileHandler`` whose write errors are one ``OutputError``."""

    def __init__(self, filename: str, mode: str = "a", encoding: str | None = None) -> None:
        super().__init__(filename, mode, encoding)
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # logging's name
        error = sys.exc_info()[1]
        if not isinstance(error, OSError) or self.failed:
            super().handleError(record)
            return
        self.failed = True
        raise output_error(Path(self.baseFilename), error, what="the log") from error
