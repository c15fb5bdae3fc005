"""scikit-learn estimators: a deltaprop network as a classifier or a regressor.

``DeltapropClassifier`` and ``DeltapropRegressor`` follow scikit-learn's estimator API (``fit``,
``predict``, ``predict_proba``, ``score``, ``partial_fit``, ``get_params``/``set_params``) and
take parameters in the style of ``MLPClassifier``, so they work in ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``. They pass scikit-learn's own ``check_estimator``.

>>> from deltaprop.sklearn import DeltapropClassifier
>>> clf = DeltapropClassifier(hidden_layer_sizes=(64,), epochs=20).fit(X, y)  # doctest: +SKIP

How targets become outputs:

* two classes: **one sigmoid output** with binary cross-entropy (as ``MLPClassifier``);
  ``predict_proba`` returns the two columns ``[1 - p, p]``;
* more classes: one softmax output per class with cross-entropy;
* a multilabel indicator matrix ``(n_samples, n_labels)``: one sigmoid output per label;
* regression: identity outputs, one per target column (multi-output regression).

Class labels may be anything ``np.unique`` can sort (integers, strings, ...); ``classes_``
holds them in sorted order. The network computes in float32 when ``X`` is float32 and in float64
otherwise, scikit-learn's rule for its MLPs, unless ``dtype`` names one; predictions and
probabilities are returned as float64, scikit-learn's convention.

The modules: :mod:`.estimator` (the parameters and training both share), :mod:`.convergence`
(when to stop), :mod:`.classifier` and :mod:`.regressor`. This package is the only part of
deltaprop that imports scikit-learn; ``import deltaprop`` does not.
"""

from .classifier import DeltapropClassifier
from .regressor import REGRESSION_LOSSES, DeltapropRegressor

__all__ = ["REGRESSION_LOSSES", "DeltapropClassifier", "DeltapropRegressor"]
