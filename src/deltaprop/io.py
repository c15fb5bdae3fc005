"""Model and checkpoint files: one ``.safetensors`` file, safe to load from anyone.

A model file holds each layer's weights and bias as named tensors and, in the safetensors
metadata under the key ``"deltaprop"``, a JSON document with the architecture, loss, dtype,
deltaprop version, file-format version and a SHA-256 of the tensors and of that JSON. Tensor
names are those of the equivalent PyTorch ``nn.Sequential`` (``0.weight``, ``0.bias``,
``2.weight``, ... where each non-identity activation takes one index), so ``load_state_dict``
accepts the file as it is.

A checkpoint is the same file plus the optimizer's state tensors (``optimizer.<slot>.<i>``) and,
in the JSON, the optimizer's step count, the random generator's state, the history, the
position in training and the callbacks' state (arrays as ``callback.<i>.<key>.<j>``), so that
``fit(..., resume=path)`` continues bit-identically.

Loading never executes code: the header is parsed and checked (size, names, dtypes, shapes,
offsets within the file) before any tensor is read, and the hash is verified. Writing is atomic:
a temporary file in the same directory, fsync, then rename over the target.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import struct
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import DeltapropError, ModelFileError, ValidationError
from .files import open_regular
from .validation import all_finite, declared_nbytes
from .version import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .history import History, Position
    from .network import Network
    from .optimizers import Optimizer
    from .training import Callback

FORMAT = "deltaprop"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_DIMENSIONS = 8  # deltaprop writes 1-D and 2-D tensors; more is a corrupt or foreign file
SAFETENSORS_DTYPES = {"F32": np.float32, "F64": np.float64}
CHECKPOINT_TENSORS = ("optimizer.", "callback.")  # prefixes of the tensors beside the layers'


def torch_names(network: Network) -> list[tuple[str, str]]:
    """``(weight_name, bias_name)`` per layer: the keys of the equivalent ``nn.Sequential``."""
    return _layer_names(network.layers)


def _layer_names(layers) -> list[tuple[str, str]]:
    names, index = [], 0
    for layer in layers:
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


def content_hash(tensors: dict[str, np.ndarray], document: dict | None = None) -> str:
    """SHA-256 over the JSON document (without its ``sha256``, keys sorted) and every tensor's
    name, dtype, shape and bytes, in name order: editing either part of a file is detected."""
    digest = hashlib.sha256()
    if document is not None:
        described = {key: value for key, value in document.items() if key != "sha256"}
        digest.update(json.dumps(described, sort_keys=True).encode())
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _network_tensors(network: Network, path: str | Path) -> dict[str, np.ndarray]:
    """The layers' parameters by tensor name; refuses NaN/Inf, which ``load`` would refuse."""
    tensors = {}
    for number, (layer, names) in enumerate(zip(network.layers, torch_names(network)), 1):
        for name, array in zip(names, (layer.weights, layer.bias)):
            if not all_finite(np.asarray(array)):
                raise ValidationError(
                    f"cannot save {path}: tensor {name!r} (layer {number}) holds NaN or "
                    "infinite values, so the file could not be loaded: the training diverged; "
                    "train again with a lower learning rate or clip_norm"
                )
            tensors[name] = array
    return tensors


def _write(path: str | Path, tensors: dict[str, np.ndarray], document: dict) -> None:
    from safetensors.numpy import save

    document = {**document, "sha256": content_hash(tensors, document)}
    data = save(
        {name: np.ascontiguousarray(a) for name, a in tensors.items()},
        metadata={FORMAT: json.dumps(document)},
    )
    atomic_write_bytes(path, data)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one.

    The data goes to a hidden temporary file beside ``path`` (``.<name>.<pid>.<random>.tmp``),
    then replaces ``path`` in one rename. Temporary files of earlier saves to the same place
    whose process is gone (killed during a save) are removed first.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ModelFileError(f"cannot write {path}: directory {directory} does not exist")
    remove_stale_temporaries(path)
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=directory
        )
    except OSError as error:  # name the file the user asked for, not the temporary one
        raise ModelFileError(f"cannot write {path}: {error.strerror or error}") from None
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


def remove_stale_temporaries(path: Path) -> None:
    """Delete the temporary files that saves to ``path`` left when they were killed.

    A temporary file names the process that wrote it; one whose process still runs belongs to
    a save in progress and is kept.
    """
    # Only names that mkstemp makes (8 characters of [a-z0-9_]), with the writer's process id or,
    # from older versions, without one: any other hidden .tmp file may be the user's own.
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)\.)?[a-z0-9_]{{8}}\.tmp")
    directory = path.parent if str(path.parent) else Path(".")
    try:
        candidates = [
            (entry, match)
            for entry in os.scandir(directory)
            if (match := pattern.fullmatch(entry.name))
        ]
    except OSError:
        return
    for entry, match in candidates:
        writer = match.group(1)
        if writer is not None and _running(int(writer)):
            continue
        with contextlib.suppress(OSError):  # gone already, or not ours: the save goes on
            os.unlink(entry.path)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process, or no process id at all
        return False
    except PermissionError:  # another user's process: its save may be in progress
        return True
    return True


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
    _write(path, _network_tensors(network, path), document)


def save_checkpoint(
    path: str | Path,
    network: Network,
    optimizer: Optimizer,
    history: History,
    position: Position,
    callbacks: Sequence[Callback] = (),
) -> None:
    """Write everything ``fit(..., resume=path)`` needs to continue bit-identically."""
    tensors = _network_tensors(network, path)
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

    The header is read and checked first; the tensor bytes are read only when every entry
    fits inside the file, so a forged size never causes a large allocation. Raises
    ``ModelFileError`` for anything that is not an intact deltaprop file of a format this
    version reads.
    """
    path = Path(path)
    with open_regular(path, "model file", ModelFileError, missing=ModelFileError) as file:
        size = os.fstat(file.fileno()).st_size
        header_size, header = _parse_header(path, file, size)
        document = _document(path, header)
        body_size = size - 8 - header_size
        entries = {
            name: _entry(path, name, entry, body_size)
            for name, entry in header.items()
            if name != "__metadata__"
        }
        body = file.read(body_size)
    if len(body) != body_size:
        raise ModelFileError(f"{path} changed size while it was read: read it again")
    tensors = {name: _tensor(body, *entry) for name, entry in entries.items()}
    if content_hash(tensors, document) != document.get("sha256"):
        hash_problem = (
            "its tensors or description do not match the SHA-256 recorded when it was written"
        )
        problem = _first_problem(path, document, tensors)
        if problem is None:
            raise ModelFileError(f"{path} is corrupt or was modified: {hash_problem}")
        raise ModelFileError(
            f"{problem}; besides, the file is corrupt or was modified: {hash_problem}"
        )
    return document, tensors


def _first_problem(path: Path, document: dict, tensors: dict[str, np.ndarray]) -> str | None:
    """The first concrete thing wrong with a file whose hash does not match, as a message
    (which field or tensor, what was expected, what was found), or None when everything
    checkable is consistent and only the hash tells that the bytes changed."""
    try:
        layers, spec = _layers(path, document)
        kind = document.get("kind")
        if kind not in ("model", "checkpoint"):
            return f"{path}: field 'kind' is {kind!r:.40}, expected 'model' or 'checkpoint'"
        allow_extra = CHECKPOINT_TENSORS if kind == "checkpoint" else None
        _matching(path, layers, spec["dtype"], tensors, allow_extra)
        if "history" in document:
            _history(path, document)
    except ModelFileError as error:
        return str(error)
    return None


def _parse_header(path: Path, file, size: int) -> tuple[int, dict]:
    """Read and parse the JSON header; ``size`` is the file's length in bytes."""
    prefix = file.read(8)
    if len(prefix) < 8:
        raise ModelFileError(f"{path} is not a safetensors file: it is only {size} bytes")
    (header_size,) = struct.unpack("<Q", prefix)
    if header_size > MAX_HEADER_BYTES or 8 + header_size > size:
        raise ModelFileError(
            f"{path} is not a valid safetensors file: its header claims {header_size} bytes "
            f"(the file has {size}, and headers are limited to {MAX_HEADER_BYTES})"
        )
    header = _json(
        file.read(header_size), f"{path} is not a safetensors file: its header is not JSON"
    )
    if not isinstance(header, dict):
        raise ModelFileError(f"{path} is not a safetensors file: its header is not an object")
    return header_size, header


def _json(text: bytes | str, error: str):
    """Parse ``text``; anything that is not JSON raises ``ModelFileError(error)``."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, huge integers
        raise ModelFileError(error) from None


def _document(path: Path, header: dict) -> dict:
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or FORMAT not in metadata:
        raise ModelFileError(
            f"{path} is a safetensors file but not a deltaprop model (no 'deltaprop' metadata): "
            "load it with the tool that wrote it, or convert it with deltaprop.torch.from_torch"
        )
    if not isinstance(metadata[FORMAT], str):
        raise ModelFileError(f"{path} has unreadable deltaprop metadata (not a string)")
    document = _json(metadata[FORMAT], f"{path} has unreadable deltaprop metadata: it is not JSON")
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path} has deltaprop metadata of an unknown format")
    version = document.get("format_version")
    if not _is_int(version) or version < 1:
        raise ModelFileError(f"{path} has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written in file format {version} by deltaprop "
            f"{document.get('deltaprop_version')}; this deltaprop {__version__} reads format "
            f"{FORMAT_VERSION} and older: upgrade deltaprop"
        )
    return document


def _is_int(value: object) -> bool:
    return type(value) is int  # JSON integers only: not bool, not 3.0


def _entry(path: Path, name: str, entry: object, body_size: int) -> tuple:
    """Check one header entry; return ``(dtype, shape, begin, end)`` within the body."""
    name = f"{name!r:.80}"  # forged names and values can be long: keep messages short
    if not isinstance(entry, dict):
        raise ModelFileError(f"{path}: tensor {name} has a malformed entry {entry!r:.80}")
    found = entry.get("dtype")
    if not isinstance(found, str) or found not in SAFETENSORS_DTYPES:
        raise ModelFileError(
            f"{path}: tensor {name} has an unsupported dtype {found!r:.40}: deltaprop files "
            "hold F32 or F64 (float32 or float64) tensors"
        )
    dtype = np.dtype(SAFETENSORS_DTYPES[found]).newbyteorder("<")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMENSIONS
        or not all(_is_int(n) and n >= 0 for n in shape)
        or not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_int(n) for n in offsets)
    ):
        raise ModelFileError(
            f"{path}: tensor {name} has a malformed entry (shape {shape!r:.80}, data_offsets "
            f"{offsets!r:.80}): the file is corrupt"
        )
    begin, end = offsets
    if not 0 <= begin <= end <= body_size or declared_nbytes(shape, dtype.itemsize, body_size) != (
        end - begin
    ):
        raise ModelFileError(
            f"{path}: tensor {name} declares shape {tuple(shape)!r:.120} but its bytes "
            f"{begin}..{end} do not fit that shape or lie outside the file's {body_size} data "
            "bytes (truncated or corrupt)"
        )
    return dtype, tuple(shape), begin, end


def _tensor(body: bytes, dtype: np.dtype, shape: tuple, begin: int, end: int) -> np.ndarray:
    count = (end - begin) // dtype.itemsize
    array = np.frombuffer(body, dtype=dtype, count=count, offset=begin)
    return array.reshape(shape).astype(dtype.newbyteorder("="))


def load(path: str | Path) -> Network:
    """Read a model (or checkpoint) file and return the ``Network`` it holds.

    The tensors are checked against the declared architecture before the network is built,
    so a forged architecture never allocates more than the file holds.
    """
    from .network import Network

    document, tensors = read_file(path)
    layers, spec = _layers(path, document)
    allow_extra = CHECKPOINT_TENSORS if document.get("kind") == "checkpoint" else None
    parameters = _matching(path, layers, spec["dtype"], tensors, allow_extra)
    for layer, (weights, bias) in zip(layers, parameters):
        layer.weights, layer.bias = weights, bias
    history = _history(path, document) if "history" in document else None
    try:
        network = Network(layers, loss=spec["loss"], dtype=spec["dtype"], seed=spec["seed"])
    except DeltapropError as error:
        raise ModelFileError(f"{path} declares an invalid architecture: {error}") from None
    network.history = history
    return network


def _layers(path: str | Path, document: dict) -> tuple[list, dict]:
    """The file's ``Dense`` layers (without parameters) and its loss, dtype and seed."""
    from .layers import Dense
    from .losses import get_loss
    from .validation import check_dtype, check_seed

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
        loss = get_loss(spec["loss"], **spec.get("loss_config", {}))
        dtype = check_dtype(spec["dtype"])
        seed = check_seed(spec.get("seed", 0))
    except DeltapropError as error:
        raise ModelFileError(f"{path} declares an invalid architecture: {error}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelFileError(f"{path} has a malformed architecture ({error!r})") from None
    if not layers:
        raise ModelFileError(f"{path} declares an architecture without layers")
    return layers, {"loss": loss, "dtype": dtype, "seed": seed}


def _activation(layer: dict):
    from .activations import activation_from_config

    return activation_from_config(layer["activation"], layer.get("activation_config", {}))


def _history(path: str | Path, document: dict):
    from .history import History

    try:
        return History.from_dict(document["history"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelFileError(f"{path} has a malformed training history ({error!r})") from None


def _matching(path, layers, dtype: np.dtype, tensors: dict, allow_extra: tuple | None) -> list:
    """``[(W, b), ...]`` for ``layers`` after checking tensor names, shapes, dtypes, values."""
    expected = {}
    for layer, names in zip(layers, _layer_names(layers)):
        expected[names[0]] = (layer.n_out, layer.n_in)
        expected[names[1]] = (layer.n_out,)
    missing = sorted(set(expected) - set(tensors))
    unknown = sorted(
        n for n in set(tensors) - set(expected) if not (allow_extra and n.startswith(allow_extra))
    )
    if missing or unknown:
        raise ModelFileError(
            f"{path} does not match its declared architecture: missing tensors {missing}, "
            f"unknown tensors {unknown}"
        )
    for name, shape in expected.items():
        array = tensors[name]
        if array.shape != shape or array.dtype != dtype:
            raise ModelFileError(
                f"{path}: tensor {name!r} is {array.dtype} {array.shape} but the architecture "
                f"declares {dtype.name} {shape}"
            )
        if not np.isfinite(array).all():
            raise ModelFileError(f"{path}: tensor {name!r} contains NaN or infinite values")
    return [(tensors[w], tensors[b]) for w, b in _layer_names(layers)]


def read_checkpoint(
    path: str | Path, written_by: str = "fit(..., checkpoint=...)"
) -> tuple[dict, dict[str, np.ndarray]]:
    """``read_file`` for a checkpoint: a model file is refused, naming what writes checkpoints."""
    document, tensors = read_file(path)
    if document.get("kind") != "checkpoint":
        raise ModelFileError(
            f"{path} is a model file, not a checkpoint: resume needs the file written by "
            f"{written_by}"
        )
    return document, tensors


def load_checkpoint(
    path: str | Path, network: Network, optimizer: Optimizer
) -> tuple[History, Position]:
    """Restore ``network`` and ``optimizer`` from a checkpoint; return its history and position.

    The checkpoint must have been written for the same architecture and optimizer type.
    Everything is checked before anything changes: a refused file leaves both untouched.
    """
    document, tensors = read_checkpoint(path)
    try:
        layers = document["architecture"]["layers"]
        saved_dtype = document["architecture"]["dtype"]
        saved = document["optimizer"]
        name, iterations = saved["name"], saved["iterations"]
    except (KeyError, TypeError) as error:
        raise ModelFileError(f"{path} has a malformed checkpoint header ({error!r})") from None
    if layers != architecture(network)["layers"] or saved_dtype != network.dtype.name:
        raise ModelFileError(
            f"{path} was written for another network ({_describe(document)}); this one is "
            f"{network.sizes} {network.dtype.name}: resume with the same architecture"
        )
    if name != optimizer.name:
        raise ModelFileError(
            f"{path} holds the state of optimizer {name!r} but {optimizer.name!r} was "
            f"given: resume with the same optimizer"
        )
    if not _is_int(iterations) or iterations < 0:
        raise ModelFileError(f"{path} has an invalid optimizer step count {iterations!r}")
    parameters = _matching(path, network.layers, network.dtype, tensors, CHECKPOINT_TENSORS)
    slots = _optimizer_slots(path, network, optimizer, tensors, iterations)
    history, position, rng_state = _training_state(path, document, network)
    for layer, (weights, bias) in zip(network.layers, parameters):
        layer.weights, layer.bias = weights, bias
    optimizer.load_state_dict({"iterations": iterations, "state": slots})
    network.rng.bit_generator.state = rng_state
    return history, position


def _optimizer_slots(
    path, network: Network, optimizer: Optimizer, tensors: dict, iterations: int
) -> dict:
    """The optimizer's state arrays, each checked against its parameter's shape and dtype."""
    if not iterations:  # before its first update an optimizer has no state yet
        return {}
    slots = {}
    for slot in optimizer.slots:
        arrays = []
        for index, parameter in enumerate(network.parameters()):
            array = tensors.get(f"optimizer.{slot}.{index}")
            if array is None:
                raise ModelFileError(f"{path} lacks the optimizer state {slot!r}")
            if array.shape != parameter.shape or array.dtype != parameter.dtype:
                raise ModelFileError(
                    f"{path}: optimizer state 'optimizer.{slot}.{index}' is {array.dtype} "
                    f"{array.shape} but its parameter is {parameter.dtype} {parameter.shape}"
                )
            arrays.append(array)
        slots[slot] = arrays
    unused = sorted({n.split(".")[1] for n in tensors if n.startswith("optimizer.")} - set(slots))
    if unused:
        raise ModelFileError(
            f"{path} holds optimizer state {unused} that this {optimizer!r} does not use: "
            "resume with the optimizer settings the checkpoint was written with"
        )
    return slots


def _training_state(path, document: dict, network: Network) -> tuple:
    """The checkpoint's history, position and generator state, each checked."""
    from .history import Position

    history = _history(path, document)
    try:
        position = Position(**document["position"])
        position.grad_norm_sums = list(position.grad_norm_sums)
        scratch = type(network.rng.bit_generator)()
        scratch.state = document["rng_state"]
        if position.epoch_rng_state is not None:
            scratch.state = position.epoch_rng_state
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelFileError(f"{path} has a malformed training state ({error!r})") from None
    counts = (
        position.epoch,
        position.step,
        position.n_samples,
        position.batch_size,
        position.seen,
        position.grad_norm_count,
    )
    sums = (position.loss_sum, position.correct, *position.grad_norm_sums)
    if (
        not all(_is_int(n) and n >= 0 for n in counts)
        or not all(isinstance(x, (int, float)) for x in sums)
        or not isinstance(position.stopped, bool)
        or len(position.grad_norm_sums) not in (0, len(network.layers))
    ):
        raise ModelFileError(f"{path} has a malformed training position {document['position']}")
    return history, position, document["rng_state"]


def load_callback_states(path: str | Path, callbacks: Sequence[Callback]) -> None:
    """Give each callback the state saved for the callback of the same type and position.

    A callback with no saved counterpart keeps its fresh state.
    """
    document, tensors = read_file(path)
    saved = document.get("callbacks", [])
    if not isinstance(saved, list):
        raise ModelFileError(f"{path} has a malformed callback state (not a list)")
    for index, callback in enumerate(callbacks):
        if index >= len(saved) or not isinstance(saved[index], dict):
            continue
        if saved[index].get("type") != type(callback).__name__:
            continue
        try:
            state = dict(saved[index]["values"])
            for key, count in saved[index]["arrays"].items():
                state[key] = [tensors[f"callback.{index}.{key}.{j}"] for j in range(count)]
            callback.load_state_dict(state)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ModelFileError(
                f"{path} has a malformed state for callback {index} ({error!r})"
            ) from None


def _describe(document: dict) -> str:
    try:
        layers = document["architecture"]["layers"]
        sizes = [layers[0]["n_in"], *(layer["n_out"] for layer in layers)] if layers else []
        return f"{sizes} {document['architecture'].get('dtype')}"
    except (KeyError, TypeError, IndexError, AttributeError):
        return "a malformed architecture"
