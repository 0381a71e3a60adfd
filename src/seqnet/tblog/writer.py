"""TensorBoard writing for a run: scalars, hyperparameters and the custom-scalars layout.

Everything goes into one folder (``<run dir>/tb``), so TensorBoard shows one run per run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from seqnet.errors import output_error
from seqnet.tblog.hparams import HParamValue


def _quiet_writer_threads(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A ``threading.excepthook`` that leaves out TensorBoard's writer thread when it fails to
    write (a full disk): the writer raises the same error again in the training thread, where
    it becomes one line; the thread's own traceback would only repeat it."""

    def excepthook(args: Any) -> None:
        thread = type(args.thread).__name__ if args.thread is not None else ""
        if thread == "_AsyncWriterThread" and issubclass(args.exc_type, OSError):
            return
        hook(args)

    excepthook.quiets_writer_threads = True  # type: ignore[attr-defined]
    return excepthook


class RunWriter:
    """A ``SummaryWriter`` plus the few seqnet-specific summaries."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        if not getattr(threading.excepthook, "quiets_writer_threads", False):
            threading.excepthook = _quiet_writer_threads(threading.excepthook)
        with self._writing():
            self.writer = SummaryWriter(log_dir=str(log_dir))

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write error (a full disk, a read-only folder) as one ``OutputError``."""
        try:
            yield
        except OSError as e:
            raise output_error(self.log_dir, e) from e  # tb/: TensorBoard's files

    def scalars(self, values: dict[str, float], step: int) -> None:
        with self._writing():
            for tag, value in values.items():
                self.writer.add_scalar(tag, value, step)

    def write_hparams(self, hparam_dict: dict[str, HParamValue], metric_tags: list[str]) -> None:
        """The HPARAMS dashboard's entry for this run, written into this run's own folder.

        ``SummaryWriter.add_hparams`` would write into a new sub-folder, which TensorBoard shows
        as a second run; the three summaries from ``hparams()`` go to our own writer instead.
        The metric values are the last scalars logged under ``metric_tags`` in this folder.
        """
        experiment, session_start, session_end = hparams(
            hparam_dict, dict.fromkeys(metric_tags, 0.0)
        )
        file_writer = self.writer._get_file_writer()
        for summary in (experiment, session_start, session_end):
            file_writer.add_summary(summary)

    def custom_scalars(self, layout: dict[str, dict[str, list[Any]]]) -> None:
        self.writer.add_custom_scalars(layout)

    def figure(self, tag: str, figure: Any, step: int) -> None:
        self.writer.add_figure(tag, figure, step, close=True)

    def flush(self) -> None:
        with self._writing():
            self.writer.flush()

    def close(self) -> None:
        with self._writing():
            self.writer.close()


class NullWriter:
    """A writer that writes nothing: what ranks other than 0 log to under torchrun."""

    def scalars(self, values: dict[str, float], step: int) -> None:
        pass

    def write_hparams(self, hparam_dict: dict[str, HParamValue], metric_tags: list[str]) -> None:
        pass

    def custom_scalars(self, layout: dict[str, dict[str, list[Any]]]) -> None:
        pass

    def figure(self, tag: str, figure: Any, step: int) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
