"""PyTorch interop, and PyTorch as an independent check of the core's backpropagation.

``net.gradients`` is compared with torch autograd on the same batch for every activation and
every loss the two libraries share, and the optimizers' update rules with ``torch.optim`` (in
float64 and float32, with and without clipping: the one comparison of the optimizers with torch).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import require

torch = require("torch")

import deltaprop as dp  # noqa: E402
from deltaprop.activations import ELU, LeakyReLU  # noqa: E402
from deltaprop.losses import Huber  # noqa: E402
from deltaprop.torch import from_torch, to_torch  # noqa: E402

nn = torch.nn
SRC = str(Path(__file__).resolve().parents[1] / "src")
HIDDEN = ["identity", "sigmoid", "tanh", "relu", LeakyReLU(0.2), ELU(0.5), "gelu", "softplus"]
OUTPUTS = ["softmax", "sigmoid", "identity", "tanh"]


def activation_id(activation):
    return getattr(activation, "name", activation)


def network(hidden, output="softmax", loss="cross_entropy", dtype="float64", seed=0):
    """[6, 10, 7, 3] with random non-zero biases."""
    net = dp.Network(
        [
            dp.Dense(6, 10, activation=hidden),
            dp.Dense(10, 7, activation=hidden),
            dp.Dense(7, 3, activation=output),
        ],
        loss=loss,
        dtype=dtype,
        seed=seed,
    )
    rng = np.random.default_rng(seed + 100)
    for layer in net.layers:
        layer.bias = 0.5 * rng.normal(size=layer.n_out)
    return net


def batch(n=32, dtype="float64", seed=1):
    return np.random.default_rng(seed).normal(size=(n, 6)).astype(dtype)


def relative_error(ours, reference):
    ours, reference = np.asarray(ours), np.asarray(reference)
    scale = np.linalg.norm(reference)
    error = np.linalg.norm(ours - reference)
    return error / scale if scale else error


# ---------------------------------------------------------------- outputs


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN, ids=activation_id)
def test_to_torch_outputs_match_in_float32(hidden, output):
    loss = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}.get(output, "mse")
    net = network(hidden, output, loss, dtype="float32")
    model = to_torch(net)
    X = batch(1000, "float32")
    with torch.no_grad():
        got = model(torch.from_numpy(X)).numpy()
    assert got.dtype == np.float32
    assert np.abs(got - net.forward(X)).max() <= 1e-5


def test_to_torch_layout_dtype_and_independence():
    net = network("identity", "softmax")
    state = torch.get_rng_state()
    model = to_torch(net)
    assert torch.equal(torch.get_rng_state(), state)  # no random initialisation drawn
    assert [type(m).__name__ for m in model] == ["Linear", "Linear", "Linear", "Softmax"]
    assert model[3].dim == 1 and model[0].weight.dtype == torch.float64
    assert list(model.state_dict()) == [n for pair in dp.io.torch_names(net) for n in pair]
    with torch.no_grad():
        model[0].weight.zero_()
    assert np.abs(net.layers[0].weights).sum() > 0  # a copy, not a view


# ---------------------------------------------------------------- gradients vs autograd


def regression_targets(n, seed=2):
    return 1.5 * np.random.default_rng(seed).normal(size=(n, 3))


def binary_targets(n, seed=2):
    return (np.random.default_rng(seed).random((n, 3)) < 0.5).astype(np.float64)


def soft_targets(n, seed=2):
    return np.random.default_rng(seed).random((n, 3))


def labels(n, seed=2):
    return np.random.default_rng(seed).integers(0, 3, size=n)


def probability_rows(n, seed=2):
    p = np.random.default_rng(seed).random((n, 3))
    return p / p.sum(axis=1, keepdims=True)


def as_tensor(y):
    return torch.from_numpy(np.asarray(y))


# (output activation, deltaprop loss, targets, torch loss of (output a, logits z, targets))
LOSS_CASES = {
    "mse-identity": ("identity", "mse", regression_targets, lambda a, z, t: nn.MSELoss()(a, t)),
    "mse-sigmoid": ("sigmoid", "mse", soft_targets, lambda a, z, t: nn.MSELoss()(a, t)),
    "mse-softmax": ("softmax", "mse", probability_rows, lambda a, z, t: nn.MSELoss()(a, t)),
    "mae-identity": ("identity", "mae", regression_targets, lambda a, z, t: nn.L1Loss()(a, t)),
    "mae-tanh": ("tanh", "mae", regression_targets, lambda a, z, t: nn.L1Loss()(a, t)),
    "huber-identity": (
        "identity",
        Huber(0.7),
        regression_targets,
        lambda a, z, t: nn.HuberLoss(delta=0.7)(a, t),
    ),
    "bce-on-probabilities": (
        "sigmoid",
        "binary_cross_entropy",
        binary_targets,
        lambda a, z, t: nn.BCELoss()(a, t),
    ),
    "bce-with-logits-soft-targets": (
        "sigmoid",
        "binary_cross_entropy",
        soft_targets,
        lambda a, z, t: nn.BCEWithLogitsLoss()(z, t),
    ),
    "cross-entropy-labels": (
        "softmax",
        "cross_entropy",
        labels,
        lambda a, z, t: nn.CrossEntropyLoss()(z, t),
    ),
    "cross-entropy-probabilities": (
        "softmax",
        "cross_entropy",
        probability_rows,
        lambda a, z, t: nn.CrossEntropyLoss()(z, t),
    ),
}


def torch_loss_and_gradients(model, X, y, torch_loss):
    linears = [m for m in model if isinstance(m, nn.Linear)]
    logits_model = model[:-1] if not isinstance(model[-1], nn.Linear) else model
    x = torch.from_numpy(X)
    z = logits_model(x)
    a = model[-1](z) if logits_model is not model else z
    loss = torch_loss(a, z, as_tensor(y))
    loss.backward()
    grads = [(m.weight.grad.numpy(), m.bias.grad.numpy()) for m in linears]
    return loss.item(), grads


@pytest.mark.parametrize("case", list(LOSS_CASES))
@pytest.mark.parametrize("hidden", HIDDEN, ids=activation_id)
def test_gradients_match_torch_autograd_in_float64(hidden, case):
    output, loss, make_targets, torch_loss = LOSS_CASES[case]
    net = network(hidden, output, loss)
    X, y = batch(), make_targets(32)
    ours_loss, ours = net.gradients(X, y)
    ref_loss, reference = torch_loss_and_gradients(to_torch(net), X, y, torch_loss)
    assert relative_error(ours_loss, ref_loss) <= 1e-12
    for (dW, db), (ref_dW, ref_db) in zip(ours, reference):
        assert relative_error(dW, ref_dW) <= 1e-10
        assert relative_error(db, ref_db) <= 1e-10


# ---------------------------------------------------------------- optimizers vs torch.optim

WEIGHT_DECAY = 0.05
# (deltaprop optimizer, torch optimizer class, torch keyword arguments)
OPTIMIZER_CASES = {
    "sgd": (dp.SGD(lr=0.1), torch.optim.SGD, {"lr": 0.1}),
    "sgd-decay": (
        dp.SGD(lr=0.1, weight_decay=0.01),
        torch.optim.SGD,
        {"lr": 0.1, "weight_decay": 0.01},
    ),
    "sgd-momentum": (dp.SGD(lr=0.1, momentum=0.9), torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    "sgd-nesterov": (
        dp.SGD(lr=0.1, momentum=0.9, nesterov=True),
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    ),
    "sgd-nesterov-decay": (
        dp.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=WEIGHT_DECAY),
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": WEIGHT_DECAY},
    ),
    "adam-defaults": (dp.Adam(), torch.optim.Adam, {}),
    "adam-decay-eps": (
        dp.Adam(lr=0.01, beta1=0.8, beta2=0.9, eps=1e-3, weight_decay=WEIGHT_DECAY),
        torch.optim.Adam,
        {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": WEIGHT_DECAY},
    ),
    "adamw-defaults": (dp.AdamW(), torch.optim.AdamW, {}),
    "adamw-decay": (
        dp.AdamW(lr=0.01, weight_decay=0.3, eps=1e-3),
        torch.optim.AdamW,
        {"lr": 0.01, "weight_decay": 0.3, "eps": 1e-3},
    ),
    # deltaprop's rho is torch's alpha (the running average's decay).
    "rmsprop": (
        dp.RMSprop(lr=0.01, rho=0.8, eps=1e-3, weight_decay=WEIGHT_DECAY),
        torch.optim.RMSprop,
        {"lr": 0.01, "alpha": 0.8, "eps": 1e-3, "weight_decay": WEIGHT_DECAY},
    ),
    "adagrad-defaults": (dp.Adagrad(), torch.optim.Adagrad, {}),
    "adagrad-decay-eps": (
        dp.Adagrad(lr=0.1, eps=1e-3, weight_decay=WEIGHT_DECAY),
        torch.optim.Adagrad,
        {"lr": 0.1, "eps": 1e-3, "weight_decay": WEIGHT_DECAY, "initial_accumulator_value": 0},
    ),
}


def torch_optimizer(cls, kwargs, weights, biases):
    """deltaprop decays weight matrices only, never biases: two groups say the same."""
    groups = [{"params": weights}, {"params": biases, "weight_decay": 0.0}]
    return cls(groups, foreach=False, **kwargs)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("clip", [None, 0.5], ids=["no-clip", "clip-norm"])
@pytest.mark.parametrize("case", list(OPTIMIZER_CASES))
def test_optimizer_steps_match_torch_optim(case, clip, dtype):
    import copy

    optimizer, cls, kwargs = OPTIMIZER_CASES[case]
    optimizer = copy.deepcopy(optimizer)
    optimizer.clip_norm = clip
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (4,), (2, 4), (2,)]
    params = [rng.normal(size=shape).astype(dtype) for shape in shapes]
    tensors = [nn.Parameter(torch.tensor(p)) for p in params]
    reference = torch_optimizer(cls, kwargs, tensors[0::2], tensors[1::2])
    for _ in range(6):
        grads = [rng.normal(size=shape).astype(dtype) for shape in shapes]
        for tensor, grad in zip(tensors, grads):
            tensor.grad = torch.tensor(grad)
        if clip is not None:
            nn.utils.clip_grad_norm_(tensors, clip, foreach=False)
        reference.step()
        optimizer.step(params, [g.copy() for g in grads])
    tolerance = 1e-12 if dtype == "float64" else 1e-5
    for param, tensor in zip(params, tensors):
        assert param.dtype == np.dtype(dtype)
        assert relative_error(param, tensor.detach().numpy()) <= tolerance


# ---------------------------------------------------------------- model files and from_torch


def hand_built_sequential(dtype=torch.float32):
    """The nn.Sequential a PyTorch user writes for network('tanh', 'softmax')."""
    return nn.Sequential(
        nn.Linear(6, 10), nn.Tanh(), nn.Linear(10, 7), nn.Tanh(), nn.Linear(7, 3), nn.Softmax(1)
    ).to(dtype)


def test_torch_loads_a_deltaprop_model_file_directly(tmp_path):
    safetensors_torch = require("safetensors.torch")
    net = network("tanh", dtype="float32")
    net.save(tmp_path / "model.safetensors")
    model = hand_built_sequential()
    model.load_state_dict(safetensors_torch.load_file(tmp_path / "model.safetensors"))
    X = batch(1000, "float32")
    with torch.no_grad():
        got = model(torch.from_numpy(X)).numpy()
    assert np.abs(got - net.forward(X)).max() <= 1e-5


def test_a_state_dict_saved_by_torch_comes_back_through_from_torch(tmp_path):
    safetensors_torch = require("safetensors.torch")
    torch.manual_seed(0)
    trained = hand_built_sequential(torch.float64)
    safetensors_torch.save_file(trained.state_dict(), tmp_path / "torch.safetensors")
    model = hand_built_sequential(torch.float64)
    model.load_state_dict(safetensors_torch.load_file(tmp_path / "torch.safetensors"))
    net = from_torch(model)
    assert net.loss.name == "cross_entropy" and net.dtype == np.float64
    assert [layer.activation.name for layer in net.layers] == ["tanh", "tanh", "softmax"]
    X = batch()
    with torch.no_grad():
        expected = trained(torch.from_numpy(X)).numpy()
    assert np.abs(net.forward(X) - expected).max() <= 1e-12
    # ... and the deltaprop file it writes goes back into torch.
    net.save(tmp_path / "model.safetensors")
    again = hand_built_sequential(torch.float64)
    again.load_state_dict(safetensors_torch.load_file(tmp_path / "model.safetensors"))
    for key, value in trained.state_dict().items():
        assert torch.equal(again.state_dict()[key], value)


@pytest.mark.parametrize("hidden", HIDDEN, ids=activation_id)
def test_from_torch_inverts_to_torch(hidden):
    net = network(hidden, "sigmoid", "binary_cross_entropy")
    back = from_torch(to_torch(net))
    assert back.loss.name == "binary_cross_entropy"
    assert [layer.activation for layer in back.layers] == [layer.activation for layer in net.layers]
    for ours, theirs in zip(back.parameters(), net.parameters()):
        np.testing.assert_array_equal(ours, theirs)


def test_from_torch_reads_dropout_identity_and_bias_free_layers():
    module = nn.Sequential(
        nn.Linear(4, 8, bias=False), nn.ReLU(), nn.Dropout(0.25), nn.Linear(8, 2), nn.Identity()
    )
    net = from_torch(module, loss="huber")
    assert [(layer.activation.name, layer.dropout) for layer in net.layers] == [
        ("relu", 0.25),
        ("identity", 0.0),
    ]
    np.testing.assert_array_equal(net.layers[0].bias, np.zeros(8, dtype=np.float32))
    assert net.loss.name == "huber" and net.dtype == np.float32


@pytest.mark.parametrize(
    ("module", "error", "match"),
    [
        (nn.Sequential(nn.Linear(3, 4), nn.Conv1d(1, 1, 1)), dp.ValidationError, "Conv1d"),
        (nn.Sequential(nn.Linear(3, 4), nn.GELU("tanh")), dp.ValidationError, "exact"),
        (nn.Sequential(nn.Linear(3, 4), nn.Softplus(beta=2)), dp.ValidationError, "beta=1"),
        (nn.Sequential(nn.Linear(3, 4), nn.Softmax(0)), dp.ValidationError, "dim=1"),
        (nn.Sequential(nn.ReLU(), nn.Linear(3, 4)), dp.ValidationError, "before any nn.Linear"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Tanh()), dp.ValidationError, "another"),
        (nn.Sequential(nn.Linear(3, 4).half()), dp.DeltapropTypeError, "float16"),
        (nn.Linear(3, 4), dp.DeltapropTypeError, "nn.Sequential"),
    ],
)
def test_from_torch_refuses_what_it_cannot_represent(module, error, match):
    with pytest.raises(error, match=match):
        from_torch(module)


def test_import_deltaprop_does_not_import_torch():
    code = "import sys, deltaprop; print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
