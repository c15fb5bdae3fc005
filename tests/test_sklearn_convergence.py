"""The scikit-learn estimators' convergence check: ``tol``, ``n_iter_no_change``, best weights.

Only the public ``deltaprop.sklearn`` API is used.
"""

import numpy as np
import pytest
from conftest import require

require("sklearn")

from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from deltaprop.sklearn import DeltapropClassifier, DeltapropRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=64, n_features=3, noise=1, random_state=0)
    return X, y / y.std()


def full_batch_regressor(**params) -> DeltapropRegressor:
    """Full-batch SGD with a small step: the training loss falls at every epoch."""
    settings = {
        "hidden_layer_sizes": (8,),
        "optimizer": "sgd",
        "learning_rate": 1e-3,
        "batch_size": 64,
        "epochs": 30,
        "random_state": 0,
    }
    return DeltapropRegressor(**(settings | params))


def test_a_loss_that_falls_by_less_than_tol_stops_after_n_iter_no_change_epochs(regression):
    # With tol far above any change, every epoch after the first is stale: 1 + 4 epochs.
    reg = full_batch_regressor(tol=1e9, n_iter_no_change=4).fit(*regression)
    assert reg.n_iter_ == 5 and len(reg.loss_curve_) == 5


def test_a_loss_that_keeps_falling_by_more_than_tol_trains_every_epoch(regression):
    reg = full_batch_regressor(tol=0.0, n_iter_no_change=4)
    with pytest.warns(ConvergenceWarning, match="still improving by more than tol"):
        reg.fit(*regression)
    assert reg.n_iter_ == 30
    assert np.all(np.diff(reg.loss_curve_) < 0)  # what makes every epoch an improvement


def test_early_stopping_ends_with_the_weights_of_the_best_validation_epoch():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    settings = {
        "hidden_layer_sizes": (8,),
        "early_stopping": True,
        "n_iter_no_change": 3,
        "learning_rate": 0.05,
        "random_state": 0,
    }
    stopped = DeltapropClassifier(**settings, epochs=300).fit(X, y)
    best = int(np.argmin(stopped.validation_loss_curve_))
    assert stopped.n_iter_ > best + 1  # it trained on past its best epoch ...
    # ... and went back to it: the same run cut off right after the best epoch has its weights.
    cut = DeltapropClassifier(**settings, epochs=best + 1).fit(X, y)
    assert cut.validation_loss_curve_ == stopped.validation_loss_curve_[: best + 1]
    proba = stopped.predict_proba(X)
    np.testing.assert_array_equal(proba, cut.predict_proba(X))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)  # real weights went back, not NaN


def test_with_tol_0_a_loss_that_repeats_exactly_is_not_counted_as_stale(regression):
    # A step of 1e-12 moves no float32 weight, so the loss repeats bit for bit. As in
    # scikit-learn's MLP, an epoch is stale only when its loss is above best - tol.
    settings = {"learning_rate": 1e-12, "dtype": "float32", "shuffle": False, "epochs": 6}
    reg = full_batch_regressor(tol=0.0, n_iter_no_change=2, **settings).fit(*regression)
    assert len(set(reg.loss_curve_)) == 1 and reg.n_iter_ == 6
