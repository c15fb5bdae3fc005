"""Gradient-norm clipping follows PyTorch's clip_grad_norm_ (test_torch.py compares the two)."""

import numpy as np

from deltaprop.optimizers import SGD, clip_by_global_norm


def test_clip_factor_is_max_norm_over_norm_plus_1e_6():
    # grads (3, 4) and (0,): joint norm √(9 + 16) = 5; factor 1 / (5 + 1e-6).
    grads = [np.array([3.0, 4.0]), np.array([0.0])]
    assert clip_by_global_norm(grads, max_norm=1.0) == 5.0
    np.testing.assert_allclose(grads[0], [3 / (5 + 1e-6), 4 / (5 + 1e-6)], rtol=1e-15)


def test_gradients_within_the_norm_are_left_alone():
    grads = [np.array([0.6, 0.8])]  # norm 1, factor 2 / (1 + 1e-6) ≥ 1: no scaling
    clip_by_global_norm(grads, max_norm=2.0)
    np.testing.assert_array_equal(grads[0], [0.6, 0.8])


def test_sgd_with_clip_norm_steps_by_the_clipped_gradient():
    params, grads = [np.array([1.0, 1.0])], [np.array([30.0, 40.0])]
    SGD(lr=0.1, clip_norm=5.0).step(params, grads)
    factor = 5.0 / (50.0 + 1e-6)
    np.testing.assert_allclose(params[0], [1 - 0.1 * 30 * factor, 1 - 0.1 * 40 * factor])
