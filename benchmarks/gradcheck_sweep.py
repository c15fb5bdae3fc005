"""Measure how closely backpropagation matches finite differences, for every allowed pair.

For each (hidden activation, output activation, loss) the script builds random float64
networks of depth 1 to 4 and widths 1 to 6 with random non-zero biases, draws inputs and
targets away from the kinks of ReLU-like activations and of mae/huber, and reports the largest
``deltaprop.gradcheck`` error seen.

    python benchmarks/gradcheck_sweep.py [--networks 20]
"""

import argparse

import numpy as np

import deltaprop as dp

OUTPUTS = {"cross_entropy": ["softmax"], "binary_cross_entropy": ["sigmoid"]}
KINK_AT_ZERO = {"relu", "leaky_relu", "elu"}


def kink_distance(net, X, targets):
    cache = net._forward(X)
    distances = [np.abs(z).min() for layer, z in zip(net.layers, cache.zs)
                 if layer.activation.name in KINK_AT_ZERO]  # fmt: skip
    residual = np.abs(cache.output - targets)
    if net.loss.name == "mae":
        distances.append(residual.min())
    if net.loss.name == "huber":
        distances.append(np.abs(residual - net.loss.delta).min())
    return min(distances, default=np.inf)


def problem(rng, hidden, output, loss):
    depth = int(rng.integers(1, 5))
    sizes = [int(n) for n in rng.integers(1, 7, size=depth + 1)]
    if loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    net = dp.Network.from_sizes(sizes, hidden=hidden, output=output, loss=loss, dtype="float64")
    while True:
        for layer in net.layers:
            layer.bias = rng.normal(size=layer.n_out)
        X = rng.normal(size=(5, sizes[0]))
        if loss == "cross_entropy":
            return net, X, rng.integers(0, sizes[-1], size=5)
        y = rng.integers(0, 2, size=(5, sizes[-1])) if loss == "binary_cross_entropy" else (
            rng.normal(size=(5, sizes[-1])))  # fmt: skip
        if kink_distance(net, X, y) > 1e-3:
            return net, X, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=20, help="networks per pair")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    worst, count = {}, 0
    for loss in dp.LOSSES:
        for output in OUTPUTS.get(loss, list(dp.ACTIVATIONS)):
            for hidden in dp.ACTIVATIONS:
                for _ in range(args.networks):
                    net, X, y = problem(rng, hidden, output, loss)
                    error = dp.gradcheck(net, X, y).max_error
                    worst[(hidden, output, loss)] = max(worst.get((hidden, output, loss), 0), error)
                    count += 1
    ranked = sorted(worst.items(), key=lambda item: -item[1])
    print(f"{count} networks, {len(worst)} (hidden, output, loss) combinations")
    print(f"largest error {ranked[0][1]:.2e} for {ranked[0][0]}")
    print(f"median of the per-combination maxima {np.median(list(worst.values())):.2e}")
    for (hidden, output, loss), error in ranked[:5]:
        print(f"  {hidden:>10} -> {output:>10}, {loss:<20} {error:.2e}")


if __name__ == "__main__":
    main()
