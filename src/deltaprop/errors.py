"""The errors deltaprop raises: one hierarchy, so callers can catch ``DeltapropError``.

Each subclass also derives from the built-in exception a Python user would expect
(``ValueError`` for bad values, ``TypeError`` for bad types, ``OSError`` for files), and every
message names the argument, what was expected, what was found and, where there is one, the fix.
"""


class DeltapropError(Exception):
    """Base class of every error deltaprop raises on purpose."""


class ValidationError(DeltapropError, ValueError):
    """An argument has the wrong shape, size or value."""


class DeltapropTypeError(DeltapropError, TypeError):
    """An argument has the wrong type or dtype."""


class DataError(DeltapropError, ValueError):
    """A data file is malformed (wrong magic, truncated, ragged rows, ...)."""


class DataNotFoundError(DeltapropError, FileNotFoundError):
    """A data set is not installed; the message names the command that installs it."""


class ModelFileError(DeltapropError, ValueError):
    """A model or checkpoint file is corrupt, foreign, tampered with or of a newer format."""


class DivergenceError(DeltapropError, FloatingPointError):
    """Training produced a NaN or infinite loss or gradient."""


class MissingDependencyError(DeltapropError, ImportError):
    """An optional package a feature needs (onnx, torch, ...) is not installed."""


class OutputError(DeltapropError, OSError):
    """An output file cannot be written where it was asked for (checked before any work)."""


class InsufficientMemoryError(DeltapropError, MemoryError):
    """Reading a file or building a network would need more memory than the machine has."""
