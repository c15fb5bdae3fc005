"""The BLAS limit: the matrix products of one training epoch and nothing else.

A step of the 784-256-128-10 network computes eight matrix products: Z^l = A^(l-1) W^lᵀ for
l = 1, 2, 3; ∂L/∂W^l = δ^lᵀ A^(l-1) for l = 3, 2, 1; and δ^l W^l for l = 3, 2 (the input needs
no gradient). ``EpochProducts`` performs exactly those products, with the same shapes, dtype and
BLAS threads, for every step of an epoch (the last step has the remainder's rows).

Each product runs in the memory layout that BLAS computes fastest on this machine: every
operand and result may be row- or column-major (C or F), except the input batch, which stays
row-major because the data set's rows are. ``EpochProducts.choose_layouts`` times every layout
of every product and keeps the fastest, so the limit is the best rate BLAS reaches for each
shape, not deltaprop's own choice of layout.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

ORDERS = ("C", "F")


class Product:
    """One product ``out = left @ right`` of an epoch, its operands in one layout."""

    def __init__(self, kind, rows, n_in, n_out, dtype, orders, rng):
        self.kind, self.orders = kind, orders
        weights = rng.standard_normal((n_out, n_in)).astype(dtype)

        def array(shape, order):
            return np.asarray(rng.standard_normal(shape), dtype=dtype, order=order)

        if kind == "forward":  # Z = A Wᵀ
            self.left, self.right = array((rows, n_in), orders[0]), weights.T
            self.out = np.empty((rows, n_out), dtype, order=orders[1])
        elif kind == "weights_grad":  # ∂L/∂W = δᵀ A
            self.left, self.right = (
                array((rows, n_out), orders[0]).T,
                array((rows, n_in), orders[1]),
            )
            self.out = np.empty((n_out, n_in), dtype)
        else:  # "input_grad": δ W
            self.left, self.right = array((rows, n_out), orders[0]), weights
            self.out = np.empty((rows, n_in), dtype, order=orders[1])

    def __call__(self) -> None:
        np.matmul(self.left, self.right, out=self.out)


def step_products(rows: int, sizes: list[int]) -> list[tuple[str, int, int, bool]]:
    """``(kind, n_in, n_out, touches_input)`` for the eight products of one step."""
    layers = list(itertools.pairwise(sizes))
    products = [("forward", n_in, n_out, index == 0) for index, (n_in, n_out) in enumerate(layers)]
    for index in range(len(layers) - 1, -1, -1):
        n_in, n_out = layers[index]
        products.append(("weights_grad", n_in, n_out, index == 0))
        if index:
            products.append(("input_grad", n_in, n_out, False))
    return products


def _layouts(kind: str, touches_input: bool):
    """The (first, second) operand orders worth trying; the input batch is always C."""
    if touches_input and kind == "forward":
        return [("C", out) for out in ORDERS]
    if touches_input and kind == "weights_grad":
        return [(delta, "C") for delta in ORDERS]
    return list(itertools.product(ORDERS, ORDERS))


def _best_time(function, calls: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


class EpochProducts:
    """Every matrix product of one epoch over ``n`` samples at ``batch_size``."""

    def __init__(self, n: int, batch_size: int, sizes: list[int], dtype, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.sizes, self.dtype = sizes, np.dtype(dtype)
        self.full_steps, remainder = divmod(n, batch_size)
        self.batches = [(batch_size, self.full_steps)] + ([(remainder, 1)] if remainder else [])
        self.layouts: dict[tuple, tuple[str, str]] = {}
        self.plan: list[tuple[list[Product], int]] = []

    def choose_layouts(self, rounds: int = 15, flop_per_timing: float = 2e8) -> None:
        """Time every layout of every product (interleaved) and keep the fastest of each.

        Each timing repeats a product until about ``flop_per_timing`` multiply-adds are done.
        """
        self.plan = []
        for rows, count in self.batches:
            chosen = []
            for kind, n_in, n_out, touches_input in step_products(rows, self.sizes):
                candidates = [
                    Product(kind, rows, n_in, n_out, self.dtype, orders, self.rng)
                    for orders in _layouts(kind, touches_input)
                ]
                calls = max(1, int(flop_per_timing // (2 * rows * n_in * n_out)))
                times = [float("inf")] * len(candidates)
                for _ in range(rounds):
                    for index, candidate in enumerate(candidates):
                        times[index] = min(times[index], _best_time(candidate, calls, 1))
                best = candidates[int(np.argmin(times))]
                self.layouts[(rows, kind, n_in, n_out)] = best.orders
                chosen.append(best)
            self.plan.append((chosen, count))

    def run(self) -> float:
        """Seconds to compute all the products of one epoch."""
        if not self.plan:
            self.choose_layouts()
        started = time.perf_counter()
        for products, count in self.plan:
            for _ in range(count):
                for product in products:
                    product()
        return time.perf_counter() - started

    def flops(self) -> float:
        return sum(
            2.0 * rows * n_in * n_out * count
            for rows, count in self.batches
            for _, n_in, n_out, _ in step_products(rows, self.sizes)
        )
