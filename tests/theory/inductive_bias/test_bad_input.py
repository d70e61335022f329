"""scikit-learn's estimator checks for NCX2InductiveBias, and bad input across the inductive-bias API."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from kernels.base import NotFittedError
from theory.inductive_bias.estimators import NCX2InductiveBias, exact_inductive_bias
from theory.inductive_bias.gen_chi2 import GeneralizedChi2
from theory.inductive_bias.tasks import synthetic_classification


_ZERO_LOSS = ("the ncx2 family lives on (0, inf) and its likelihood is unbounded at a zero loss: "
              "the check's integer data contain all-zero rows, which fit refuses")


@parametrize_with_checks([NCX2InductiveBias()], expected_failed_checks=lambda est: {
    "check_estimators_dtypes": _ZERO_LOSS,
    "check_fit2d_1feature": _ZERO_LOSS,
})
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_estimator_in_grid_search():
    from sklearn.model_selection import GridSearchCV

    rng = np.random.default_rng(0)
    losses = rng.noncentral_chisquare(8.0, 2.0, size=(300, 1)) * 0.1
    search = GridSearchCV(NCX2InductiveBias(), {"tail": ["log_ndtr", "paper"]}, cv=3).fit(losses)
    assert search.best_estimator_.fit_.df > 0
    assert math.isfinite(clone(search.best_estimator_).fit(losses).bits(0.2))


def test_estimator_bad_input():
    with pytest.raises(NotFittedError):
        NCX2InductiveBias().bits(0.1)
    with pytest.raises(ValueError, match="tail"):
        NCX2InductiveBias(tail="exact").fit(np.ones((5, 1)))
    with pytest.raises(ValueError, match="Negative values in data passed to NCX2InductiveBias"):
        NCX2InductiveBias().fit(-np.ones((5, 1)))
    with pytest.raises(ValueError, match="X must hold losses with a positive mean per row"):
        NCX2InductiveBias().fit(np.zeros((5, 1)))
    with pytest.raises(ValueError, match="sample"):
        NCX2InductiveBias().fit(np.ones((2, 1)))
    fitted = NCX2InductiveBias().fit(np.random.default_rng(1).uniform(0.5, 1.5, (50, 1)))
    with pytest.raises(ValueError, match="eps"):
        fitted.bits(-1.0)
    with pytest.raises(ValueError, match="features"):
        fitted.score(np.ones((4, 3)))


@pytest.fixture(scope="module")
def task():
    return synthetic_classification(4, n_train=20, n_test=8, rng=0)


def test_float32_inputs_are_computed_in_float64(task):
    args64 = (task.x_train, task.y_train, task.x_test, task.y_test)
    args32 = tuple(a.astype(np.float32) for a in args64)
    r64 = exact_inductive_bias(*args64, eps=0.4)
    r32 = exact_inductive_bias(*(a.astype(np.float64) for a in args32), eps=0.4)
    assert exact_inductive_bias(*args32, eps=0.4).bits == r32.bits  # exactly the float64 computation
    assert abs(r32.bits - r64.bits) < 1e-3 * r64.bits


def test_conflicting_duplicates_are_refused(task):
    x = np.concatenate([task.x_train, task.x_train[:1]])
    y = np.concatenate([task.y_train, 1.0 - task.y_train[:1]])
    with pytest.raises(ValueError, match="x_train rows 0 and 20 .* y_train differs"):
        exact_inductive_bias(x, y, task.x_test, task.y_test, eps=0.4)


@pytest.mark.parametrize("name, value, exc", [
    ("x_train", "abc", TypeError),
    ("x_train", np.ones((20, 4)) * (1 + 1j), TypeError),
    ("x_test", np.full((8, 4), np.nan), ValueError),
    ("y_test", np.ones((8, 5)), ValueError),
    ("x_test", np.ones((8, 3)), ValueError),
])
def test_bad_arrays_name_the_argument(task, name, value, exc):
    args = {"x_train": task.x_train, "y_train": task.y_train, "x_test": task.x_test, "y_test": task.y_test}
    args[name] = value
    with pytest.raises(exc, match=name.split("_")[0]):
        exact_inductive_bias(**args, eps=0.4)


@settings(max_examples=25, deadline=None)
@given(eps=st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(-math.inf)))
def test_bad_eps_is_named(task, eps):
    with pytest.raises(ValueError, match="eps"):
        exact_inductive_bias(task.x_train, task.y_train, task.x_test, task.y_test, eps=eps)


@settings(max_examples=40, deadline=None)
@given(weights=st.lists(st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf)),
                        min_size=1, max_size=4),
       good=st.lists(st.floats(1e-3, 10.0), min_size=0, max_size=3))
def test_bad_weights_are_named(weights, good):
    with pytest.raises(ValueError, match="weights"):
        GeneralizedChi2(good + weights)


@settings(max_examples=40, deadline=None)
@given(x=st.one_of(st.floats(1e-300, 1e300), st.floats(-1e300, 0.0)))
def test_any_finite_level_gives_a_bounded_probability(x):
    result = GeneralizedChi2([1.0, 0.5], noncentralities=[2.0, 0.0]).log_cdf_result(x)
    assert result.log_probability <= 0.0 and not math.isnan(result.log_probability)
    assert result.log_error < 1e-8 or result.method == "below_minimum"
