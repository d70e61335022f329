"""Bad input to the NB-vs-LR topic: a clear error naming the argument, never a silent wrong answer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.nb_lr import (
    MultinomialLogisticRegression,
    SharedVarianceGaussianNB,
    SimulationConfig,
    bayes_error,
    class_mean_coefficients,
    fit_logistic,
    fit_shared_variance_nb,
    make_test_set,
    sample_points,
    training_sample,
)

ESTIMATORS = [SharedVarianceGaussianNB, MultinomialLogisticRegression]


def _data(seed=0, m=30, n=4, K=3):
    rng = np.random.default_rng(seed)
    y = np.arange(m) % K
    return rng.normal(size=(m, n)) + y[:, None], y


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("scale", [1e155, 1e300])
def test_huge_X_is_reported_as_overflow(Estimator, scale):
    X, y = _data()
    with pytest.raises(ValueError, match="X is too large.*overflow"):
        Estimator().fit(X * scale, y)


@pytest.mark.parametrize("fit", [fit_shared_variance_nb, fit_logistic])
def test_huge_X_in_the_batched_fits(fit):
    X, y = _data()
    with pytest.raises(ValueError, match="X is too large"):
        fit(X * 1e300, y, 3)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_continuous_target_refused(Estimator):
    X, _ = _data()
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        Estimator().fit(X, X[:, 0])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_labels_refused(Estimator, bad):
    X, y = _data()
    y = y.astype(float)
    y[4] = bad
    with pytest.raises(ValueError, match="Input y contains"):
        Estimator().fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("X", [np.zeros((0, 3)), []])
def test_empty_X_is_reported_as_empty(Estimator, X):
    with pytest.raises(ValueError, match="X is empty"):
        Estimator().fit(X, [])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_one_class_refused(Estimator):
    X, _ = _data()
    with pytest.raises(ValueError, match="y must contain at least 2 classes"):
        Estimator().fit(X, np.zeros(len(X)))


@pytest.mark.parametrize("params, name", [({"max_iter": 0}, "max_iter"), ({"C": 0.0}, "C"), ({"C": -1.0}, "C"),
                                          ({"tol": 0.0}, "tol"), ({"rtol": -1e-8}, "rtol"), ({"max_iter": 2.5}, "max_iter")])
def test_logistic_parameters_checked(params, name):
    X, y = _data()
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        MultinomialLogisticRegression(**params).fit(X, y)


def test_naive_bayes_parameters_checked():
    X, y = _data()
    with pytest.raises(ValueError, match="'var_smoothing' parameter"):
        SharedVarianceGaussianNB(var_smoothing=-1.0).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_complex_and_sparse_refused(Estimator):
    import scipy.sparse

    X, y = _data()
    with pytest.raises(ValueError, match="[Cc]omplex"):
        Estimator().fit(X + 1j, y)
    with pytest.raises(TypeError, match="[Ss]parse"):
        Estimator().fit(scipy.sparse.csr_matrix(X), y)


@settings(max_examples=40)
@given(kind=st.sampled_from(["nan", "inf", "-inf"]), row=st.integers(0, 29), col=st.integers(0, 3),
       which=st.sampled_from([0, 1]))
def test_non_finite_X_refused_by_estimators(kind, row, col, which):
    X, y = _data()
    X[row, col] = float(kind)
    with pytest.raises(ValueError, match="Input X contains"):
        ESTIMATORS[which]().fit(X, y)


@settings(max_examples=40)
@given(kind=st.sampled_from(["nan", "inf"]), row=st.integers(0, 29), col=st.integers(0, 3),
       fit=st.sampled_from([fit_shared_variance_nb, fit_logistic]))
def test_non_finite_X_refused_by_the_batched_fits(kind, row, col, fit):
    X, y = _data()
    X[row, col] = float(kind)
    with pytest.raises(ValueError, match="X must contain only finite"):
        fit(X, y, 3)


@settings(max_examples=30)
@given(shape=st.sampled_from([(30,), (2, 3, 30, 4), (29,)]), fit=st.sampled_from([fit_shared_variance_nb, fit_logistic]))
def test_wrong_shapes_name_the_argument(shape, fit):
    X, y = _data()
    if len(shape) == 1 and shape[0] == 29:
        with pytest.raises(ValueError, match="y must have shape"):
            fit(X, y[:29], 3)
    else:
        with pytest.raises(ValueError, match="X must have shape"):
            fit(np.zeros(shape), y, 3)


@settings(max_examples=30)
@given(trials=st.integers(-5, 0))
def test_config_trials_checked(trials):
    with pytest.raises(ValueError, match="trials"):
        SimulationConfig(trials=trials)


@pytest.mark.parametrize("field, value", [("test_per_class", 0), ("margin", 0.0), ("margin", 1.5), ("C", 0.0),
                                          ("tol", -1.0), ("max_iter", 0), ("seed", -1)])
def test_config_fields_checked(field, value):
    with pytest.raises(ValueError, match=field):
        SimulationConfig(**{field: value})


@settings(max_examples=30)
@given(pool=st.integers(-10, 0))
def test_pool_per_class_blamed(pool):
    with pytest.raises(ValueError, match="pool_per_class"):
        training_sample(3, 5, 9, pool, rng=0)


@settings(max_examples=30)
@given(n_classes=st.integers(1025, 10**6))
def test_too_many_classes_named(n_classes):
    for fn in (lambda: bayes_error(n_classes, 10), lambda: class_mean_coefficients(n_classes)):
        with pytest.raises(ValueError, match="n_classes must be at most 1024"):
            fn()


def test_bayes_error_2000_classes_is_a_clear_error():
    with pytest.raises(ValueError, match="n_classes"):
        bayes_error(2000, 10)


@pytest.mark.parametrize("n_classes, n", [(1, 10), (3, 0), (2.5, 10)])
def test_generator_arguments_named(n_classes, n):
    with pytest.raises((ValueError, TypeError), match="n_classes|n \\(dimension\\)"):
        make_test_set(n_classes, n, 10, rng=0)


def test_counts_checked():
    with pytest.raises(ValueError, match="counts"):
        sample_points(3, 4, [1, -1, 2], rng=0)
    with pytest.raises(ValueError, match="counts"):
        sample_points(3, 4, [1.5, 1, 2], rng=0)


@pytest.mark.parametrize("rng", [None, 0, np.random.default_rng(1), np.random.SeedSequence(2)])
def test_rng_accepts_what_default_rng_accepts(rng):
    X, y = training_sample(3, 5, 9, rng=rng)
    assert X.shape == (9, 5) and set(y.tolist()) == {0, 1, 2}


def test_inputs_not_mutated():
    X, y = _data()
    X0, y0 = X.copy(), y.copy()
    for Estimator in ESTIMATORS:
        Estimator().fit(X, y).predict(X)
    fit_logistic(X, y, 3, init=(np.zeros((3, 4)), np.ones(3)))
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
