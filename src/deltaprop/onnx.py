"""ONNX export: a deltaprop network as an ONNX model that any ONNX runtime can execute.

The graph is built with the ``onnx`` package's own helpers and passes ``onnx.checker``; it
uses standard operators of the default ONNX domain only. Each layer l is one

    Gemm(A^(l-1), W^l, b^l, transB=1)  =  A^(l-1) @ W^l.T + b^l      (the network's Z^l)

followed by its activation: Relu, Sigmoid, Tanh, Softmax(axis=1), LeakyRelu(alpha),
Elu(alpha), Softplus, or nothing for identity. GELU is the exact ``x Φ(x)``: the ``Gelu``
operator from opset 20 on, and below that ``0.5 · x · (1 + Erf(x / √2))`` composed from Erf,
Mul and Add.

The model has one input ``"input"`` of shape ``(N, n_in)`` and one output ``"output"`` of shape
``(N, n_out)``; ``N`` is a dynamic dimension (any batch size). The default opset is
``DEFAULT_OPSET`` = 17 (onnxruntime 1.12 and later); any opset from ``MIN_OPSET`` = 13 to the
newest the installed ``onnx`` knows may be chosen. Initializers keep the names of the model
file (``0.weight``, ``0.bias``, ...). A float64 network gives a float64 model; onnxruntime's
CPU provider has no float64 LeakyRelu, Elu, Softplus or Erf, so pass ``dtype="float32"`` to
run such a network there.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import DeltapropTypeError, MissingDependencyError, ValidationError
from .io import architecture, atomic_write_bytes, torch_names
from .validation import check_dtype
from .version import __version__

if TYPE_CHECKING:
    from .network import Network

DEFAULT_OPSET = 17
MIN_OPSET = 13  # Softmax over one axis and Gemm's current form date from opset 13
GELU_OP_OPSET = 20
INPUT_NAME, OUTPUT_NAME = "input", "output"


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(
            "ONNX export needs the onnx package: pip install 'deltaprop[onnx]'"
        ) from None
    return onnx


def check_opset(opset: object) -> int:
    """Return ``opset`` if it is an ONNX opset this export can target, else raise."""
    newest = _import_onnx().defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise DeltapropTypeError(f"opset must be an integer such as 17, got {opset!r}")
    if not MIN_OPSET <= opset <= newest:
        raise ValidationError(
            f"opset must be between {MIN_OPSET} and {newest} (the newest this onnx package "
            f"knows), got {opset}"
        )
    return int(opset)


class _GraphBuilder:
    """Collects the nodes and initializers of the graph, one layer at a time."""

    def __init__(self, onnx, opset: int, dtype: np.dtype):
        self.onnx, self.helper = onnx, onnx.helper
        self.opset, self.dtype = opset, dtype
        self.nodes: list = []
        self.initializers: list = []

    def constant(self, name: str, value: np.ndarray | float) -> str:
        array = np.asarray(value, dtype=self.dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def dense(self, layer, index: int, names: tuple[str, str], source: str, target: str) -> str:
        """Add layer ``index`` (Gemm, then its activation) reading ``source``; return its output."""
        weight = self.constant(names[0], layer.weights)
        bias = self.constant(names[1], layer.bias)
        activation = layer.activation
        z = target if activation.name == "identity" else f"z{index}"
        self.node("Gemm", [source, weight, bias], z, transB=1)
        return self.activation(activation, z, target, index)

    def activation(self, activation, z: str, target: str, index: int) -> str:
        name = activation.name
        simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus"}
        if name == "identity":
            return z
        if name in simple:
            return self.node(simple[name], [z], target)
        if name == "softmax":
            return self.node("Softmax", [z], target, axis=1)
        if name == "leaky_relu":
            return self.node("LeakyRelu", [z], target, alpha=activation.alpha)
        if name == "elu":
            return self.node("Elu", [z], target, alpha=activation.alpha)
        if name == "gelu":
            return self.gelu(z, target, index)
        raise ValidationError(  # pragma: no cover - every built-in activation is handled above
            f"activation {name!r} has no ONNX export"
        )

    def gelu(self, z: str, target: str, index: int) -> str:
        if self.opset >= GELU_OP_OPSET:
            return self.node("Gelu", [z], target, approximate="none")
        # x Φ(x) = 0.5 · x · (1 + erf(x / √2))
        scaled = self.node(
            "Mul",
            [z, self.constant(f"gelu{index}.inv_sqrt2", 1 / math.sqrt(2))],
            f"gelu{index}.scaled",
        )
        erf = self.node("Erf", [scaled], f"gelu{index}.erf")
        one_plus = self.node(
            "Add", [erf, self.constant(f"gelu{index}.one", 1.0)], f"gelu{index}.one_plus"
        )
        half_x = self.node(
            "Mul", [z, self.constant(f"gelu{index}.half", 0.5)], f"gelu{index}.half_x"
        )
        return self.node("Mul", [half_x, one_plus], target)


def to_onnx(network: Network, opset: int = DEFAULT_OPSET, dtype: str | None = None):
    """Return ``network`` as an ``onnx.ModelProto`` that has passed ``onnx.checker``.

    Parameters
    ----------
    network : Network
        The network to export; its parameters are copied.
    opset : int, default 17
        The ONNX opset of the default domain, from 13 to the newest the ``onnx`` package knows.
    dtype : {"float32", "float64"}, optional
        Element type of the model; by default the network's.
    """
    onnx = _import_onnx()
    opset = check_opset(opset)
    dtype = network.dtype if dtype is None else check_dtype(dtype)
    if dtype != network.dtype:
        network = network.copy(dtype=dtype)
    builder = _GraphBuilder(onnx, opset, dtype)
    source = INPUT_NAME
    last = len(network.layers) - 1
    for index, (layer, names) in enumerate(zip(network.layers, torch_names(network))):
        target = OUTPUT_NAME if index == last else f"a{index}"
        source = builder.dense(layer, index, names, source, target)
    element = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    graph = onnx.helper.make_graph(
        builder.nodes,
        "deltaprop",
        [onnx.helper.make_tensor_value_info(INPUT_NAME, element, ["N", network.n_in])],
        [onnx.helper.make_tensor_value_info(OUTPUT_NAME, element, ["N", network.n_out])],
        initializer=builder.initializers,
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    model = onnx.helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="deltaprop",
        producer_version=__version__,
        doc_string=repr(network),
    )
    # The oldest IR version that carries this opset, so that older runtimes accept the file.
    model.ir_version = onnx.helper.find_min_ir_version_for(opsets)
    onnx.helper.set_model_props(
        model, {"deltaprop.architecture": json.dumps(architecture(network), sort_keys=True)}
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def export(
    network: Network, path: str | Path, opset: int = DEFAULT_OPSET, dtype: str | None = None
) -> None:
    """Write ``network`` to ``path`` as an ONNX model (see ``to_onnx``), atomically.

    A crash while writing leaves either the old file or the new one, never half of it.
    """
    model = to_onnx(network, opset=opset, dtype=dtype)
    atomic_write_bytes(path, model.SerializeToString())
