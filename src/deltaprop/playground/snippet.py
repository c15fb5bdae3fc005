"""The Python that reproduces a playground run with deltaprop's API."""

from __future__ import annotations

from .config import Config


def python_snippet(config: Config, sizes: list[int], output: str, epochs: int) -> str:
    """A script that rebuilds the data, the network and the optimizer, and trains ``epochs``.

    The playground trains each epoch on one permutation drawn from the network's generator, as
    ``Network.fit`` does, so whole epochs here give the same weights as in the page.
    """
    if config.dataset == "csv":
        data = (
            "from deltaprop.playground.upload import parse_csv\n\n"
            "with open('your.csv') as file:  # the file you uploaded\n"
            f"    data = parse_csv(file.read(), train_ratio={config.train_ratio!r}, "
            f"seed={config.data_seed})\n"
            f"data.shown = {tuple(config.shown)!r}\n"
        )
    else:
        data = (
            "from deltaprop.playground.datasets import make_dataset\n\n"
            f"data = make_dataset({config.dataset!r}, n_points={config.n_points}, "
            f"noise={config.noise!r}, train_ratio={config.train_ratio!r}, "
            f"seed={config.data_seed})\n"
        )
    train = (
        f"net.fit(X_train, data.y_train, epochs={epochs}, batch_size={config.batch_size}, "
        "optimizer=optimizer)\n"
        if epochs
        else "# net.fit(X_train, data.y_train, epochs=..., batch_size=..., optimizer=optimizer)\n"
    )
    return (
        f'"""A deltaprop playground run: {epochs} epoch(s) of training."""\n\n'
        "import deltaprop as dp\n"
        "from deltaprop.playground.features import input_features\n"
        + data
        + f"features = {config.features!r}\n"
        "X_train = input_features(data.x_train, features, data.shown)\n"
        "X_test = input_features(data.x_test, features, data.shown)\n\n"
        f"net = dp.Network.from_sizes({sizes!r}, hidden={config.activation!r}, "
        f"output={output!r}, loss={config.loss!r}, seed={config.seed}, "
        f"dropout={config.dropout!r})\n"
        f"optimizer = dp.get_optimizer({config.optimizer!r}, lr={config.lr!r}, "
        f"weight_decay={config.l2!r})\n" + train + "print(net.evaluate(X_test, data.y_test))\n"
        "net.save('playground.safetensors')\n"
    )
