"""deltaprop: fully connected neural networks with backpropagation written from scratch on NumPy.

>>> import deltaprop as dp
>>> net = dp.Network.from_sizes([2, 8, 1], hidden="tanh", output="sigmoid",
...                             loss="binary_cross_entropy")

The math is in ``network.py``; everything else (layers, activations, losses, optimizers,
training, files) is one small module per concept.
"""

from . import _startup  # noqa: F401 - first: Ctrl-C while the command starts, see _startup
from .activations import ACTIVATIONS, Activation, get_activation
from .errors import (
    DataError,
    DataNotFoundError,
    DeltapropError,
    DeltapropTypeError,
    DivergenceError,
    MissingDependencyError,
    ModelFileError,
    ValidationError,
)
from .explain import Explanation, explain
from .gradcheck import GradcheckReport, gradcheck
from .io import load
from .layers import Dense
from .losses import LOSSES, Loss, get_loss
from .network import Network
from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, get_optimizer
from .schedules import (
    Constant,
    CosineDecay,
    ExponentialDecay,
    InverseScaling,
    Schedule,
    StepDecay,
)
from .training import Callback, EarlyStopping, History, TrainingInterrupted, evaluate, fit
from .version import __version__

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "SGD",
    "Activation",
    "Adagrad",
    "Adam",
    "AdamW",
    "Callback",
    "Constant",
    "CosineDecay",
    "DataError",
    "DataNotFoundError",
    "DeltapropError",
    "DeltapropTypeError",
    "Dense",
    "DivergenceError",
    "EarlyStopping",
    "Explanation",
    "ExponentialDecay",
    "GradcheckReport",
    "History",
    "InverseScaling",
    "Loss",
    "MissingDependencyError",
    "ModelFileError",
    "Network",
    "Optimizer",
    "RMSprop",
    "Schedule",
    "StepDecay",
    "TrainingInterrupted",
    "ValidationError",
    "__version__",
    "evaluate",
    "explain",
    "fit",
    "get_activation",
    "get_loss",
    "get_optimizer",
    "gradcheck",
    "load",
]
