"""Regression of a 1-D function: a small tanh network learns f(x) = sin(2x) + 0.3x from noisy
samples, with an identity output and mean squared error.

python examples/regression.py [--epochs 1000] [--samples 512] [--plot regression.png]
"""

import argparse

import numpy as np

import deltaprop as dp


def f(x: np.ndarray) -> np.ndarray:
    return np.sin(2 * x) + 0.3 * x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=512, help="noisy training samples")
    parser.add_argument("--plot", help="also draw the fit into this PNG (needs matplotlib)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    x = rng.uniform(-3, 3, size=(args.samples, 1))
    y = f(x) + rng.normal(0, 0.05, size=x.shape)
    grid = np.linspace(-3, 3, 400)[:, None]

    net = dp.Network.from_sizes(
        [1, 32, 32, 1], hidden="tanh", output="identity", loss="mse", seed=args.seed
    )
    history = net.fit(x, y, epochs=args.epochs, batch_size=32, optimizer=dp.Adam(lr=0.01))
    rmse = float(np.sqrt(np.mean((net.predict(grid) - f(grid)) ** 2)))
    print(net)
    print(
        f"training loss {history.loss[0]:.4f} -> {history.loss[-1]:.4f} after {args.epochs} "
        f"epochs; RMSE against the noiseless f on [-3, 3]: {rmse:.4f} (noise σ = 0.05)"
    )
    if args.plot:
        draw(x, y, grid, net.predict(grid), args.plot)
        print(f"wrote {args.plot}")


def draw(x, y, grid, fitted, path) -> None:
    from deltaprop.plots import new_figure, save_figure

    figure = new_figure(6, 4)
    ax = figure.subplots()
    ax.scatter(x[:, 0], y[:, 0], s=6, alpha=0.4, color="C7", label="noisy samples")
    ax.plot(grid[:, 0], f(grid[:, 0]), color="C0", label="f(x) = sin(2x) + 0.3x")
    ax.plot(grid[:, 0], fitted[:, 0], "--", color="C3", label="network")
    ax.set(xlabel="x", ylabel="y", title="regression of a 1-D function")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(figure, path)


if __name__ == "__main__":
    main()
