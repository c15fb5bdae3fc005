"""Every activation with every loss, depth 1 to 4, in float64: the backward pass is exact.

The fast backward pass (work arrays, in-place chain rule, ``1ᵀδ`` bias sums, column-major
activations) must still compute the seed's gradients. Biases are random and non-zero so that
no ReLU kink sits exactly at a sample's pre-activation.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.activations import ACTIVATIONS
from deltaprop.losses import LOSSES

OUTPUT_FOR_LOSS = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


@pytest.mark.parametrize(("loss", "depth"), list(itertools.product(LOSSES, range(1, 5))))
def test_gradients_of_every_activation_match_finite_differences(loss, depth):
    for hidden in ACTIVATIONS:
        rng = np.random.default_rng(depth)
        sizes = [5] + [6] * (depth - 1) + [3]
        output = OUTPUT_FOR_LOSS.get(loss, hidden)
        network = dp.Network.from_sizes(
            sizes, hidden=hidden, output=output, loss=loss, dtype="float64", seed=depth
        )
        for layer in network.layers:
            layer.bias = rng.uniform(0.1, 0.5, layer.n_out) * rng.choice([-1, 1], layer.n_out)
        X = rng.standard_normal((7, 5))
        if loss == "cross_entropy":
            # labels at odd depths, probability rows at even ones
            y = rng.integers(0, 3, 7) if depth % 2 else rng.dirichlet(np.ones(3), 7)
        elif loss == "binary_cross_entropy":
            y = rng.integers(0, 2, (7, 3)).astype(float)
        else:
            y = rng.standard_normal((7, 3))
        report = dp.gradcheck(network, X, y)
        assert report.max_error < 1e-6, f"{hidden} + {loss}, depth {depth}:\n{report}"
