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
