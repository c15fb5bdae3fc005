"""Vanishing gradients: the same 8-layer network on MNIST with sigmoid and with ReLU.

Backpropagation multiplies δ by σ'(z^l) at every layer on its way down: σ' of the sigmoid is at
most 1/4, so the gradients reaching the first layers of a deep sigmoid network shrink by orders of
magnitude and those layers barely learn. ReLU's derivative is 1 where a unit is active, and with
He initialisation the gradient norm stays of the same order at every depth. The script trains
both networks and writes the gradient-flow plot (‖∂L/∂W^l‖ per layer per epoch, log scale).

python examples/vanishing_gradients.py [--epochs 5] [--limit 6000] [--out vanishing_gradients.png]
"""

import argparse

import numpy as np

import deltaprop as dp
from deltaprop.datasets import load_mnist
from deltaprop.plots import plot_gradient_flow, save_figure

DEPTH = 8  # weight layers: 7 hidden layers of WIDTH units and the softmax output
WIDTH = 32


def train(hidden: str, x, y, epochs: int, seed: int) -> dp.History:
    sizes = [x.shape[1]] + [WIDTH] * (DEPTH - 1) + [10]
    net = dp.Network.from_sizes(sizes, hidden=hidden, output="softmax", seed=seed)
    return net.fit(x, y, epochs=epochs, batch_size=32, optimizer=dp.SGD(lr=0.1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=6000, help="training samples")
    parser.add_argument("--out", default="vanishing_gradients.png", help="the PNG to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    (x_train, y_train), _ = load_mnist()
    x, y = x_train[: args.limit], y_train[: args.limit]
    histories = {name: train(name, x, y, args.epochs, args.seed) for name in ("sigmoid", "relu")}

    print(f"mean ‖∂L/∂W^l‖ over {args.epochs} epochs, {DEPTH} layers of {WIDTH} units:")
    print(f"{'layer':>5}  {'sigmoid':>10}  {'relu':>10}")
    norms = {name: np.mean(h.grad_norms, axis=0) for name, h in histories.items()}
    for layer in range(DEPTH):
        print(f"{layer + 1:>5}  {norms['sigmoid'][layer]:>10.2e}  {norms['relu'][layer]:>10.2e}")
    for name, values in norms.items():
        print(
            f"{name}: layer 1 gets {values[0] / values[-1]:.1e} of the output layer's gradient; "
            f"final training accuracy {histories[name].accuracy[-1]:.1%}"
        )
    save_figure(plot_gradient_flow(histories), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
