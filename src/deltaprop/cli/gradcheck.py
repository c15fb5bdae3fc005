"""``deltaprop gradcheck``: compare backpropagation's gradients with finite differences."""

from __future__ import annotations

import argparse

import numpy as np

from ..activations import ACTIVATIONS
from ..losses import LOSSES
from . import UsageError
from .common import (
    add_parser,
    check_width,
    choice,
    int_list,
    load_data,
    load_model,
    non_negative_int,
    output_activation,
    positive_float,
    positive_int,
    print_json,
)

EXAMPLES = [
    "deltaprop gradcheck --layers 5,4,3 --activation tanh --loss mse",
    "deltaprop gradcheck --layers 10,8,8,1 --activation sigmoid --loss binary_cross_entropy",
    "deltaprop gradcheck mnist.safetensors --data mnist --samples 4 --max-checks 20",
]


def register(subparsers) -> None:
    parser = add_parser(
        subparsers,
        "gradcheck",
        "check backpropagation's gradients against finite differences",
        "Check the gradients of every layer against central finite differences (in float64),\n"
        "on a new network with random weights and data (--layers: ALL sizes, input to output)\n"
        "or on a saved MODEL (on the first --samples of --data, or random inputs without it).\n"
        "Prints each layer's largest relative error; exits with status 1 when one is too big.",
        EXAMPLES,
    )
    parser.add_argument("model", metavar="MODEL", nargs="?", help="a .safetensors model file")
    parser.add_argument(
        "--layers", type=int_list, metavar="N,N,...", help="sizes from input to output, e.g. 5,4,3"
    )
    parser.add_argument(
        "--activation",
        type=choice(ACTIVATIONS),
        default="tanh",
        help="hidden activation (default: tanh)",
    )
    parser.add_argument(
        "--output-activation",
        type=choice(ACTIVATIONS),
        help="output activation (default: by --loss, as in train)",
    )
    parser.add_argument(
        "--loss", type=choice(LOSSES), default="mse", help="loss function (default: mse)"
    )
    parser.add_argument("--data", metavar="NAME|PATH", help="with MODEL: check on these samples")
    parser.add_argument(
        "--samples", type=positive_int, default=8, help="samples in the checked batch (default: 8)"
    )
    parser.add_argument(
        "--max-checks",
        type=positive_int,
        metavar="N",
        help="check at most N entries of each weight matrix and bias "
        "(default: all for --layers, 50 for MODEL)",
    )
    parser.add_argument(
        "--eps", type=positive_float, default=1e-4, help="finite-difference step (default: 1e-4)"
    )
    parser.add_argument(
        "--tolerance",
        type=positive_float,
        default=1e-6,
        help="largest relative error that passes (default: 1e-6)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed (default: 0)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..gradcheck import gradcheck

    if (args.model is None) == (args.layers is None):
        raise UsageError("give either MODEL or --layers (all sizes, e.g. --layers 5,4,3)")
    if args.model is None and args.data:
        raise UsageError("--data applies to MODEL; --layers checks on random data")
    if args.model is None:
        network, X, y = random_problem(args)
        max_checks = args.max_checks
    else:
        network = load_model(args.model)
        X, y = model_samples(network, args)
        max_checks = args.max_checks or 50
    with np.errstate(all="ignore"):  # an overflow makes an error NaN, which fails the check
        report = gradcheck(
            network,
            X,
            y,
            eps=args.eps,
            tolerance=args.tolerance,
            max_checks_per_layer=max_checks,
            seed=args.seed,
        )
    if args.json:
        print_json(
            {
                "passed": report.passed,
                "max_error": report.max_error,
                "tolerance": report.tolerance,
                "layers": [
                    {
                        "layer": check.index + 1,
                        "weights_error": check.weights_error,
                        "bias_error": check.bias_error,
                        "checked": check.checked,
                    }
                    for check in report.layers
                ],
            }
        )
    else:
        print(f"gradient check of {'-'.join(map(str, network.sizes))} ({network.loss.name})")
        print(report)
    return 0 if report.passed else 1


def random_problem(args: argparse.Namespace):
    """A float64 network of ``--layers`` with non-zero biases, and data its loss accepts."""
    from ..network import Network

    if len(args.layers) < 2:
        raise UsageError("--layers needs at least an input and an output size, e.g. 5,3")
    network = Network.from_sizes(
        args.layers,
        hidden=args.activation,
        output=args.output_activation or output_activation(args.loss),
        loss=args.loss,
        dtype="float64",
        seed=args.seed,
    )
    rng = np.random.default_rng(args.seed)
    for layer in network.layers:  # ReLU kinks sit at z = 0: random biases move samples off them
        layer.bias = rng.normal(0.0, 0.5, size=layer.n_out)
    n_in, n_out = network.n_in, network.n_out
    X = rng.normal(size=(args.samples, n_in))
    if args.loss == "cross_entropy":
        y = rng.integers(0, n_out, size=args.samples)
    elif args.loss == "binary_cross_entropy":
        y = rng.integers(0, 2, size=(args.samples, n_out)).astype(np.float64)
    else:
        y = rng.normal(size=(args.samples, n_out))
    return network, X, y


def model_samples(network, args: argparse.Namespace):
    """The first ``--samples`` test samples of ``--data``, or random inputs and labels."""
    rng = np.random.default_rng(args.seed)
    if args.data:
        _, (X, y) = load_data(args.data)
        X, y = X[: args.samples], y[: args.samples]
        check_width(network, X, f"--data {args.data}")
        return X, y
    X = rng.uniform(0.0, 1.0, size=(args.samples, network.n_in))
    if network.is_classifier:
        return X, rng.integers(0, max(network.n_out, 2), args.samples)
    return X, rng.normal(size=(args.samples, network.n_out))
