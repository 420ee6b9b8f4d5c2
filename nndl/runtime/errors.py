"""Exceptions raised at run time for the user's data or files (never for our own bugs)."""


class RuntimeNNDLError(Exception):
    """Base class: a message that names what was expected and what was found."""


class InputError(RuntimeNNDLError, ValueError):
    """Inputs or targets of the wrong name, shape or values."""


class WeightFileError(RuntimeNNDLError, ValueError):
    """A weight file that is not one of this network's, or is damaged."""


class TrainingError(RuntimeNNDLError):
    """Training cannot go on: a loss or gradient is no longer a finite number."""


class OutputError(RuntimeNNDLError, OSError):
    """A file cannot be written where asked: not a regular file, no such folder, or an input."""
