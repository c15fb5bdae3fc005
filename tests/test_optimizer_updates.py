"""The in-place optimizer updates follow PyTorch's rules, step after step.

The optimizers write their updates into the gradients and a scratch array instead of
allocating temporaries; this checks that the arithmetic is still ``torch.optim``'s, with weight
decay on weight matrices only (biases form a parameter group without decay in PyTorch).
"""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp

torch = pytest.importorskip("torch")

CASES = [
    ("sgd", {"lr": 0.1}, "SGD", {}),
    ("sgd", {"lr": 0.1, "weight_decay": 0.01}, "SGD", {}),
    ("sgd", {"lr": 0.1, "momentum": 0.9}, "SGD", {"momentum": 0.9}),
    (
        "sgd",
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        "SGD",
        {"momentum": 0.9, "nesterov": True},
    ),
    ("adam", {"lr": 0.01}, "Adam", {}),
    ("adam", {"lr": 0.01, "weight_decay": 0.1}, "Adam", {}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1}, "AdamW", {}),
    ("rmsprop", {"lr": 0.01, "rho": 0.9}, "RMSprop", {"alpha": 0.9}),
    ("adagrad", {"lr": 0.1}, "Adagrad", {}),
]


@pytest.mark.parametrize(("name", "config", "torch_name", "torch_config"), CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_updates_match_torch_optim(name, config, torch_name, torch_config, dtype):
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((4, 3)), rng.standard_normal(4)]
    params = [p.astype(dtype) for p in params]
    torch_params = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    decay = config.get("weight_decay", 0.0)
    optimizer = dp.get_optimizer(name, **config)
    torch_optimizer = getattr(torch.optim, torch_name)(
        [
            {"params": torch_params[:1], "weight_decay": decay},
            {"params": torch_params[1:], "weight_decay": 0.0},
        ],
        lr=config["lr"],
        **torch_config,
    )
    for _ in range(5):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        for tensor, grad in zip(torch_params, grads):
            tensor.grad = torch.tensor(grad.copy())
        optimizer.step(params, [g.copy() for g in grads])
        torch_optimizer.step()
    tolerance = 1e-12 if dtype == "float64" else 1e-5
    for param, tensor in zip(params, torch_params):
        assert param.dtype == np.dtype(dtype)
        np.testing.assert_allclose(param, tensor.detach().numpy(), rtol=tolerance, atol=tolerance)


def test_the_gradients_given_to_step_may_be_overwritten_but_params_are_the_only_other_change():
    rng = np.random.default_rng(1)
    params = [rng.standard_normal((3, 2))]
    other = params[0].copy()
    optimizer = dp.Adam(lr=0.1)
    optimizer.step(params, [rng.standard_normal((3, 2))])
    assert not np.array_equal(params[0], other)
    assert optimizer.state_dict()["iterations"] == 1
    assert set(optimizer.state_dict()["state"]) == {"m", "v"}  # no scratch array is saved
