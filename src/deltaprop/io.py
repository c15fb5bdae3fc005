"""Model and checkpoint files: one ``.safetensors`` file, safe to load from anyone.

A model file holds each layer's weights and bias as named tensors and, in the safetensors
metadata under the key ``"deltaprop"``, a JSON document with the architecture, loss, dtype,
deltaprop version, file-format version and a SHA-256 of the tensors. Tensor names are those of
the equivalent PyTorch ``nn.Sequential`` (``0.weight``, ``0.bias``, ``2.weight``, ... where each
non-identity activation takes one index), so ``load_state_dict`` accepts the file as it is.

A checkpoint is the same file plus the optimizer's state tensors (``optimizer.<slot>.<i>``) and,
in the JSON, the optimizer's step count, the random generator's state, the history, the
position in training and the callbacks' state (arrays as ``callback.<i>.<key>.<j>``), so that
``fit(..., resume=path)`` continues bit-identically.

Loading never executes code: the header is parsed and checked (size, names, dtypes, shapes,
offsets within the file) before any tensor is read, and the hash is verified. Writing is atomic:
a temporary file in the same directory, fsync, then rename over the target.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import DeltapropError, ModelFileError
from .version import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .network import Network
    from .optimizers import Optimizer
    from .training import Callback, History, Position

FORMAT = "deltaprop"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 16 * 1024 * 1024
SAFETENSORS_DTYPES = {"F32": np.float32, "F64": np.float64}
CHECKPOINT_TENSORS = ("optimizer.", "callback.")  # prefixes of the tensors beside the layers'


def torch_names(network: Network) -> list[tuple[str, str]]:
    """``(weight_name, bias_name)`` per layer: the keys of the equivalent ``nn.Sequential``."""
    names, index = [], 0
    for layer in network.layers:
        names.append((f"{index}.weight", f"{index}.bias"))
        index += 1 if layer.activation.name == "identity" else 2
    return names


def architecture(network: Network) -> dict:
    """The JSON-ready description from which ``network`` is rebuilt (without parameters)."""
    return {
        "layers": [layer.config() for layer in network.layers],
        "loss": network.loss.name,
        "loss_config": network.loss.config(),
        "dtype": network.dtype.name,
        "seed": network.seed,
    }


def content_hash(tensors: dict[str, np.ndarray]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _network_tensors(network: Network) -> dict[str, np.ndarray]:
    tensors = {}
    for layer, (weight_name, bias_name) in zip(network.layers, torch_names(network)):
        tensors[weight_name], tensors[bias_name] = layer.weights, layer.bias
    return tensors


def _write(path: str | Path, tensors: dict[str, np.ndarray], document: dict) -> None:
    from safetensors.numpy import save

    document = {**document, "sha256": content_hash(tensors)}
    data = save(
        {name: np.ascontiguousarray(a) for name, a in tensors.items()},
        metadata={FORMAT: json.dumps(document)},
    )
    atomic_write_bytes(path, data)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ModelFileError(f"cannot write {path}: directory {directory} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp makes the file private (0600); give it the mode open() would have given.
        os.chmod(temporary, _file_mode(path))
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory_handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_handle)
    finally:
        os.close(directory_handle)


def _file_mode(path: Path) -> int:
    """The mode of the file being replaced, or 0666 less the umask for a new one."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def save(network: Network, path: str | Path) -> None:
    """Write ``network`` to ``path`` as a model file (see the module docstring)."""
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": "model",
        "deltaprop_version": __version__,
        "architecture": architecture(network),
    }
    if getattr(network, "history", None) is not None:
        document["history"] = network.history.to_dict()
    _write(path, _network_tensors(network), document)


def save_checkpoint(
    path: str | Path,
    network: Network,
    optimizer: Optimizer,
    history: History,
    position: Position,
    callbacks: Sequence[Callback] = (),
) -> None:
    """Write everything ``fit(..., resume=path)`` needs to continue bit-identically."""
    tensors = _network_tensors(network)
    state = optimizer.state_dict()
    for slot, arrays in state["state"].items():
        for index, array in enumerate(arrays):
            tensors[f"optimizer.{slot}.{index}"] = array
    callback_states = [_callback_state(i, cb, tensors) for i, cb in enumerate(callbacks)]
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": "checkpoint",
        "deltaprop_version": __version__,
        "architecture": architecture(network),
        "optimizer": {
            "name": optimizer.name,
            "iterations": state["iterations"],
            "config": optimizer.config(),
            "schedule": optimizer.schedule.name,
        },
        "rng_state": network.rng.bit_generator.state,
        "history": history.to_dict(),
        "position": position.to_dict(),
        "callbacks": callback_states,
    }
    _write(path, tensors, document)


def _callback_state(index: int, callback: Callback, tensors: dict[str, np.ndarray]) -> dict:
    """A callback's JSON state; its lists of arrays go into ``tensors`` under callback.<i>."""
    values, arrays = {}, {}
    for key, value in callback.state_dict().items():
        if isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
            arrays[key] = len(value)
            for j, array in enumerate(value):
                tensors[f"callback.{index}.{key}.{j}"] = array
        else:
            values[key] = value
    return {"type": type(callback).__name__, "values": values, "arrays": arrays}


def read_file(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Return the validated JSON document and tensors of a deltaprop file.

    Raises ``ModelFileError`` for anything that is not an intact deltaprop file of a format
    this version reads.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path} is a directory, not a model file") from None
    header = _parse_header(path, data)
    document = _document(path, header)
    tensors = _tensors(path, data, header)
    if content_hash(tensors) != document.get("sha256"):
        raise ModelFileError(
            f"{path} is corrupt or was modified: its tensors do not match the SHA-256 recorded "
            "when it was written"
        )
    return document, tensors


def _parse_header(path: Path, data: bytes) -> dict:
    if len(data) < 8:
        raise ModelFileError(f"{path} is not a safetensors file: it is only {len(data)} bytes")
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > MAX_HEADER_BYTES or 8 + header_size > len(data):
        raise ModelFileError(
            f"{path} is not a valid safetensors file: its header claims {header_size} bytes "
            f"(the file has {len(data)})"
        )
    try:
        header = json.loads(data[8 : 8 + header_size])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{path} is not a safetensors file: its header is not JSON") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path} is not a safetensors file: its header is not an object")
    return header


def _document(path: Path, header: dict) -> dict:
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or FORMAT not in metadata:
        raise ModelFileError(
            f"{path} is a safetensors file but not a deltaprop model (no 'deltaprop' metadata): "
            "load it with the tool that wrote it, or convert it with deltaprop.torch.from_torch"
        )
    try:
        document = json.loads(metadata[FORMAT])
    except (TypeError, json.JSONDecodeError):
        raise ModelFileError(f"{path} has unreadable deltaprop metadata") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path} has deltaprop metadata of an unknown format")
    version = document.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path} has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written in file format {version} by deltaprop "
            f"{document.get('deltaprop_version')}; this deltaprop {__version__} reads format "
            f"{FORMAT_VERSION} and older: upgrade deltaprop"
        )
    return document


def _tensors(path: Path, data: bytes, header: dict) -> dict[str, np.ndarray]:
    """Read the tensors after checking each entry's dtype, shape and byte range."""
    body = len(data) - 8 - header_length(data)
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = np.dtype(SAFETENSORS_DTYPES[entry["dtype"]]).newbyteorder("<")
            shape = tuple(int(n) for n in entry["shape"])
            begin, end = (int(n) for n in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(
                f"{path}: tensor {name!r} has an unsupported dtype or a malformed entry "
                "(deltaprop files hold F32 or F64 tensors)"
            ) from None
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if min(shape, default=0) < 0 or not 0 <= begin <= end <= body or end - begin != expected:
            raise ModelFileError(
                f"{path}: tensor {name!r} declares {shape} but its bytes {begin}..{end} do not "
                "fit that shape or lie outside the file (truncated or corrupt)"
            )
        start = 8 + header_length(data) + begin
        tensors[name] = (
            np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=start)
            .reshape(shape)
            .astype(dtype.newbyteorder("="))
        )
    return tensors


def header_length(data: bytes) -> int:
    return struct.unpack("<Q", data[:8])[0]


def load(path: str | Path) -> Network:
    """Read a model (or checkpoint) file and return the ``Network`` it holds."""
    from .network import Network

    document, tensors = read_file(path)
    network = _build(path, document)
    _assign(
        path,
        network,
        tensors,
        allow_extra=CHECKPOINT_TENSORS if document.get("kind") == "checkpoint" else None,
    )
    if "history" in document:
        from .training import History

        network.history = History.from_dict(document["history"])
    if not isinstance(network, Network):  # pragma: no cover - _build always returns one
        raise ModelFileError(f"{path} did not describe a network")
    return network


def _build(path: str | Path, document: dict) -> Network:
    from .layers import Dense
    from .network import Network

    try:
        spec = document["architecture"]
        layers = [
            Dense(
                layer["n_in"],
                layer["n_out"],
                activation=_activation(layer),
                init=layer.get("init"),
                dropout=layer.get("dropout", 0.0),
            )
            for layer in spec["layers"]
        ]
        from .losses import get_loss

        loss = get_loss(spec["loss"], **spec.get("loss_config", {}))
        return Network(layers, loss=loss, dtype=spec["dtype"], seed=spec.get("seed", 0))
    except DeltapropError as error:
        raise ModelFileError(f"{path} declares an invalid architecture: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path} has a malformed architecture ({error!r})") from None


def _activation(layer: dict):
    from .activations import activation_from_config

    return activation_from_config(layer["activation"], layer.get("activation_config", {}))


def _assign(path, network: Network, tensors: dict, allow_extra: tuple[str, ...] | None) -> None:
    """Copy the layer tensors into ``network`` after checking names, shapes and dtypes."""
    expected = {}
    for layer, names in zip(network.layers, torch_names(network)):
        expected[names[0]] = (layer, "weights", (layer.n_out, layer.n_in))
        expected[names[1]] = (layer, "bias", (layer.n_out,))
    missing = sorted(set(expected) - set(tensors))
    unknown = sorted(
        n for n in set(tensors) - set(expected) if not (allow_extra and n.startswith(allow_extra))
    )
    if missing or unknown:
        raise ModelFileError(
            f"{path} does not match its declared architecture: missing tensors {missing}, "
            f"unknown tensors {unknown}"
        )
    for name, (layer, attribute, shape) in expected.items():
        array = tensors[name]
        if array.shape != shape or array.dtype != network.dtype:
            raise ModelFileError(
                f"{path}: tensor {name!r} is {array.dtype} {array.shape} but the architecture "
                f"declares {network.dtype.name} {shape}"
            )
        if not np.isfinite(array).all():
            raise ModelFileError(f"{path}: tensor {name!r} contains NaN or infinite values")
        setattr(layer, attribute, array)


def load_checkpoint(
    path: str | Path, network: Network, optimizer: Optimizer
) -> tuple[History, Position]:
    """Restore ``network`` and ``optimizer`` from a checkpoint; return its history and position.

    The checkpoint must have been written for the same architecture and optimizer type.
    """
    from .training import History, Position

    document, tensors = read_file(path)
    if document.get("kind") != "checkpoint":
        raise ModelFileError(
            f"{path} is a model file, not a checkpoint: resume needs the file written by "
            "fit(..., checkpoint=...)"
        )
    if (
        document["architecture"]["layers"] != architecture(network)["layers"]
        or document["architecture"]["dtype"] != network.dtype.name
    ):
        raise ModelFileError(
            f"{path} was written for another network ({_describe(document)}); this one is "
            f"{network.sizes} {network.dtype.name}: resume with the same architecture"
        )
    saved = document["optimizer"]
    if saved["name"] != optimizer.name:
        raise ModelFileError(
            f"{path} holds the state of optimizer {saved['name']!r} but {optimizer.name!r} was "
            f"given: resume with the same optimizer"
        )
    _assign(path, network, tensors, allow_extra=CHECKPOINT_TENSORS)
    slots = {}
    # Before its first update an optimizer has no state yet (interrupted before step 1).
    for slot in optimizer.slots if saved["iterations"] else ():
        count = len(network.layers) * 2
        try:
            slots[slot] = [tensors[f"optimizer.{slot}.{i}"] for i in range(count)]
        except KeyError:
            raise ModelFileError(f"{path} lacks the optimizer state {slot!r}") from None
    unused = sorted({n.split(".")[1] for n in tensors if n.startswith("optimizer.")} - set(slots))
    if unused and saved["iterations"]:
        raise ModelFileError(
            f"{path} holds optimizer state {unused} that this {optimizer!r} does not use: "
            "resume with the optimizer settings the checkpoint was written with"
        )
    optimizer.load_state_dict({"iterations": saved["iterations"], "state": slots})
    try:
        network.rng.bit_generator.state = document["rng_state"]
        history = History.from_dict(document["history"])
        position = Position(**document["position"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path} has a malformed training state ({error!r})") from None
    return history, position


def load_callback_states(path: str | Path, callbacks: Sequence[Callback]) -> None:
    """Give each callback the state saved for the callback of the same type and position.

    A callback with no saved counterpart keeps its fresh state.
    """
    document, tensors = read_file(path)
    saved = document.get("callbacks", [])
    for index, callback in enumerate(callbacks):
        if index >= len(saved) or saved[index].get("type") != type(callback).__name__:
            continue
        try:
            state = dict(saved[index]["values"])
            for key, count in saved[index]["arrays"].items():
                state[key] = [tensors[f"callback.{index}.{key}.{j}"] for j in range(count)]
            callback.load_state_dict(state)
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFileError(
                f"{path} has a malformed state for callback {index} ({error!r})"
            ) from None


def _describe(document: dict) -> str:
    layers = document["architecture"]["layers"]
    sizes = [layers[0]["n_in"], *(layer["n_out"] for layer in layers)] if layers else []
    return f"{sizes} {document['architecture'].get('dtype')}"
