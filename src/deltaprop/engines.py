"""Which engine computes a network's passes: the NumPy reference or the compiled kernels.

``"numpy"`` is ``network.py`` itself. ``"compiled"`` (``compiled.py``) computes the same
equations with numba kernels that fuse the element-wise work of a step into single passes; it
needs the ``fast`` extra (``pip install "deltaprop[fast]"``). ``"auto"`` picks the compiled
engine whenever numba is installed. Finding out does not import numba: ``import deltaprop`` and
building a network stay fast, and numba loads on the first compiled pass.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from .errors import DeltapropTypeError, MissingDependencyError, ValidationError

ENGINES = ("auto", "numpy", "compiled")
INSTALL_HINT = 'pip install "deltaprop[fast]"'


def numba_installed() -> bool:
    """True when numba can be imported (checked without importing it)."""
    return importlib.util.find_spec("numba") is not None


def check_engine(engine: str) -> str:
    """The engine ``engine`` names, resolved: ``"numpy"`` or ``"compiled"``.

    ``"auto"`` is ``"compiled"`` when numba is installed, else ``"numpy"``; ``"compiled"``
    without numba raises ``MissingDependencyError`` naming the install command.
    """
    if not isinstance(engine, str):
        raise DeltapropTypeError(f"engine must be a string, got {type(engine).__name__}")
    key = engine.lower()
    if key not in ENGINES:
        raise ValidationError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if key == "numpy":
        return key
    if numba_installed():
        return "compiled"
    if key == "compiled":
        raise MissingDependencyError(
            f'engine="compiled" needs numba, which is not installed: {INSTALL_HINT}, '
            'or use engine="numpy"'
        )
    return "numpy"


def compiled_supports(dtype: np.dtype) -> bool:
    """The compiled kernels exist for float32 and float64; other dtypes (gradcheck's
    ``np.longdouble`` copy) run on the NumPy engine."""
    return dtype in (np.float32, np.float64)
