"""kernels.base: the estimator base (scikit-learn's protocol, validation on NumPy and on other namespaces)."""

from numbers import Real

import numpy as np
import pytest
from sklearn.base import clone

from kernels.base import Estimator, NotFittedError, RegressorMixin, check_fitted, is_device_array
from kernels.validation import Interval


class MeanRegressor(RegressorMixin, Estimator):
    _parameter_constraints = {"shrink": [Interval(Real, 0, 1, closed="both")]}

    def __init__(self, shrink=0.0):
        self.shrink = shrink

    def fit(self, X, y):
        self._validate_params()
        X, y = self._validate_Xy(X, y, y_numeric=True)
        self.mean_ = (1 - self.shrink) * float(np.mean(np.asarray(y) if not is_device_array(y) else y))
        return self

    def predict(self, X):
        check_fitted(self)
        X = self._validate_X(X, reset=False)
        return np.full(X.shape[0], self.mean_)


def test_protocol_from_scikit_learn():
    model = MeanRegressor(shrink=0.5)
    assert repr(model) == "MeanRegressor(shrink=0.5)"
    assert clone(model).get_params() == {"shrink": 0.5}
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        model.set_params(nope=1)
    with pytest.raises(NotFittedError):
        model.predict([[1.0]])


def test_declared_constraint_names_parameter_range_and_value():
    with pytest.raises(ValueError, match=r"'shrink' parameter of MeanRegressor must be a float in the range "
                                         r"\[0(\.0)?, 1(\.0)?\]\. Got 2 instead"):
        MeanRegressor(shrink=2).fit([[1.0], [2.0]], [1.0, 2.0])


def test_validation_messages_name_the_argument():
    with pytest.raises(ValueError, match=r"^X: Found array with 0 sample"):
        MeanRegressor().fit(np.empty((0, 2)), [])
    with pytest.raises(ValueError, match="complex|Complex"):
        MeanRegressor().fit(np.ones((2, 1)) * 1j, [1.0, 2.0])
    fitted = MeanRegressor().fit([[1.0, 2.0], [3.0, 4.0]], [1.0, 3.0])  # lists accepted
    with pytest.raises(ValueError, match="X has 3 features"):
        fitted.predict([[1.0, 2.0, 3.0]])


def test_other_namespace_stays_in_its_namespace():
    import array_api_strict as xs

    X = xs.asarray([[1.0, 2.0], [3.0, 4.0]])
    model = MeanRegressor()
    Xv = model._validate_X(X, reset=True)
    assert type(Xv) is type(X) and model.n_features_in_ == 2
    with pytest.raises(ValueError, match="NaN or infinity"):
        model._validate_X(xs.asarray([[1.0, float("nan")]]), reset=True)
    with pytest.raises(ValueError, match="y must be 1-D with 2 entries"):
        model._validate_Xy(X, xs.asarray([1.0, 2.0, 3.0]), y_numeric=True)
