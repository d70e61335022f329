"""scikit-learn's own estimator checks on NTKRegressor and NTKClassifier (kernels/ntk/dynamics.py)."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from kernels.ntk.dynamics import NTKClassifier, NTKRegressor
from tests.helpers import run_estimator_check

ESTIMATORS = [NTKRegressor(depth=2), NTKClassifier(depth=2)]
EXPECTED_FAILED = {}


def _expected_failed(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed)
def test_sklearn_estimator_checks(estimator, check):
    run_estimator_check(estimator, check)
