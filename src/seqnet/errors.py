"""User-facing errors: each names the bad value, what was expected and how to fix it."""


class SeqnetError(Exception):
    """An error caused by the user's input; the CLI prints its message without a traceback."""


class ConfigError(SeqnetError):
    """A configuration value that is well-typed but unusable (for example cuda on a CPU machine)."""


class CheckpointError(SeqnetError):
    """A checkpoint that is missing, corrupt, or does not match the current configuration."""


class GradientsFileError(SeqnetError):
    """A gradients.npz that is missing, empty, truncated or not written by seqnet."""


class TrainingDiverged(SeqnetError):
    """Too many consecutive steps with a non-finite loss or gradient."""


class Refusal(BaseException):
    """Carries a ``SeqnetError`` out of a Hydra callback, which turns an ``Exception`` into a
    warning and carries on; the command prints ``.error`` as its one line, ``seqnet.run`` raises
    it."""

    def __init__(self, error: SeqnetError) -> None:
        super().__init__(str(error))
        self.error = error


class OutputError(SeqnetError):
    """A file seqnet must write cannot be written: a full disk, a read-only folder, a quota."""


#: The fix for each write error, by errno name (others: check the path).
_OUTPUT_FIXES = {
    "ENOSPC": "free space on that disk",
    "EDQUOT": "free space within your disk quota",
    "EROFS": "make that folder writable",
    "EACCES": "make that folder writable",
    "EPERM": "make that folder writable",
}
RUNS_ELSEWHERE = "write runs elsewhere: paths.output_dir=... (or hydra.run.dir=...)"


def output_error(
    path: object, error: OSError, what: str = "", fix: str | None = None
) -> OutputError:
    """``cannot write [what ]PATH: No space left on device (ENOSPC); <fix>``: one line for an
    ``OSError`` met while writing ``path``. ``fix`` replaces the default advice (by errno, then
    ``RUNS_ELSEWHERE``)."""
    import errno as errnos

    name = errnos.errorcode.get(error.errno or 0, "")
    reason = error.strerror or str(error)
    if fix is None:
        fix = f"{_OUTPUT_FIXES.get(name, 'check that path')}, or {RUNS_ELSEWHERE}"
    code = f" ({name})" if name else ""
    return OutputError(f"cannot write {what + ' ' if what else ''}{path}: {reason}{code}; {fix}")
