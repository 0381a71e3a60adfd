"""User-facing errors: each names the bad value, what was expected and how to fix it."""


class SeqnetError(Exception):
    """An error caused by the user's input; the CLI prints its message without a traceback."""


class ConfigError(SeqnetError):
    """A configuration value that is well-typed but unusable (for example cuda on a CPU machine)."""


class DataFileError(ConfigError):
    """A data file (``data.path`` of a file task) that is missing, unreadable or empty, or whose
    contents the task cannot use; the message names the file, the problem and the fix."""


class CheckpointError(SeqnetError):
    """A checkpoint that is missing, corrupt, or does not match the current configuration."""


class GradientsFileError(SeqnetError):
    """A gradients.npz that is missing, empty, truncated or not written by seqnet."""


class TrainingDiverged(SeqnetError):
    """Too many consecutive steps with a non-finite loss or gradient."""
