"""Kernels whose summation order is NumPy's, checked against NumPy to the bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deltaprop.losses import MeanSquaredError

kernels = pytest.importorskip("deltaprop.kernels", reason="numba is not installed")


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 70),
    columns=st.sampled_from([1, 2, 3, 7, 8, 9, 10, 16, 31, 130]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_mean_squared_error_gives_numpys_pairwise_sum(rows, columns, dtype, seed):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((rows, columns)) * 10 ** rng.uniform(-3, 3)).astype(dtype)
    targets = rng.standard_normal((rows, columns)).astype(dtype)
    expected = MeanSquaredError().value(None, a, targets)
    got = kernels.mean_squared_error(a.ravel(), targets.ravel())
    assert np.asarray(got, dtype).tobytes() == np.asarray(expected).tobytes()
