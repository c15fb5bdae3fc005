"""PyTorch interop: a deltaprop network as an ``nn.Sequential`` and back.

``to_torch(net)`` gives ``nn.Sequential(Linear, activation, Linear, ...)`` with the same weights
and dtype: ``Dense.weights (n_out, n_in)`` is exactly ``nn.Linear.weight``. An identity
activation adds no module; softmax becomes ``nn.Softmax(dim=1)``. The module indices are those
of the model file's tensor names (``io.torch_names``), so a deltaprop ``.safetensors`` file
loads into that ``nn.Sequential`` directly::

    model.load_state_dict(safetensors.torch.load_file("model.safetensors"))

``from_torch(module)`` reads a ``nn.Sequential`` of ``Linear`` layers, each optionally followed
by one supported activation and a ``Dropout``, into a ``Network``. Activation correspondence:

============  ==========================================================
deltaprop     PyTorch
============  ==========================================================
identity      (no module), ``nn.Identity``
sigmoid       ``nn.Sigmoid``
tanh          ``nn.Tanh``
relu          ``nn.ReLU``
leaky_relu    ``nn.LeakyReLU(negative_slope=alpha)``
elu           ``nn.ELU(alpha)``
gelu          ``nn.GELU()`` (exact; ``approximate="tanh"`` is refused)
softplus      ``nn.Softplus()`` (beta 1; PyTorch turns linear above ``threshold`` = 20,
              where the two differ by less than 2.1e-9)
softmax       ``nn.Softmax(dim=1)`` (or ``dim=-1``)
============  ==========================================================

Dropout is not written by ``to_torch``: the model file's indices have no place for it, and
evaluation is the same without it. This module is the only one that imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .activations import ELU, GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .errors import DeltapropTypeError, MissingDependencyError, ValidationError
from .layers import Dense
from .losses import Loss
from .network import Network

if TYPE_CHECKING:
    import torch

SOFTPLUS_MIN_THRESHOLD = 20.0  # log1p(e^-20) ≈ 2.1e-9: PyTorch's linear tail is exact enough


def _import_torch():
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            "PyTorch interop needs torch: pip install 'deltaprop[torch]' (torch==2.13.0)"
        ) from None
    return torch


def _torch_dtype(torch, dtype: np.dtype):
    return {"float32": torch.float32, "float64": torch.float64}[np.dtype(dtype).name]


def _activation_module(nn, activation):
    """The ``nn.Module`` for a deltaprop activation, or ``None`` for identity."""
    name = activation.name
    if name == "identity":
        return None
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=activation.alpha)
    if name == "elu":
        return nn.ELU(alpha=activation.alpha)
    if name == "softmax":
        return nn.Softmax(dim=1)
    plain = {
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "gelu": nn.GELU,
        "softplus": nn.Softplus,
    }
    return plain[name]()


def to_torch(network: Network) -> torch.nn.Sequential:
    """Return an ``nn.Sequential`` computing the same function as ``network``.

    Parameters are copied (changing one model leaves the other alone) and keep the network's
    dtype. The torch random generator is not touched.
    """
    torch = _import_torch()
    nn = torch.nn
    dtype = _torch_dtype(torch, network.dtype)
    modules: list = []
    for layer in network.layers:
        # skip_init: no random initialisation, which would advance torch's global generator.
        linear = nn.utils.skip_init(nn.Linear, layer.n_in, layer.n_out, dtype=dtype)
        linear.weight = nn.Parameter(torch.tensor(layer.weights, dtype=dtype))
        linear.bias = nn.Parameter(torch.tensor(layer.bias, dtype=dtype))
        modules.append(linear)
        activation = _activation_module(nn, layer.activation)
        if activation is not None:
            modules.append(activation)
    return nn.Sequential(*modules)


def _activation_from_module(nn, module, index: int):
    """The deltaprop activation for a supported ``nn.Module``; raise for anything else."""
    where = f"module {index} ({module!r})"
    if isinstance(module, nn.Identity):
        return Identity()
    simple = {nn.Sigmoid: Sigmoid, nn.Tanh: Tanh, nn.ReLU: ReLU}
    for torch_type, activation in simple.items():
        if type(module) is torch_type:
            return activation()
    if type(module) is nn.LeakyReLU:
        return LeakyReLU(module.negative_slope)
    if type(module) is nn.ELU:
        return ELU(module.alpha)
    if type(module) is nn.GELU:
        if module.approximate != "none":
            raise ValidationError(
                f"{where}: deltaprop's gelu is the exact x·Φ(x); use nn.GELU() (approximate='none')"
            )
        return GELU()
    if type(module) is nn.Softplus:
        if module.beta != 1 or module.threshold < SOFTPLUS_MIN_THRESHOLD:
            raise ValidationError(
                f"{where}: deltaprop's softplus is log(1 + e^z); use nn.Softplus() "
                f"(beta=1, threshold >= {SOFTPLUS_MIN_THRESHOLD:g})"
            )
        return Softplus()
    if type(module) is nn.Softmax:
        if module.dim not in (1, -1):
            raise ValidationError(f"{where}: softmax must run over the features, dim=1")
        return Softmax()
    return None


def from_torch(
    module: torch.nn.Sequential,
    loss: str | Loss | None = None,
    seed: int = 0,
) -> Network:
    """Return a ``Network`` with the layers and parameters of ``module``.

    Parameters
    ----------
    module : torch.nn.Sequential
        ``Linear`` layers (float32 or float64, with or without bias), each followed by at most
        one supported activation (see the module docstring) and optionally ``nn.Dropout``.
    loss : str or Loss, optional
        The network's loss; by default cross-entropy after a softmax, binary cross-entropy
        after a sigmoid, else mean squared error.
    seed : int, default 0
        Seeds the network's shuffling and dropout in later training.

    Raises
    ------
    ValidationError
        For a module deltaprop has no counterpart for; the message names it and its index.
    """
    torch = _import_torch()
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise DeltapropTypeError(
            f"module must be a torch.nn.Sequential of Linear layers and activations, got "
            f"{type(module).__name__}"
        )
    specs = _layer_specs(nn, module)
    dtypes = {spec["linear"].weight.dtype for spec in specs}
    if len(dtypes) != 1 or next(iter(dtypes)) not in (torch.float32, torch.float64):
        raise DeltapropTypeError(
            f"module's Linear layers must all be float32 or all float64, got "
            f"{sorted(str(d) for d in dtypes)}: convert with module.float() or module.double()"
        )
    dtype = "float32" if next(iter(dtypes)) == torch.float32 else "float64"
    layers = [
        Dense(
            spec["linear"].in_features,
            spec["linear"].out_features,
            activation=spec["activation"],
            dropout=spec["dropout"],
        )
        for spec in specs
    ]
    for layer, spec in zip(layers, specs):
        linear = spec["linear"]
        layer.weights = linear.weight.detach().cpu().numpy()
        if linear.bias is None:
            layer.bias = np.zeros(linear.out_features, dtype=dtype)
        else:
            layer.bias = linear.bias.detach().cpu().numpy()
    if loss is None:
        loss = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}.get(
            layers[-1].activation.name, "mse"
        )
    return Network(layers, loss=loss, dtype=dtype, seed=seed)


def _layer_specs(nn, module) -> list[dict]:
    """Group ``module``'s children into one ``{linear, activation, dropout}`` per layer."""
    specs: list[dict] = []
    for index, child in enumerate(module):
        if isinstance(child, nn.Linear):
            specs.append({"linear": child, "activation": Identity(), "dropout": 0.0})
            continue
        if not specs:
            raise ValidationError(
                f"module {index} ({child!r}) comes before any nn.Linear: a network starts "
                "with a Linear layer"
            )
        spec = specs[-1]
        if type(child) is nn.Dropout:
            if spec["dropout"]:
                raise ValidationError(f"module {index} ({child!r}) is a second Dropout in a row")
            spec["dropout"] = float(child.p)
            continue
        activation = _activation_from_module(nn, child, index)
        if activation is None:
            raise ValidationError(
                f"module {index} ({child!r}) has no deltaprop counterpart: from_torch reads "
                "Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU, Softplus, Softmax, "
                "Identity and Dropout"
            )
        if spec["dropout"] or spec["activation"].name != "identity":
            raise ValidationError(
                f"module {index} ({child!r}) follows another activation or a Dropout: "
                "give each Linear at most one activation, then Dropout"
            )
        spec["activation"] = activation
    if not specs:
        raise ValidationError("module holds no nn.Linear layer: nothing to convert")
    return specs
