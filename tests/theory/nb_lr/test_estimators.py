"""scikit-learn's own estimator checks for the two classifiers of the NB-vs-LR topic."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from tests.helpers import run_estimator_check
from theory.nb_lr import MultinomialLogisticRegression, SharedVarianceGaussianNB

# The array-API checks among these run only with SCIPY_ARRAY_API=1 (tests/test_array_api_estimators.py).
@parametrize_with_checks([SharedVarianceGaussianNB(), MultinomialLogisticRegression()])
def test_sklearn_compatible_estimator(estimator, check):
    run_estimator_check(estimator, check)


def test_pipeline_and_grid_search():
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    scores = cross_val_score(SharedVarianceGaussianNB(), X, y, cv=3)
    assert scores.mean() > 0.9
    search = GridSearchCV(make_pipeline(StandardScaler(), MultinomialLogisticRegression()),
                          {"multinomiallogisticregression__C": [0.1, 1.0]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.9


def test_classes_are_the_labels_seen():
    X = np.random.default_rng(0).normal(size=(12, 2))
    y = np.array([5, 7, 9] * 4)
    for est in (SharedVarianceGaussianNB(), MultinomialLogisticRegression()):
        est.fit(X, y)
        assert est.classes_.tolist() == [5, 7, 9]
        assert set(est.predict(X).tolist()) <= {5, 7, 9}


@pytest.mark.parametrize("estimator", [SharedVarianceGaussianNB(), MultinomialLogisticRegression()], ids=repr)
def test_array_api_input_on_the_default_device(estimator):
    """scikit-learn's array-API check, values included, on array-api-strict's default device (the check
    skips itself unless SCIPY_ARRAY_API=1)."""
    from sklearn.utils.estimator_checks import check_array_api_input

    check_array_api_input(type(estimator).__name__, estimator, "array_api_strict", device_name="CPU_DEVICE",
                          dtype_name="float64", check_values=True)
