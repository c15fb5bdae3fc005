"""One training step's forward and backward pass as a single compiled call.

``CompiledEngine.backprop`` otherwise runs the passes from Python: per layer a NumPy product,
a kernel, another product, each a call with its own dispatch, some 20-40 calls per step. For
small networks or one sample per step those calls are most of the time. ``backprop`` here
makes the same calls from compiled code: the products by ``blas.matmul`` (the same BLAS calls
as ``np.matmul``), the element-wise work by the kernels of ``kernels.py``; so it gives the same
bits as the engine's Python passes. (It computes every δ before the gradients, where the
passes alternate: no value depends on that order.) For plain SGD it makes the update too,
with ``kernels.sgd``'s arithmetic, so that a step of the seed's recipe is one call.

It reads the parameters and writes the workspace through flat buffers, since compiled code
takes no list of arrays of mixed layouts: ``params`` and ``grads`` are the parameter and
gradient vectors, and ``zs``, ``activations`` and ``deltas`` the buffers behind a training
``Workspace``'s arrays. ``table`` holds one row per layer (see ``LAYER_COLUMNS``).
"""

from __future__ import annotations

import numpy as np

from . import blas, kernels
from .kernels import kernel

# The columns of ``table``: a layer's sizes, where W^l and b^l start in the parameter vector,
# where its (N, n_out) arrays start in the workspace buffers, and its activation's kernel code.
N_IN, N_OUT, WEIGHTS, BIAS, OFFSET, KIND = range(6)
LAYER_COLUMNS = 6

HALF_LARGEST_32 = float(np.finfo(np.float32).max) / 2
HALF_LARGEST_64 = float(np.finfo(np.float64).max) / 2

# How δ^L comes from the output (``compiled.CompiledEngine._output_delta``'s kernels).
LABELS, ROWS, ROWS_WITH_PRIME = range(3)


@kernel
def _weights(params, table, index):
    """W^l, ``(n_out, n_in)``, a view of the vector ``params``."""
    n_in, n_out, start = table[index, N_IN], table[index, N_OUT], table[index, WEIGHTS]
    return params[start : start + n_out * n_in].reshape((n_out, n_in))


@kernel
def _bias(params, table, index):
    """b^l, ``(n_out,)``, a view of the vector ``params``."""
    start = table[index, BIAS]
    return params[start : start + table[index, N_OUT]]


@kernel
def _flat(buffer, table, index, rows):
    """Layer ``index``'s ``rows * n_out`` elements of ``buffer`` (a batch of one sample: its
    ``(n_out,)`` array)."""
    start = table[index, OFFSET]
    return buffer[start : start + rows * table[index, N_OUT]]


@kernel
def _rows(buffer, table, index, rows):
    """Layer ``index``'s ``(rows, n_out)`` array of ``buffer``, stored row-major."""
    return _flat(buffer, table, index, rows).reshape((rows, table[index, N_OUT]))


@kernel
def _columns(buffer, table, index, rows):
    """Layer ``index``'s ``(rows, n_out)`` array of ``buffer``, stored column-major."""
    return _flat(buffer, table, index, rows).reshape((table[index, N_OUT], rows)).T


@kernel
def _input_row(X, activations, table, index):
    """a^(l-1) of one sample, ``(n_in,)``, for layer ``index``: a row of X for the first."""
    return X[0] if index == 0 else _flat(activations, table, index - 1, 1)


@kernel
def backprop(X, labels, targets, params, grads, zs, activations, deltas, table, alphas, ones,
             softmax, how, scale, row_output, with_loss,
             update, velocity, starts, stops, decays, lr, momentum, nesterov):  # fmt: skip
    """The forward and backward pass of one batch of N ≥ 1 samples: ``X`` ``(N, n_in)``
    row-major, ``labels`` ``(N,)`` (how == LABELS) or ``targets`` ``(N, n_out)`` row-major
    (else), ``ones`` ``(N,)``; the output layer's arrays row-major when ``row_output``, the
    hidden layers' column-major, as in a training ``Workspace``.

    Writes Z^l, A^l, δ^l and the gradient vector. With ``update``, then makes the SGD update of
    ``kernels.sgd`` (its arguments follow ``update``), but only where it can tell that the fit
    loop's finite check would pass: the loss is finite (so ``with_loss``) and so is every
    gradient (see ``_outer_finite`` and ``_vector_finite``); else it leaves the step to the fit
    loop, which then raises.

    Returns, when ``with_loss``, the mean loss as the fit loop would compute it, the
    cross-entropy of the labels (``kernels.cross_entropy_from_labels``) or the mean squared
    error (``kernels.mean_squared_error``), else 0; and whether it made the update.
    """
    rows, last = X.shape[0], table.shape[0] - 1
    # bias_activation's bias_per_column False as a runtime bool: numba would compile the
    # kernel once more for a literal (the engine's Python passes call it with a runtime bool)
    not_per_column = how < 0
    # z^l = W^l a^(l-1) + b^l and a^l = σ(z^l), for the hidden layers (column-major)
    inputs = X
    for index in range(last):
        z, a = _columns(zs, table, index, rows), _columns(activations, table, index, rows)
        blas.matmul(inputs, _weights(params, table, index).T, z)
        bias, kind = _bias(params, table, index), table[index, KIND]
        kernels.bias_activation(z.T, bias, a.T, not_per_column, kind, alphas[index])
        inputs = a
    # the output layer, row-major against targets given as rows
    if row_output:
        z, a = _rows(zs, table, last, rows), _rows(activations, table, last, rows)
        delta = _rows(deltas, table, last, rows)
    else:
        z, a = _columns(zs, table, last, rows), _columns(activations, table, last, rows)
        delta = _columns(deltas, table, last, rows)
    blas.matmul(inputs, _weights(params, table, last).T, z)
    bias, kind, alpha = _bias(params, table, last), table[last, KIND], alphas[last]
    if softmax:
        kernels.bias_softmax(z, bias, a)
    elif row_output:
        kernels.bias_activation(z, bias, a, row_output, kind, alpha)
    else:
        kernels.bias_activation(z.T, bias, a.T, not_per_column, kind, alpha)
    # δ^L (see CompiledEngine._output_delta)
    if how == LABELS:
        kernels.delta_from_labels(a, labels, scale, delta)
    elif how == ROWS:
        kernels.delta_from_rows(a, z, targets, scale, kernels.IDENTITY, alpha, delta)
    else:
        kernels.delta_from_rows(a, z, targets, scale, kind, alpha, delta)
    loss = zs.dtype.type(0)
    if with_loss and how == LABELS:
        loss = kernels.cross_entropy_from_labels(z, labels)
    elif with_loss:  # mean squared error, of rows given row-major
        loss = kernels.mean_squared_error(_flat(activations, table, last, rows), targets.ravel())
    update = update and with_loss and np.isfinite(loss)
    no_mask = np.empty((0, 0), dtype=zs.dtype)
    # δ^(l-1) = ((W^l)^T δ^l) ⊙ σ'(z^(l-1)) for every layer, then ∂L/∂W^l = δ^l (a^(l-1))^T
    # (an outer product for one sample) and ∂L/∂b^l = 1ᵀ δ^l: each δ needs W^l as it was before
    # the update, and one sample's checks look at every δ before any update.
    for index in range(last, 0, -1):
        below = index - 1
        grad = _columns(deltas, table, below, rows)
        blas.matmul(delta, _weights(params, table, index), grad)
        z_below, a_below = (
            _columns(zs, table, below, rows),
            _columns(activations, table, below, rows),
        )
        kind_below = table[below, KIND]
        kernels.activation_backward(
            grad.T, z_below.T, a_below.T, no_mask, kind_below, alphas[below]
        )
        delta = grad
    if rows == 1:  # W^l is updated as its outer product is written: check every layer first
        for index in range(last + 1):
            input_row = _input_row(X, activations, table, index)
            update = update and _outer_finite(_flat(deltas, table, index, 1), input_row)
    for index in range(last + 1):
        weights_grad, bias_grad = _weights(grads, table, index), _bias(grads, table, index)
        delta = _rows(deltas, table, last, rows) if index == last and row_output else (
            _columns(deltas, table, index, rows))  # fmt: skip
        if rows == 1:
            input_row = _input_row(X, activations, table, index)
            delta_row = _flat(deltas, table, index, 1)
            delta_row, input_row = delta_row.reshape((1, delta_row.size)), (
                input_row.reshape((1, input_row.size)))  # fmt: skip
            if update:
                segment = 2 * index  # W^l's in starts, stops and decays
                moved = velocity[starts[segment] : stops[segment]] if velocity.size else velocity
                kernels.outer_sgd(delta_row, input_row, weights_grad,
                                  _weights(params, table, index),
                                  moved.reshape(weights_grad.shape if velocity.size else (0, 0)),
                                  decays[segment], lr, momentum, nesterov)  # fmt: skip
            else:
                kernels.outer(delta_row, input_row, weights_grad)
        else:
            inputs = X if index == 0 else _columns(activations, table, index - 1, rows)
            blas.matmul(delta.T, inputs, weights_grad)
        blas.matmul(ones.reshape((1, rows)), delta, bias_grad.reshape((1, bias_grad.size)))
        if update and rows == 1:  # b^l's update, its segment of the vectors
            segment = 2 * index + 1
            kernels.sgd(params, grads, velocity, starts[segment : segment + 1],
                        stops[segment : segment + 1], decays[segment : segment + 1], lr, momentum,
                        nesterov)  # fmt: skip
    if update and rows == 1:
        return loss, True
    if update and _vector_finite(grads):
        kernels.sgd(params, grads, velocity, starts, stops, decays, lr, momentum, nesterov)
        return loss, True
    return loss, False


@kernel
def _outer_finite(delta, inputs):
    """Whether δ aᵀ, and δ itself (the bias gradient), are finite: δ and a finite, and the
    largest product far from overflowing (bounded in double precision)."""
    largest = _half_largest(delta)
    delta_max = inputs_max = 0.0
    for d in delta:
        if not abs(d) <= largest:  # also NaN
            return False
        delta_max = max(delta_max, abs(float(d)))
    for x in inputs:
        if not abs(x) <= largest:
            return False
        inputs_max = max(inputs_max, abs(float(x)))
    return delta_max * inputs_max <= largest


@kernel
def _vector_finite(vector):
    """Whether every entry is finite, by ``validation.all_finite``'s Σx² (one BLAS call)."""
    return np.isfinite(_sum_squares(vector))


@kernel
def _sum_squares(vector):
    """Σx² of a contiguous vector by BLAS ``sdot``/``ddot``: NumPy's ``vector.dot(vector)``,
    as a float64 (numba gives both branches one type)."""
    address, n = vector.ctypes.data, vector.size
    if vector.itemsize == 4:
        return blas.sdot(n, address, 1, address, 1)
    return blas.ddot(n, address, 1, address, 1)


@kernel
def steps(X_all, labels_all, targets_all, order, first, count, X, labels, targets,
          params, grads, zs, activations, deltas, table, alphas, ones, softmax, how, scale,
          row_output, velocity, starts, stops, decays, lrs, momentum, nesterov, adam,
          with_accuracy, norm_every, totals):  # fmt: skip
    """Steps ``first`` to ``first + count - 1`` of an epoch of the fit loop (``training.py``),
    each one ``backprop`` call with its SGD update at learning rate ``lrs[step - first]``, or
    followed by ``kernels.adam``'s update, and the loop's bookkeeping of each: so a fit of
    small steps spends no Python time per step.

    ``adam`` holds ``kernels.adam``'s arguments after the gradient (``m``, ``v``, ``shrinks``,
    ``b1``, ``one_b1``, ``b2``, ``one_b2``, ``eps``), then its ``c2`` and ``step`` of each step
    as arrays like ``lrs``; with ``m`` empty, the update is SGD's.

    Step s trains on the rows ``order[s·N : (s+1)·N]`` of ``X_all`` and ``labels_all`` (how ==
    LABELS) or ``targets_all``, gathered into ``X``, ``labels`` or ``targets`` (N rows, the
    workspace's). ``totals`` holds the epoch's running sums, continued here as the loop would:
    the loss times N, the number correct (when ``with_accuracy``), and per layer ‖∂L/∂W^l‖ at
    every step that is a multiple of ``norm_every``. The other arguments are ``backprop``'s.

    Returns the number of steps made, and how many of them added gradient norms. It stops
    before a step whose update it could not make (a loss or gradient that may not be finite),
    leaving that step, with its update not made, to the fit loop's own code.
    """
    rows, last = X.shape[0], table.shape[0] - 1
    normed = 0
    # with_loss and update as runtime bools: a literal True would compile backprop once more
    always = count > 0
    m, v, shrinks, b1, one_b1, b2, one_b2, eps, c2s, step_sizes = adam
    with_adam = m.size > 0
    for done in range(count):
        step = first + done
        for row in range(rows):
            sample = order[step * rows + row]
            X[row] = X_all[sample]
            if how == LABELS:
                labels[row] = labels_all[sample]
            else:
                targets[row] = targets_all[sample]
        loss, updated = backprop(X, labels, targets, params, grads, zs, activations, deltas,
                                 table, alphas, ones, softmax, how, scale, row_output, always,
                                 not with_adam, velocity, starts, stops, decays, lrs[done],
                                 momentum, nesterov)  # fmt: skip
        if with_adam and np.isfinite(loss) and _vector_finite(grads):  # the loop's check
            kernels.adam(params, grads, m, v, starts, stops, decays, shrinks, b1, one_b1, b2,
                         one_b2, c2s[done], eps, step_sizes[done])  # fmt: skip
            updated = True
        if not updated:
            return done, normed
        if step % norm_every == 0:
            for index in range(last + 1):
                start, size = table[index, WEIGHTS], table[index, N_IN] * table[index, N_OUT]
                # np.linalg.norm's: the square root in the dtype (_sum_squares returns float64)
                norm = np.sqrt(grads.dtype.type(_sum_squares(grads[start : start + size])))
                totals[2 + index] += float(norm)
            normed += 1
        totals[0] += float(loss) * rows
        if with_accuracy:  # training.accuracy: the first largest output is the class
            output = (
                _rows(activations, table, last, rows) if row_output
                else _columns(activations, table, last, rows)
            )  # fmt: skip
            correct = 0
            for row in range(rows):
                label = labels[row] if how == LABELS else targets[row].argmax()
                correct += output[row].argmax() == label
            totals[1] += correct / rows * rows
    return count, normed


@kernel
def _half_largest(array):
    """Half the largest finite number of the array's dtype (float32 or float64)."""
    return HALF_LARGEST_32 if array.itemsize == 4 else HALF_LARGEST_64
