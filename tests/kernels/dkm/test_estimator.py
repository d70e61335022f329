"""kernels.dkm.estimator: DeepKernelMachine under scikit-learn's checks, its limits and bad input."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from kernels.dkm import DeepKernelMachine, SquaredExponential, dkm_objective, input_gram, nngp_grams
from tests.helpers import assert_close, run_estimator_check
from tests.kernels.dkm._common import data


@parametrize_with_checks([DeepKernelMachine(depth=1, nu=2.0, learn_kernel=False, learn_noise=False, max_iter=30,
                                           tol=1e-4)])
def test_scikit_learn_estimator_checks(estimator, check):
    run_estimator_check(estimator, check)


def test_fit_predict_score(rng):
    X, Y = data(rng, P=30)
    y = Y[:, 0]
    model = DeepKernelMachine(depth=1, nu=5.0, tol=1e-4, max_iter=200).fit(X, y)
    mean, std = model.predict(X[:5], return_std=True)
    assert mean.shape == (5,) and std.shape == (5,) and np.all(std > 0)
    assert model.score(X, y) > 0.5
    assert len(model.grams_) == 1 and model.objective_trace_[-1] == pytest.approx(model.objective_, rel=1e-9, abs=0)
    assert np.isfinite(model.log_likelihood(X, y))
    assert model.get_params()["depth"] == 1


def test_multi_output(rng):
    X, Y = data(rng, P=20, D=2)
    model = DeepKernelMachine(depth=1, nu=5.0, tol=1e-4, max_iter=100).fit(X, Y)
    assert model.predict(X[:3]).shape == (3, 2)


def test_sparse(rng):
    X, Y = data(rng, P=40)
    model = DeepKernelMachine(depth=1, nu=2.0, n_inducing=10, tol=1e-4, max_iter=100).fit(X, Y[:, 0])
    mean, std = model.predict(X[:3], return_std=True)
    assert model.inducing_points_.shape == (10, 3) and model.grams_[0].shape == (10, 10)
    assert np.all(np.isfinite(mean)) and np.all(std > 0)


def test_nngp_and_gp_limits(rng):
    X, Y = data(rng, P=20)
    gp = DeepKernelMachine(depth=0, learn_kernel=False, learn_noise=False).fit(X, Y[:, 0])
    direct = dkm_objective(input_gram(X), [], Y, [SquaredExponential()], [], 0.1, 1e-6)
    assert gp.objective_ == pytest.approx(direct, rel=1e-12, abs=0)
    nngp = DeepKernelMachine(depth=2, nu=math.inf, learn_kernel=False, learn_noise=False).fit(X, Y[:, 0])
    for g, e in zip(nngp.grams_, nngp_grams(input_gram(X), [SquaredExponential()] * 3, 2, 1e-6)):
        assert_close(g, e)


def test_score_of_constant_target_is_finite(rng):
    X, _ = data(rng, P=15)
    y = np.full(15, 2.5)
    model = DeepKernelMachine(depth=1, nu=2.0, max_iter=50).fit(X, y)
    assert np.isfinite(model.score(X, y))


@pytest.mark.parametrize(
    "kwargs, X, y, match",
    [
        ({}, [[np.nan, 1.0]] * 3, [1.0, 2.0, 3.0], "NaN"),
        ({}, [[0.0, 1.0]] * 3, [1.0, np.inf, 3.0], "infinity"),
        ({}, [[0.0, 1.0]] * 3, [1.0, 2.0], "inconsistent numbers of samples"),
        ({"depth": -1}, [[0.0, 1.0]] * 3, [1.0, 2.0, 3.0], "'depth' parameter"),
        ({"nu": 0.0}, [[0.0, 1.0]] * 3, [1.0, 2.0, 3.0], "'nu' parameter"),
        ({"nu": 1e300}, [[0.0, 1.0]] * 3, [1.0, 2.0, 3.0], "'nu' parameter"),
        ({"nu": [1.0, 1e300]}, [[0.0, 1.0]] * 3, [1.0, 2.0, 3.0], r"nu\[1\] must lie in"),
        ({"nu": [1.0]}, [[0.0, 1.0]] * 3, [1.0, 2.0, 3.0], "depth=2"),
        ({"max_iter": 0}, [[0.0, 1.0]] * 3, [1.0, 2.0, 3.0], "'max_iter' parameter"),
        ({"n_inducing": 4}, [[0.0, 1.0]] * 3, [1.0, 2.0, 3.0], "n_inducing must be at most"),
        ({"method": "adam"}, [[0.0, 1.0]] * 3, [1.0, 2.0, 3.0], "'method' parameter"),
        ({}, [[1e300, 1.0]] * 3, [1.0, 2.0, 3.0], "X is too large.*overflows"),
        ({}, [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [1e300, 2.0, 3.0], "y is too large.*overflows"),
    ],
)
def test_bad_input(kwargs, X, y, match):
    with pytest.raises(ValueError, match=match):
        DeepKernelMachine(**kwargs).fit(np.array(X), np.array(y))


def test_huge_depth_fails_before_any_work():
    X, y = np.random.default_rng(0).normal(size=(12, 2)), np.arange(12.0)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="'depth' parameter"):
        DeepKernelMachine(depth=10**6, max_iter=2).fit(X, y)
    assert time.perf_counter() - start < 1.0
