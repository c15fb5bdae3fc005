"""Matrix products inside compiled code that are, bit for bit, the ones ``np.matmul`` computes.

A compiled training step can only give the NumPy engine's bits if each of its products is the
same BLAS call with the same arguments that NumPy makes. ``matmul`` therefore calls the BLAS
library NumPy itself is linked to (the OpenBLAS of NumPy's wheels, its ``scipy_cblas_*64_``
functions, found next to NumPy and registered with LLVM by name so that cached code still
links) and repeats NumPy's own choice between them, from ``numpy/_core/src/umath/matmul.c.src``:
a dot product for a 1x1 result, a plain loop when the summed dimension is 1 or any is 0,
``gemv`` when one operand is a vector, else ``gemm`` (``syrk`` for A·Aᵀ), of the transposed
problem when the output is column-major.

Where NumPy uses another BLAS (or none), ``AVAILABLE`` is False, ``matmul`` is left
uncompiled and callers keep NumPy's products. ``check(dtype)`` compiles ``matmul`` for the
dtype and compares it with ``np.matmul`` over the layouts a training step uses, once per
process and dtype, before anything relies on it.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import llvmlite.binding as llvm
import numba
import numpy as np
from numba import types

from .kernels import kernel

ROW_MAJOR, COL_MAJOR, NO_TRANS, TRANS, UPPER = 101, 102, 111, 112, 121
LARGEST = 2**63 - 2  # NumPy's BLAS_MAXSIZE for a 64-bit-integer BLAS
CHUNK = 2**30  # NumPy's NPY_CBLAS_CHUNK: longer dot products are summed in chunks

# The routines' C prototypes (cblas.h) with CBLAS_INT 64 bits wide, one letter per argument:
# e an enum (int), i a CBLAS_INT, f the float type, p a pointer (passed as an integer).
#   gemm(order, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
#   gemv(order, trans, M, N, alpha, A, lda, X, incx, beta, Y, incy)
#   syrk(order, upper_lower, trans, N, K, alpha, A, lda, beta, C, ldc)
#   dot(N, X, incx, Y, incy) -> f
_ARGUMENTS = {
    "gemm": "eeeiiifpipifpi",
    "gemv": "eeiifpipifpi",
    "syrk": "eeeiifpifpi",
    "dot": "ipipi",
}


def _signature(routine: str, scalar: types.Float):
    letters = {"e": types.int32, "i": types.int64, "f": scalar, "p": types.intp}
    arguments = [letters[letter] for letter in _ARGUMENTS[routine]]
    return (scalar if routine == "dot" else types.void)(*arguments)


def _library() -> ctypes.CDLL | None:
    """NumPy's own OpenBLAS, or None when this NumPy was built against another BLAS."""
    folder = Path(np.__file__).parent.with_name("numpy.libs")
    for path in sorted(folder.glob("libscipy_openblas64_*.so")):
        try:
            return ctypes.CDLL(os.fspath(path))
        except OSError:
            return None
    return None


def _register() -> dict[str, types.ExternalFunction] | None:
    """The ExternalFunction of each routine, named ``s<routine>`` and ``d<routine>``."""
    library = _library()
    if library is None:
        return None
    functions = {}
    for routine in _ARGUMENTS:
        for prefix, scalar in (("s", types.float32), ("d", types.float64)):
            symbol = f"scipy_cblas_{prefix}{routine}64_"
            try:
                address = ctypes.cast(getattr(library, symbol), ctypes.c_void_p).value
            except AttributeError:
                return None
            llvm.add_symbol(symbol, address)
            signature = _signature(routine, scalar)
            functions[prefix + routine] = types.ExternalFunction(symbol, signature)
    return functions


_FUNCTIONS = _register()
AVAILABLE = _FUNCTIONS is not None
if AVAILABLE:
    sgemm, dgemm = _FUNCTIONS["sgemm"], _FUNCTIONS["dgemm"]
    sgemv, dgemv = _FUNCTIONS["sgemv"], _FUNCTIONS["dgemv"]
    ssyrk, dsyrk = _FUNCTIONS["ssyrk"], _FUNCTIONS["dsyrk"]
    sdot, ddot = _FUNCTIONS["sdot"], _FUNCTIONS["ddot"]


@kernel
def _blasable(stride1, stride2, d1, d2, itemsize):
    """NumPy's ``is_blasable2d``: the second axis contiguous, the first a whole number of
    elements apart and at least ``d2`` of them."""
    if stride2 != itemsize:
        return False
    return stride1 % itemsize == 0 and d2 <= stride1 // itemsize <= LARGEST


@kernel
def _loop(a, b, out):
    """NumPy's ``matmul_inner_noblas``: each element summed from 0 in order of the inner index."""
    rows, inner = a.shape
    columns = b.shape[1]
    for i in range(rows):
        for j in range(columns):
            total = out.dtype.type(0)
            for k in range(inner):
                total += a[i, k] * b[k, j]
            out[i, j] = total


@kernel
def _dot(x, x_stride, y, y_stride, n, single):
    """NumPy's ``FLOAT_dot``/``DOUBLE_dot`` of ``n`` elements of the 1-D ``x`` and ``y``."""
    itemsize = x.itemsize
    if x_stride > 0 and y_stride > 0 and x_stride % itemsize == 0 and y_stride % itemsize == 0:
        if n >= CHUNK:
            raise ValueError("dot product too long for one BLAS call")
        total = 0.0  # NumPy sums the chunks' dot products in double precision, from 0
        incx, incy = x_stride // itemsize, y_stride // itemsize
        if single:
            total += sdot(n, x.ctypes.data, incx, y.ctypes.data, incy)
        else:
            total += ddot(n, x.ctypes.data, incx, y.ctypes.data, incy)
        return total
    total = x.dtype.type(0)
    for k in range(n):
        total += x[k] * y[k]
    return total


@kernel
def _gemv(matrix, m_stride, n_stride, vector, v_stride, out, o_stride, m, n, single):
    """NumPy's ``@TYPE@_gemv``: ``out (m) = matrix (m, n) @ vector (n)``, strides in bytes."""
    itemsize = matrix.itemsize
    if _blasable(m_stride, n_stride, m, n, itemsize):
        order, lead = COL_MAJOR, m_stride // itemsize
    else:
        order, lead = ROW_MAJOR, n_stride // itemsize
    incx, incy = v_stride // itemsize, o_stride // itemsize
    if single:
        sgemv(order, TRANS, n, m, np.float32(1), matrix.ctypes.data, lead, vector.ctypes.data,
              incx, np.float32(0), out.ctypes.data, incy)  # fmt: skip
    else:
        dgemv(order, TRANS, n, m, 1.0, matrix.ctypes.data, lead, vector.ctypes.data, incx, 0.0,
              out.ctypes.data, incy)  # fmt: skip


@kernel
def _matrix_matrix(a, b, out, single):
    """NumPy's ``matmul_matrixmatrix``: ``out = a @ b`` by ``gemm`` (``syrk`` for A·Aᵀ) on a
    row-major ``out``."""
    itemsize = a.itemsize
    m, n = a.shape
    p = b.shape[1]
    a_m, a_n = a.strides
    b_n, b_p = b.strides
    ldc = out.strides[0] // itemsize
    if _blasable(a_m, a_n, m, n, itemsize):
        trans_a, lda = NO_TRANS, a_m // itemsize
    else:
        trans_a, lda = TRANS, a_n // itemsize
    if _blasable(b_n, b_p, n, p, itemsize):
        trans_b, ldb = NO_TRANS, b_n // itemsize
    else:
        trans_b, ldb = TRANS, b_p // itemsize
    same = a.ctypes.data == b.ctypes.data and m == p and a_m == b_p and a_n == b_n
    if same and trans_a != trans_b:
        lead = lda if trans_a == NO_TRANS else ldb
        if single:
            ssyrk(ROW_MAJOR, UPPER, trans_a, p, n, np.float32(1), a.ctypes.data, lead,
                  np.float32(0), out.ctypes.data, ldc)  # fmt: skip
        else:
            dsyrk(ROW_MAJOR, UPPER, trans_a, p, n, 1.0, a.ctypes.data, lead, 0.0,
                  out.ctypes.data, ldc)  # fmt: skip
        for i in range(p):
            for j in range(i + 1, p):
                out[j, i] = out[i, j]
    elif single:
        sgemm(ROW_MAJOR, trans_a, trans_b, m, p, n, np.float32(1), a.ctypes.data, lda,
              b.ctypes.data, ldb, np.float32(0), out.ctypes.data, ldc)  # fmt: skip
    else:
        dgemm(ROW_MAJOR, trans_a, trans_b, m, p, n, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb,
              0.0, out.ctypes.data, ldc)  # fmt: skip


def _once_per_dtype(function):
    """Compiled for arrays of any layout (numba's "A"), once per dtype when ``check`` first
    asks for it, not once per mix of C and F arrays: each mix, or the dtype a program never
    uses, would cost its own seconds of compilation on the first run. Left uncompiled where
    there is no BLAS to call (``check`` is then False and nothing calls it). Callers call
    ``check`` first; after it, numba compiles no other signature, so the arrays of compiled
    callers convert to "A"."""
    return kernel(function) if AVAILABLE else function


def _compile_for(dtype: type) -> None:
    """``matmul`` for ``dtype``'s arrays of any layout, from the cache where it is there."""
    array = types.Array(numba.from_dtype(np.dtype(dtype)), 2, "A")
    if (array,) * 3 in matmul.overloads:
        return
    matmul.disable_compile(False)
    try:
        matmul.compile(types.void(array, array, array))
    finally:
        matmul.disable_compile()


@_once_per_dtype
def matmul(a, b, out):
    """``np.matmul(a, b, out=out)`` for 2-D float32 or float64 arrays ``(m, n)``, ``(n, p)``
    and ``(m, p)`` of one dtype, each with one contiguous axis, ``out`` sharing no memory with
    ``a`` or ``b``; the same bits, by the same calls (see the module docstring)."""
    itemsize = a.itemsize
    single = itemsize == 4
    m, n = a.shape
    p = b.shape[1]
    a_m, a_n = a.strides
    b_n, b_p = b.strides
    o_m, o_p = out.strides
    if m == 0 or n == 0 or p == 0:
        _loop(a, b, out)
        return
    a_blasable = _blasable(a_m, a_n, m, n, itemsize) or _blasable(a_n, a_m, n, m, itemsize)
    b_blasable = _blasable(b_n, b_p, n, p, itemsize) or _blasable(b_p, b_n, p, n, itemsize)
    if m == 1 or n == 1 or p == 1:
        if m == 1 and p == 1:
            out[0, 0] = _dot(a[0], a_n, b[:, 0], b_n, n, single)
        elif n == 1 and (p == 1 or m == 1):
            _loop(a, b, out)
        elif m == 1 and b_blasable and _blasable(a_n, itemsize, n, 1, itemsize):
            _gemv(b.T, b_p, b_n, a[0], a_n, out[0], o_p, p, n, single)
        elif p == 1 and a_blasable and _blasable(b_n, itemsize, n, 1, itemsize):
            _gemv(a, a_m, a_n, b[:, 0], b_n, out[:, 0], o_m, m, n, single)
        else:
            _loop(a, b, out)
        return
    o_blasable = _blasable(o_m, o_p, m, p, itemsize) or _blasable(o_p, o_m, p, m, itemsize)
    if not (a_blasable and b_blasable and o_blasable):
        raise ValueError("matmul needs operands with one contiguous axis")
    if abs(o_m) < abs(o_p):  # a column-major out: out.T = b.T @ a.T is row-major
        _matrix_matrix(b.T, a.T, out.T, single)
    else:
        _matrix_matrix(a, b, out, single)


def check(dtype: type) -> bool:
    """Whether ``matmul`` gives ``np.matmul``'s bits here for ``dtype`` (float32 or float64),
    for each layout and special case a training step meets (false where NumPy's BLAS is not
    the one ``matmul`` calls)."""
    if not AVAILABLE:
        return False
    _compile_for(dtype)
    rng = np.random.default_rng(0)
    for m, n, p in ((7, 5, 3), (1, 6, 4), (5, 6, 1), (1, 6, 1), (4, 1, 3), (1, 1, 3)):
        for orders in ("CCC", "FFF", "CFF", "FCC", "CFC", "FCF"):
            a = np.asarray(rng.standard_normal((m, n)), dtype, order=orders[0])
            b = np.asarray(rng.standard_normal((n, p)), dtype, order=orders[1])
            expected = np.matmul(a, b, out=np.empty((m, p), dtype, order=orders[2]))
            out = np.empty((m, p), dtype, order=orders[2])
            matmul(a, b, out)
            if out.tobytes() != expected.tobytes():
                return False
    return True
