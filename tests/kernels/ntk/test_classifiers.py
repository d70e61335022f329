"""Tests for kernels/ntk/classifiers.py: deep interpolating kernel classifiers, their limits, the baseline rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels.backend import to_numpy
from kernels.ntk.classifiers import (
    cosines,
    deep_kernel_predict,
    half_squared_distances,
    hilbert_kernel_predict,
    infinite_depth_predict,
    kernel_interpolation_predict,
    limit_name,
    majority_vote_predict,
    normalized_kernel,
    one_nn_predict,
    singular_kernel_predict,
)
from kernels.ntk.depth import log_nngp_ntk, nngp_ntk, tabulate_depth
from tests.helpers import assert_close
from theory.ntk.data import sample_dirichlet_sphere
from theory.ntk.metrics import agreement


def test_cosines_unit_diagonal_and_clipped(xp, rng):
    x = xp.asarray(rng.standard_normal((9, 4)) * 1e3)
    c = cosines(x)
    assert np.all(np.diagonal(to_numpy(c)) == 1.0)
    assert float(xp.max(xp.abs(c))) <= 1.0


def test_normalized_kernel_matches_recursion(xp, rng):
    x = rng.standard_normal((12, 3))
    got = normalized_kernel(xp.asarray(x), dual="relu", depth=7, kernel="ntk")
    c = to_numpy(cosines(x))
    assert_close(got, xp.asarray(nngp_ntk(c, "relu", 7)[1]), xp=xp, rtol=1e-12)
    got = normalized_kernel(xp.asarray(x), xp.asarray(x[:5]), dual="3d_opt", depth=4, kernel="nngp")
    assert got.shape == (12, 5)


def test_kernel_interpolation_reproduces_training_labels(xp):
    x, y = sample_dirichlet_sphere(60, 3, rng=5)
    gram = normalized_kernel(x, dual="relu", depth=3)
    pred = kernel_interpolation_predict(xp.asarray(gram), xp.asarray(y), xp.asarray(gram))
    assert to_numpy(pred).tolist() == y.tolist()
    with pytest.raises(ValueError, match="square"):
        kernel_interpolation_predict(xp.asarray(gram[:, :5]), xp.asarray(y), xp.asarray(gram))


def test_deep_classifier_on_backends(xp):
    x_tr, y_tr = sample_dirichlet_sphere(50, 3, rng=8)
    x_te, _ = sample_dirichlet_sphere(30, 3, rng=9)
    ref = deep_kernel_predict(x_tr, y_tr, x_te, dual="3d_opt", depth=20, kernel="nngp")
    got = deep_kernel_predict(xp.asarray(x_tr), xp.asarray(y_tr), xp.asarray(x_te), dual="3d_opt", depth=20, kernel="nngp")
    assert to_numpy(got).tolist() == to_numpy(ref).tolist()
    got = deep_kernel_predict(xp.asarray(x_tr), xp.asarray(y_tr), xp.asarray(x_te), dual="hermite_2", depth=30)
    assert to_numpy(got).tolist() == to_numpy(one_nn_predict(x_tr, y_tr, x_te)).tolist()


def test_one_nn_regime_in_log_domain():
    """xi^2 at depth 60: every off-diagonal kernel underflows, the log-domain rule is exactly 1-NN."""
    x_tr, y_tr = sample_dirichlet_sphere(200, 5, rng=2)
    x_te, _ = sample_dirichlet_sphere(200, 5, rng=3)
    assert np.all(tabulate_depth("hermite_2", 60)(np.array([0.999]))[0] == 0.0)
    pred = deep_kernel_predict(x_tr, y_tr, x_te, dual="hermite_2", depth=60, kernel="ntk")
    assert agreement(pred, one_nn_predict(x_tr, y_tr, x_te)) == 1.0


def test_singular_regime_where_the_kernel_underflows():
    """9d_opt at depth 300 (phĭ'(0)^L = 16^-300): every off-diagonal kernel value underflows float64; the
    rule comes from the log values and equals sign(sum_i y_i K^L(x, x_i)) from the direct log recursion."""
    x_tr, y_tr = sample_dirichlet_sphere(150, 9, rng=4)
    x_te, _ = sample_dirichlet_sphere(150, 9, rng=5)
    table = tabulate_depth("9d_opt", 300)
    gram_train = table(cosines(x_tr), normalized=True)[0]
    assert np.all(gram_train[~np.eye(150, dtype=bool)] == 0.0) and np.all(table(cosines(x_te, x_tr))[0] == 0.0)
    log_k = log_nngp_ntk(cosines(x_te, x_tr), "9d_opt", 300)[0]
    weights = np.exp(log_k - log_k.max(axis=1, keepdims=True))
    reference = np.where(weights @ y_tr >= 0, 1.0, -1.0)
    pred = deep_kernel_predict(x_tr, y_tr, x_te, dual="9d_opt", depth=300, kernel="nngp")
    assert pred.tolist() == reference.tolist()
    assert len(set(pred.tolist())) == 2  # not the all-ties answer of an all-zero test kernel


def test_duplicate_training_point_gives_the_minimum_norm_interpolant():
    """A repeated training point (same label) makes the Gram singular; the rule then equals the one on the
    distinct points, as the minimum-norm interpolant does (a plain solve returns noise there)."""
    x_tr, y_tr = sample_dirichlet_sphere(30, 3, rng=8)
    x_te, _ = sample_dirichlet_sphere(200, 3, rng=9)
    x_dup, y_dup = np.vstack([x_tr, x_tr[:5]]), np.concatenate([y_tr, y_tr[:5]])
    unique = deep_kernel_predict(x_tr, y_tr, x_te, dual="relu", depth=2, kernel="ntk")
    repeated = deep_kernel_predict(x_dup, y_dup, x_te, dual="relu", depth=2, kernel="ntk")
    assert repeated.tolist() == unique.tolist()


def test_limits_by_regime():
    x_tr, y_tr = sample_dirichlet_sphere(100, 2, rng=11, n_positive=40)
    x_te, _ = sample_dirichlet_sphere(200, 2, rng=12)
    assert infinite_depth_predict(x_tr, y_tr, x_te, dual="relu").tolist() == majority_vote_predict(y_tr, 200).tolist()
    assert infinite_depth_predict(x_tr, y_tr, x_te, dual="hermite_3").tolist() == one_nn_predict(x_tr, y_tr, x_te).tolist()
    assert (
        infinite_depth_predict(x_tr, y_tr, x_te, dual="2d_opt").tolist()
        == hilbert_kernel_predict(x_tr, y_tr, x_te).tolist()
    )  # beta = 1/2 = (d - 1)/2 on S^1
    assert limit_name("relu") == "majority vote" and limit_name("hermite_2") == "1-NN"
    assert limit_name("3d_opt").startswith("singular kernel, beta = 1")
    with pytest.raises(ValueError, match="linear"):
        infinite_depth_predict(x_tr, y_tr, x_te, dual="hermite_1")


def test_relu_ntk_tends_to_majority_vote_with_depth():
    x_tr, y_tr = sample_dirichlet_sphere(100, 2, rng=1001, n_positive=40)
    x_te, _ = sample_dirichlet_sphere(500, 2, rng=2001)
    majority, nn = majority_vote_predict(y_tr, 500), one_nn_predict(x_tr, y_tr, x_te)
    shallow = deep_kernel_predict(x_tr, y_tr, x_te, dual="relu", depth=10)
    deep = deep_kernel_predict(x_tr, y_tr, x_te, dual="relu", depth=200_000)
    assert agreement(shallow, nn) == 1.0
    assert agreement(deep, majority) >= 0.97 > agreement(shallow, majority)


def test_ntk_requires_derivative():
    x, y = sample_dirichlet_sphere(10, 2, rng=0)
    with pytest.raises(ValueError, match="derivative"):
        deep_kernel_predict(x, y, x, dual=lambda c: c**3, depth=2, kernel="ntk")


def test_majority_vote(xp):
    y = xp.asarray([1.0, -1.0, -1.0])
    assert to_numpy(majority_vote_predict(y, 4)).tolist() == [-1.0] * 4
    assert to_numpy(majority_vote_predict(xp.asarray([1.0, -1.0]), 2)).tolist() == [1.0, 1.0]  # tie: +1
    with pytest.raises(ValueError, match="labels"):
        majority_vote_predict(xp.asarray([1.0, 0.0]), 2)


def test_one_nn_matches_brute_force(xp, rng):
    x_tr = rng.standard_normal((30, 4))
    x_te = rng.standard_normal((20, 4))
    y_tr = np.where(rng.random(30) < 0.5, 1.0, -1.0)
    got = to_numpy(one_nn_predict(xp.asarray(x_tr), xp.asarray(y_tr), xp.asarray(x_te)))
    u_tr = x_tr / np.linalg.norm(x_tr, axis=1, keepdims=True)
    u_te = x_te / np.linalg.norm(x_te, axis=1, keepdims=True)
    want = [y_tr[np.argmin(np.linalg.norm(u_tr - u, axis=1))] for u in u_te]
    assert got.tolist() == want


def test_singular_kernel_matches_direct_sum(xp, rng):
    x_tr, y_tr = sample_dirichlet_sphere(40, 3, rng=3)
    x_te, _ = sample_dirichlet_sphere(25, 3, rng=4)
    for beta in (0.5, 1.0, 4.0):
        got = to_numpy(singular_kernel_predict(xp.asarray(x_tr), xp.asarray(y_tr), xp.asarray(x_te), beta))
        gap = 1.0 - x_te @ x_tr.T
        want = np.where((gap ** (-beta)) @ y_tr >= 0, 1.0, -1.0)
        assert got.tolist() == want.tolist()
    hilbert = to_numpy(hilbert_kernel_predict(xp.asarray(x_tr), xp.asarray(y_tr), xp.asarray(x_te)))
    dist = np.linalg.norm(x_te[:, None, :] - x_tr[None, :, :], axis=2)
    assert hilbert.tolist() == np.where((dist ** (-2.0)) @ y_tr >= 0, 1.0, -1.0).tolist()


def test_singular_kernel_log_domain_and_exact_ties():
    # weights (1 - xi)^(-beta) overflow for beta = 200: the log-domain rule still picks the closest point
    x_tr = np.array([[1.0, 0.0], [math.cos(0.01), math.sin(0.01)], [math.cos(0.02), math.sin(0.02)]])
    y_tr = np.array([-1.0, 1.0, -1.0])
    x_te = np.array([[math.cos(0.011), math.sin(0.011)], [1.0, 0.0]])
    pred = singular_kernel_predict(x_tr, y_tr, x_te, beta=200.0)
    assert pred.tolist() == [1.0, -1.0]  # the second test point coincides with a training point


@given(st.integers(0, 2**32 - 1))
def test_half_squared_distance_is_one_minus_cosine(seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((7, 3))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = a + 1e-9 * rng.standard_normal((7, 3))
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    got = half_squared_distances(a, b)
    want = np.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=2) / 2
    np.testing.assert_allclose(got, want, rtol=1e-14)
