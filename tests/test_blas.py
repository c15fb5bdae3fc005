"""``blas.matmul`` against ``np.matmul``: the same bits for every shape and layout."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

blas = pytest.importorskip("deltaprop.blas", reason="numba is not installed")
pytestmark = pytest.mark.skipif(
    not blas.AVAILABLE, reason="NumPy is not linked to its own OpenBLAS"
)

sizes = st.sampled_from([0, 1, 2, 3, 7, 16, 33])


@pytest.fixture(autouse=True, scope="module")
def compiled():
    """``matmul`` is compiled for a dtype by ``check``, as the compiled engine calls it."""
    assert blas.check(np.float32) and blas.check(np.float64)


def operand(rng, shape, dtype, layout):
    """An array of ``shape`` stored row-major, column-major, or as the transpose of either."""
    if layout in ("C", "F"):
        return np.asarray(rng.standard_normal(shape), dtype, order=layout)
    stored = np.asarray(rng.standard_normal(shape[::-1]), dtype, order=layout[0])
    return stored.T


@settings(max_examples=300, deadline=None)
@given(
    m=sizes,
    n=sizes,
    p=sizes,
    dtype=st.sampled_from([np.float32, np.float64]),
    layouts=st.tuples(*[st.sampled_from(["C", "F", "CT", "FT"])] * 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_matmul_gives_numpys_bits(m, n, p, dtype, layouts, seed):
    rng = np.random.default_rng(seed)
    a = operand(rng, (m, n), dtype, layouts[0])
    b = operand(rng, (n, p), dtype, layouts[1])
    out = operand(rng, (m, p), dtype, layouts[2])
    expected = np.matmul(a, b, out=out.copy(order="K"))
    blas.matmul(a, b, out)
    assert out.tobytes() == expected.tobytes()


def test_signed_zeros_and_a_product_with_its_own_transpose_match_numpy():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((9, 4))
    for left, right in ((a, a.T), (a.T, a)):  # NumPy's syrk case
        out = np.empty((len(left), right.shape[1]))
        blas.matmul(left, right, out)
        assert out.tobytes() == (left @ right).tobytes()
    zeros = -np.zeros((1, 3), dtype=np.float32)
    for b in (-np.zeros((3, 1), np.float32), np.ones((3, 2), np.float32)):
        out = np.empty((1, b.shape[1]), np.float32)
        blas.matmul(zeros, b, out)
        assert out.tobytes() == (zeros @ b).tobytes()


def test_a_strided_view_is_refused_not_miscomputed():
    a = np.ones((6, 8))[:, ::2]  # no contiguous axis
    with pytest.raises(ValueError, match="contiguous"):
        blas.matmul(a, np.ones((4, 3)), np.empty((6, 3)))


def test_the_self_check_passes_on_this_numpy():
    assert blas.check(np.float32) and blas.check(np.float64)
