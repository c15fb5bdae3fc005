"""numba kernels: the element-wise work of a training step, each fused into one pass.

Each kernel computes exactly the operations ``network.py``, ``activations.py``, ``losses.py``
and ``optimizers.py`` compute with NumPy, in the same order and in the arrays' own precision
(constants arrive already rounded to the dtype, as NumPy rounds a Python float against a
float32 array), without fast-math: so the results are the same bits, except where a
transcendental function (tanh, exp) comes from the C library instead of NumPy's own code.

Importing this module imports numba; only ``compiled.py`` does, on a network's first compiled
pass. Compiled code is cached on disk (next to this file, or in the user's cache directory
when the package directory is read-only); where neither can be written, the kernels compile
in every process instead.
"""

from __future__ import annotations

import numba
import numpy as np

# Activation codes of ``bias_activation`` and ``activation_backward``.
IDENTITY, RELU, LEAKY_RELU, SIGMOID, TANH = range(5)


def kernel(function=None, *, signatures=None):
    """``numba.njit`` with the on-disk cache when some cache directory is writable; with
    ``signatures``, compiled for those types only (``@kernel(signatures=[...])``).

    NumPy's error model: x/0 gives inf or NaN as in NumPy instead of raising, which also
    spares every division a branch and lets the loops vectorise.
    """

    def compiled(function):
        types = [signatures] if signatures else []
        try:
            return numba.njit(*types, cache=True, error_model="numpy")(function)
        except RuntimeError:  # numba found no writable cache directory: compile per process
            return numba.njit(*types, error_model="numpy")(function)

    return compiled if function is None else compiled(function)


@kernel
def _sigma(v, kind, alpha, half, one):
    """σ(v) for the activation ``kind`` (one element)."""
    if kind == RELU:
        # max(v, 0) as np.maximum computes it: NaN stays NaN, -0 becomes +0
        return v if not v <= 0 else half - half
    if kind == LEAKY_RELU:
        return v if v > 0 else alpha * v
    if kind == SIGMOID:
        # ½(1 + tanh(v/2)), as activations.Sigmoid
        return (np.tanh(v * half) + one) * half
    if kind == TANH:
        return np.tanh(v)
    return v


@kernel
def bias_activation(z, bias, a, bias_per_column, kind, alpha):
    """``z += b`` then ``a = σ(z)``, over a C-contiguous 2-D ``z`` and ``a`` of one shape.

    ``bias`` runs along the columns (``z`` is ``(N, n)``) or, with ``bias_per_column`` False,
    along the rows (``z`` is the transposed ``(n, N)`` view of a column-major array). ``a``
    may be ``z`` itself.
    """
    rows, columns = z.shape
    half, one = z.dtype.type(0.5), z.dtype.type(1)
    for i in range(rows):
        for j in range(columns):
            v = z[i, j] + (bias[j] if bias_per_column else bias[i])
            z[i, j] = v
            a[i, j] = _sigma(v, kind, alpha, half, one)


@kernel
def _prime(z, a, kind, alpha, one):
    """σ'(z) for the activation ``kind`` from z and a = σ(z), as ``Activation.prime``."""
    if kind == RELU:
        return one if a > 0 else one - one
    if kind == LEAKY_RELU:
        return one if z > 0 else alpha
    if kind == SIGMOID:
        return a * (one - a)
    if kind == TANH:
        return one - a * a
    return one


@kernel
def activation_backward(grad, z, a, mask, kind, alpha):
    """``grad ⊙= mask`` (when ``mask`` has elements) then ``grad ⊙= σ'(z)``, in place.

    All 2-D, C-contiguous and of one shape (the transposes of column-major arrays).
    """
    one = grad.dtype.type(1)
    masked = mask.size > 0
    rows, columns = grad.shape
    for i in range(rows):
        for j in range(columns):
            g = grad[i, j]
            if masked:
                g = g * mask[i, j]
            if kind != IDENTITY:
                g = g * _prime(z[i, j], a[i, j], kind, alpha, one)
            grad[i, j] = g


@kernel
def outer(delta, inputs, out):
    """∂L/∂W = δᵀ a for one sample: ``delta`` ``(1, n_out)``, ``inputs`` ``(1, n_in)``, ``out``
    ``(n_out, n_in)``; adding 0 makes a -0 product +0, as ``network.weight_gradient`` does."""
    zero = out.dtype.type(0)
    rows, columns = out.shape
    for i in range(rows):
        d = delta[0, i]
        for j in range(columns):
            out[i, j] = d * inputs[0, j] + zero


@kernel
def dropout(uniform, a, dropped, keep):
    """Inverted dropout: ``mask = (u < keep) / keep`` written over ``uniform``, and
    ``dropped = a ⊙ mask``; 2-D, C-contiguous, of one shape."""
    one, zero = a.dtype.type(1), a.dtype.type(0)
    rows, columns = a.shape
    for i in range(rows):
        for j in range(columns):
            mask = (one if uniform[i, j] < keep else zero) / keep
            uniform[i, j] = mask
            dropped[i, j] = a[i, j] * mask


@kernel
def bias_softmax(z, bias, a):
    """``z += b`` then ``a`` = the softmax of each row of ``z``, both ``(N, n)``, any layout.

    As ``activations.Softmax``: subtract the row maximum, exponentiate, divide by the row sum
    (summed from the first column to the last).
    """
    rows, columns = z.shape
    for i in range(rows):
        for j in range(columns):
            z[i, j] = z[i, j] + bias[j]
        largest = z[i, 0]
        for j in range(1, columns):
            if z[i, j] > largest or z[i, j] != z[i, j]:
                largest = z[i, j]
        total = z.dtype.type(0)
        for j in range(columns):
            e = np.exp(z[i, j] - largest)
            a[i, j] = e
            total = total + e if j else e
        for j in range(columns):
            a[i, j] = a[i, j] / total


@kernel
def cross_entropy_from_labels(z, labels):
    """Mean over rows of log Σ_k e^(z_k - m) + m - z_(label), m the row maximum, in z's own
    precision as ``losses.CrossEntropy.value`` (so it overflows where that one does; the sums
    run in another order, so the last digits may differ)."""
    rows, columns = z.shape
    total = z.dtype.type(0)
    for i in range(rows):
        largest = z[i, 0]
        for j in range(1, columns):
            if z[i, j] > largest or z[i, j] != z[i, j]:
                largest = z[i, j]
        exp_sum = z.dtype.type(0)
        for j in range(columns):
            exp_sum += np.exp(z[i, j] - largest)
        total += np.log(exp_sum) + largest - z[i, labels[i]]
    return total / z.dtype.type(rows)


@kernel
def mean_squared_error(a, targets):
    """Mean over all elements of (a - y)² for 1-D ``a`` and ``targets`` of one length, the
    same bits as ``losses.MeanSquaredError.value``: the sum in the order of NumPy's
    ``pairwise_sum`` (numpy/_core/src/umath/loops_utils.h.src), which splits more than 128
    elements into two halves (at a multiple of 8) and sums each apart."""
    # The halves' tree walked with a stack (numba's cache cannot link a recursive kernel into
    # its callers): a part is pushed as (start, length); a part seen a second time has both
    # halves' sums on top of ``sums``, to be added left + right.
    starts, lengths = np.empty(128, np.int64), np.empty(128, np.int64)
    split, sums = np.zeros(128, np.bool_), np.empty(128, a.dtype)
    top, count = 0, 0
    starts[0], lengths[0] = 0, a.size
    while top >= 0:
        start, n = starts[top], lengths[top]
        if n <= 128:
            sums[count] = _block_squares(a, targets, start, n)
            count += 1
            top -= 1
        elif split[top]:
            sums[count - 2] = sums[count - 2] + sums[count - 1]
            count -= 1
            split[top] = False
            top -= 1
        else:
            split[top] = True
            half = n // 2
            half -= half % 8
            starts[top + 1], lengths[top + 1] = start + half, n - half
            starts[top + 2], lengths[top + 2] = start, half
            split[top + 1] = split[top + 2] = False
            top += 2
    return sums[0] / a.dtype.type(a.size)


@kernel
def _block_squares(a, targets, start, n):
    """``pairwise_sum`` of (a_i - y_i)² for n ≤ 128 elements from ``start``: in order below 8
    elements, else eight running sums added pairwise, then the rest in order."""
    if n < 8:
        total = a.dtype.type(0)
        for i in range(start, start + n):
            d = a[i] - targets[i]
            total += d * d
        return total
    sums = np.empty(8, dtype=a.dtype)
    for k in range(8):
        d = a[start + k] - targets[start + k]
        sums[k] = d * d
    i = 8
    while i < n - n % 8:
        for k in range(8):
            d = a[start + i + k] - targets[start + i + k]
            sums[k] += d * d
        i += 8
    total = ((sums[0] + sums[1]) + (sums[2] + sums[3])) + (
        (sums[4] + sums[5]) + (sums[6] + sums[7])
    )
    for k in range(i, n):
        d = a[start + k] - targets[start + k]
        total += d * d
    return total


@kernel
def delta_from_labels(a, labels, scale, delta):
    """δ^L = (P - Y) · scale with Y the one-hot rows of ``labels`` (N,); arrays ``(N, n)``."""
    rows, columns = a.shape
    one = a.dtype.type(1)
    for j in range(columns):
        for i in range(rows):
            d = a[i, j]
            if labels[i] == j:
                d = d - one
            delta[i, j] = d * scale


@kernel
def delta_from_rows(a, z, targets, scale, kind, alpha, delta):
    """δ^L = ((A - Y) · scale) ⊙ σ'(Z), all ``(N, n)``; ``kind`` IDENTITY skips σ'.

    Softmax/sigmoid with cross-entropy pass IDENTITY (their δ is (P - Y)/N); mean squared
    error passes its output activation.
    """
    rows, columns = a.shape
    one = a.dtype.type(1)
    for i in range(rows):
        for j in range(columns):
            d = (a[i, j] - targets[i, j]) * scale
            if kind != IDENTITY:
                d = d * _prime(z[i, j], a[i, j], kind, alpha, one)
            delta[i, j] = d


# ---------------------------------------------------------------------- optimizer updates
# Each walks the parameter vector segment by segment (one segment per W^l or b^l): ``decays``
# holds the coupled weight decay λ of each segment (0 for biases), ``shrinks`` AdamW's
# decoupled factor 1 - ηλ (1 for biases). Each segment is sliced out before its loop: indices
# counted from 0 let LLVM vectorise the loop, which indices read from ``starts`` do not.


@kernel
def _sgd(p, g, v, decay, lr, momentum, nesterov, with_velocity):
    """One parameter's SGD update from its gradient ``g`` (and velocity ``v``): (p, v) after."""
    if decay != 0:
        g = g + p * decay
    if not with_velocity:
        return p - g * lr, v
    v = v * momentum + g
    g = g + v * momentum if nesterov else v
    return p - g * lr, v


@kernel
def sgd(param, grad, velocity, starts, stops, decays, lr, momentum, nesterov):
    """``v ← μv + g``; ``W ← W - η·(g + μv if nesterov else v)``; without momentum (``velocity``
    empty) ``W ← W - ηg``."""
    with_velocity = velocity.size > 0
    for s in range(starts.size):
        decay, start, stop = decays[s], starts[s], stops[s]
        p, gs = param[start:stop], grad[start:stop]
        if not with_velocity:  # (lr stands in for the velocity, which _sgd then ignores)
            for k in range(p.size):
                p[k] = _sgd(p[k], gs[k], lr, decay, lr, momentum, nesterov, with_velocity)[0]
            continue
        vs = velocity[start:stop]
        for k in range(p.size):
            p[k], vs[k] = _sgd(p[k], gs[k], vs[k], decay, lr, momentum, nesterov, with_velocity)


@kernel
def outer_sgd(delta, inputs, grad, param, velocity, decay, lr, momentum, nesterov):
    """``outer``'s ∂L/∂W = δᵀ a into ``grad``, and in the same pass ``sgd``'s update of W
    (``param``, ``(n_out, n_in)`` as ``grad``; ``velocity`` of that shape, or empty without
    momentum)."""
    zero = grad.dtype.type(0)
    rows, columns = grad.shape
    with_velocity = velocity.size > 0
    for i in range(rows):
        d = delta[0, i]
        if not with_velocity:  # (lr stands in for the velocity, as in sgd)
            for j in range(columns):
                g = d * inputs[0, j] + zero
                grad[i, j] = g
                param[i, j] = _sgd(
                    param[i, j], g, lr, decay, lr, momentum, nesterov, with_velocity
                )[0]
            continue
        for j in range(columns):
            g = d * inputs[0, j] + zero
            grad[i, j] = g
            param[i, j], velocity[i, j] = _sgd(
                param[i, j], g, velocity[i, j], decay, lr, momentum, nesterov, with_velocity
            )


@kernel
def adam(param, grad, m, v, starts, stops, decays, shrinks, b1, one_b1, b2, one_b2, c2, eps, step):
    """Adam as ``optimizers.Adam``: ``m ← β1 m + (1-β1) g``, ``v ← β2 v + (1-β2) g²``,
    ``W ← W - (m / (√v / c2 + ε)) · step`` with c2 = √(1-β2^t) and step = η/(1-β1^t);
    AdamW first shrinks W by its factor."""
    for s in range(starts.size):
        decay, shrink, start, stop = decays[s], shrinks[s], starts[s], stops[s]
        p, gs, ms, vs = param[start:stop], grad[start:stop], m[start:stop], v[start:stop]
        for k in range(p.size):
            pk = p[k]
            if shrink != 1:
                pk = pk * shrink
            g = gs[k]
            if decay != 0:
                g = g + pk * decay
            mk = ms[k] * b1 + g * one_b1
            vk = vs[k] * b2 + g * g * one_b2
            ms[k], vs[k] = mk, vk
            p[k] = pk - mk / (np.sqrt(vk) / c2 + eps) * step


@kernel
def rmsprop(param, grad, v, starts, stops, decays, lr, rho, one_rho, eps):
    """``v ← ρv + (1-ρ) g²``, ``W ← W - η g / (√v + ε)``."""
    for s in range(starts.size):
        decay, start, stop = decays[s], starts[s], stops[s]
        p, gs, vs = param[start:stop], grad[start:stop], v[start:stop]
        for k in range(p.size):
            g = gs[k]
            if decay != 0:
                g = g + p[k] * decay
            vk = vs[k] * rho + g * one_rho * g
            vs[k] = vk
            p[k] = p[k] - g / (np.sqrt(vk) + eps) * lr


@kernel
def adagrad(param, grad, sum_squares, starts, stops, decays, lr, eps):
    """``G ← G + g²``, ``W ← W - η g / (√G + ε)``."""
    for s in range(starts.size):
        decay, start, stop = decays[s], starts[s], stops[s]
        p, gs, totals = param[start:stop], grad[start:stop], sum_squares[start:stop]
        for k in range(p.size):
            g = gs[k]
            if decay != 0:
                g = g + p[k] * decay
            total = totals[k] + g * g
            totals[k] = total
            p[k] = p[k] - g / (np.sqrt(total) + eps) * lr
