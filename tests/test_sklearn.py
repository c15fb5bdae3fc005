"""deltaprop's scikit-learn estimators, checked by scikit-learn's own check suite and in use."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import require

require("sklearn")

from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import deltaprop  # noqa: E402
from deltaprop.sklearn import DeltapropClassifier, DeltapropRegressor  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Small and quick, yet enough for the checks' accuracy (> 0.83) and R² (> 0.5) floors.
QUICK = {"hidden_layer_sizes": (16,), "epochs": 30, "learning_rate": 0.01}
CHECKED = [
    # The defaults, as a user checks them (dtype=None: the checks' float64 data trains in float64).
    DeltapropClassifier(),
    DeltapropRegressor(),
    # float32 whatever X is: the precision most training here runs in.
    DeltapropClassifier(**QUICK, dtype="float32"),
    DeltapropRegressor(**QUICK, dtype="float32"),
]


@parametrize_with_checks(CHECKED)
def test_scikit_learn_check(estimator, check):
    check(estimator)


@pytest.mark.parametrize("Estimator", [DeltapropClassifier, DeltapropRegressor])
def test_dtype_none_computes_in_float32_for_float32_x_and_float64_otherwise(Estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    quick = {"hidden_layer_sizes": (4,), "epochs": 2, "random_state": 0}
    for X_fit, expected in [
        (X, np.float64),
        (X.astype(np.float32), np.float32),
        (X > 0, np.float64),
    ]:
        model = Estimator(**quick).fit(X_fit, y)
        assert model.network_.dtype == expected, X_fit.dtype
        assert model.predict(X).shape == (40,)  # any X is then computed in the network's dtype
    assert Estimator(**quick, dtype="float32").fit(X, y).network_.dtype == np.float32
    assert (
        Estimator(**quick, dtype="float64").fit(X.astype(np.float32), y).network_.dtype
        == np.float64
    )
    warm = Estimator(**quick, warm_start=True).fit(X.astype(np.float32), y)
    assert warm.fit(X, y).network_.dtype == np.float32  # a warm start keeps its network
    assert get_tags(Estimator()).transformer_tags.preserves_dtype == ["float64", "float32"]
    assert get_tags(Estimator(dtype="float32")).transformer_tags.preserves_dtype == ["float32"]


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


def test_import_deltaprop_does_not_import_sklearn():
    code = "import sys, deltaprop; print('sklearn' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_string_labels_in_a_pipeline(iris):
    X, y = iris
    model = make_pipeline(
        StandardScaler(), DeltapropClassifier(hidden_layer_sizes=(16,), random_state=0)
    )
    model.fit(X, y)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert model.predict(X[:3]).tolist() == ["setosa"] * 3
    assert model.score(X, y) > 0.95
    proba = model.predict_proba(X)
    assert proba.shape == (150, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


def test_binary_uses_one_sigmoid_output(iris):
    X, y = iris
    keep = y != "setosa"
    clf = DeltapropClassifier(hidden_layer_sizes=(8,), epochs=5, random_state=0)
    clf.fit(X[keep], y[keep])
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "sigmoid"
    assert clf.network_.loss.name == "binary_cross_entropy"
    p = clf.network_.forward(X[keep]).astype(np.float64)[:, 0]
    proba = clf.predict_proba(X[keep])
    np.testing.assert_array_equal(proba[:, 1], p)
    np.testing.assert_array_equal(proba[:, 0], 1 - p)
    np.testing.assert_array_equal(clf.predict(X[keep]), clf.classes_[(p > 0.5).astype(int)])


def test_grid_search_and_cross_val_score(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    search = GridSearchCV(
        DeltapropClassifier(epochs=40, random_state=0),
        {"hidden_layer_sizes": [(4,), (16,)], "learning_rate": [1e-3, 1e-2]},
        cv=3,
    )
    search.fit(X, y)
    assert set(search.best_params_) == {"hidden_layer_sizes", "learning_rate"}
    assert search.best_score_ > 0.9
    scores = cross_val_score(DeltapropClassifier(epochs=40, random_state=0), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


def test_multi_output_regression():
    X, y = make_regression(n_samples=200, n_features=5, n_targets=3, noise=1, random_state=0)
    y = y / y.std(axis=0)
    reg = DeltapropRegressor(hidden_layer_sizes=(32,), epochs=100, random_state=0).fit(X, y)
    assert reg.n_outputs_ == 3 and reg.predict(X).shape == (200, 3)
    assert reg.score(X, y) > 0.95
    assert cross_val_score(reg, X, y, cv=3).min() > 0.8


@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "huber"])
def test_regression_losses(loss):
    X, y = make_regression(n_samples=100, n_features=3, noise=1, random_state=0)
    reg = DeltapropRegressor(loss=loss, epochs=5, random_state=0).fit(X, y / y.std())
    assert reg.network_.loss.name == {"squared_error": "mse", "absolute_error": "mae"}.get(
        loss, loss
    )
    assert len(reg.loss_curve_) == reg.n_iter_ == 5


def test_multilabel_indicator_targets():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] < 0.5]).astype(int)
    clf = DeltapropClassifier(hidden_layer_sizes=(16,), random_state=0).fit(X, Y)
    assert clf.out_activation_ == "sigmoid" and clf.n_outputs_ == 3
    assert clf.predict(X).shape == (200, 3) and clf.predict_proba(X).shape == (200, 3)
    assert clf.score(X, Y) > 0.9  # subset accuracy: all three labels right


def test_partial_fit_needs_classes_then_continues(iris):
    X, y = iris
    clf = DeltapropClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(deltaprop.ValidationError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:50], y[:50], classes=np.unique(y))  # one class in this batch only
    first = [w.copy() for w in clf.network_.parameters()]
    clf.partial_fit(X[50:], y[50:])
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    assert any(not np.array_equal(a, b) for a, b in zip(first, clf.network_.parameters()))
    with pytest.raises(deltaprop.ValidationError, match="not among the classes"):
        clf.partial_fit(X[:2], np.array(["setosa", "rose"]))


def test_a_pickled_classifier_continues_with_partial_fit_as_the_original(iris):
    X, y = iris
    clf = DeltapropClassifier(hidden_layer_sizes=(8,), optimizer="adam", random_state=0)
    clf.partial_fit(X[::2], y[::2], classes=np.unique(y))
    copy = pickle.loads(pickle.dumps(clf))
    for estimator in (clf, copy):
        estimator.partial_fit(X[1::2], y[1::2])
        estimator.partial_fit(X[::2], y[::2])
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert copy.loss_curve_ == clf.loss_curve_
    saved, copy_saved = clf._optimizer.state_dict(), copy._optimizer.state_dict()
    for slot, arrays in saved["state"].items():
        for mine, theirs in zip(copy_saved["state"][slot], arrays, strict=True):
            np.testing.assert_array_equal(mine, theirs)


def test_early_stopping_restores_the_best_validation_epoch(iris):
    X, y = iris
    clf = DeltapropClassifier(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        n_iter_no_change=3,
        learning_rate=0.05,
        epochs=300,
        random_state=0,
    ).fit(StandardScaler().fit_transform(X), y)
    curve = clf.validation_loss_curve_
    assert len(curve) == clf.n_iter_ < 300
    best = int(np.argmin(curve))
    assert len(curve) - 1 - best >= 3


def test_hidden_layer_sizes_accepts_an_int_a_tuple_an_array_or_nothing(iris):
    X, y = iris
    for sizes, expected in [(5, [4, 5, 3]), (np.array([6, 2]), [4, 6, 2, 3]), ((), [4, 3])]:
        clf = DeltapropClassifier(hidden_layer_sizes=sizes, epochs=1).fit(X, y)
        assert clf.network_.sizes == expected


def test_warm_start_continues_from_the_fitted_network(iris):
    X, y = iris
    clf = DeltapropClassifier(hidden_layer_sizes=(8,), epochs=3, warm_start=True, random_state=0)
    clf.fit(X, y)
    network = clf.network_
    clf.fit(X, y)
    assert clf.network_ is network and clf.n_iter_ == 6


def test_same_random_state_same_model_and_pickle_roundtrip(iris):
    X, y = iris
    a = DeltapropClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=7).fit(X, y)
    b = DeltapropClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a.predict_proba(X), c.predict_proba(X))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
        ({"activation": "relux"}, "did you mean 'relu'"),
        ({"optimizer": "adamm"}, "did you mean 'adam'"),
        ({"batch_size": "big"}, "batch_size"),
        ({"validation_fraction": 1.5}, "validation_fraction"),
        ({"dtype": "float16"}, "dtype"),
    ],
)
def test_bad_parameters_raise_at_fit_with_the_name(iris, params, match):
    X, y = iris
    clf = DeltapropClassifier(epochs=1, **params)  # constructing never raises
    with pytest.raises(deltaprop.DeltapropError, match=match):
        clf.fit(X, y)


def test_bad_inputs_raise_deltaprop_errors_with_sklearn_messages(iris):
    X, y = iris
    clf = DeltapropClassifier(hidden_layer_sizes=(4,), epochs=1)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    with pytest.raises(deltaprop.ValidationError, match="one class"):
        clf.fit(X, np.zeros(len(X)))
    with pytest.raises(deltaprop.ValidationError, match="Unknown label type"):
        clf.fit(X, np.linspace(0, 1, len(X)))
    clf.fit(X, y)
    with pytest.raises(deltaprop.ValidationError, match="expecting 4 features"):
        clf.predict(X[:, :3])
    with pytest.raises(deltaprop.ValidationError, match="NaN"):
        clf.predict(np.full((2, 4), np.nan))
