"""XOR, the seed's classic: a problem no single layer can solve, learned by backpropagation.

python examples/xor.py [--epochs N]
"""

import argparse

import numpy as np

import deltaprop as dp

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
y = np.array([0, 1, 1, 0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=500)
    args = parser.parse_args()

    net = dp.Network.from_sizes(
        [2, 4, 1], hidden="tanh", output="sigmoid", loss="binary_cross_entropy", seed=0
    )
    history = net.fit(X, y, epochs=args.epochs, batch_size=4, optimizer=dp.SGD(lr=0.5))
    print(net)
    for inputs, probability in zip(X, net.predict_proba(X)[:, 0]):
        print(f"{inputs.astype(int)} -> {probability:.3f}")
    print(f"loss {history.loss[-1]:.4f}, accuracy {net.evaluate(X, y)['accuracy']:.0%}")


if __name__ == "__main__":
    main()
