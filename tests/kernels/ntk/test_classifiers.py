"""Deep interpolating kernel classifiers and their infinite-depth limits."""

from __future__ import annotations

import numpy as np
import pytest

from kernels.backend import to_numpy
from kernels.ntk.baselines import (
    agreement,
    hilbert_kernel_predict,
    majority_vote_predict,
    one_nn_predict,
    sample_dirichlet_sphere,
)
from kernels.ntk.classifiers import (
    cosines,
    deep_kernel_predict,
    infinite_depth_predict,
    kernel_interpolation_predict,
    limit_name,
    normalized_kernel,
)
from kernels.ntk.duals import nngp_ntk, tabulate_depth
from tests.helpers import assert_close


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
    x, y = sample_dirichlet_sphere(60, 3, seed=5)
    gram = normalized_kernel(x, dual="relu", depth=3)
    pred = kernel_interpolation_predict(xp.asarray(gram), xp.asarray(y), xp.asarray(gram))
    assert to_numpy(pred).tolist() == y.tolist()
    with pytest.raises(ValueError, match="square"):
        kernel_interpolation_predict(xp.asarray(gram[:, :5]), xp.asarray(y), xp.asarray(gram))


def test_deep_classifier_on_backends(xp):
    x_tr, y_tr = sample_dirichlet_sphere(50, 3, seed=8)
    x_te, _ = sample_dirichlet_sphere(30, 3, seed=9)
    ref = deep_kernel_predict(x_tr, y_tr, x_te, dual="3d_opt", depth=20, kernel="nngp")
    got = deep_kernel_predict(xp.asarray(x_tr), xp.asarray(y_tr), xp.asarray(x_te), dual="3d_opt", depth=20, kernel="nngp")
    assert to_numpy(got).tolist() == to_numpy(ref).tolist()
    got = deep_kernel_predict(xp.asarray(x_tr), xp.asarray(y_tr), xp.asarray(x_te), dual="hermite_2", depth=30)
    assert to_numpy(got).tolist() == to_numpy(one_nn_predict(x_tr, y_tr, x_te)).tolist()


def test_one_nn_regime_in_log_domain():
    """xi^2 at depth 60: every off-diagonal kernel underflows, the log-domain rule is exactly 1-NN."""
    x_tr, y_tr = sample_dirichlet_sphere(200, 5, seed=2)
    x_te, _ = sample_dirichlet_sphere(200, 5, seed=3)
    assert np.all(tabulate_depth("hermite_2", 60)(np.array([0.999]))[0] == 0.0)
    pred = deep_kernel_predict(x_tr, y_tr, x_te, dual="hermite_2", depth=60, kernel="ntk")
    assert agreement(pred, one_nn_predict(x_tr, y_tr, x_te)) == 1.0


def test_limits_by_regime():
    x_tr, y_tr = sample_dirichlet_sphere(100, 2, seed=11, n_positive=40)
    x_te, _ = sample_dirichlet_sphere(200, 2, seed=12)
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
    x_tr, y_tr = sample_dirichlet_sphere(100, 2, seed=1001, n_positive=40)
    x_te, _ = sample_dirichlet_sphere(500, 2, seed=2001)
    majority, nn = majority_vote_predict(y_tr, 500), one_nn_predict(x_tr, y_tr, x_te)
    shallow = deep_kernel_predict(x_tr, y_tr, x_te, dual="relu", depth=10)
    deep = deep_kernel_predict(x_tr, y_tr, x_te, dual="relu", depth=200_000)
    assert agreement(shallow, nn) == 1.0
    assert agreement(deep, majority) >= 0.97 > agreement(shallow, majority)


def test_ntk_requires_derivative():
    x, y = sample_dirichlet_sphere(10, 2, seed=0)
    with pytest.raises(ValueError, match="derivative"):
        deep_kernel_predict(x, y, x, dual=lambda c: c**3, depth=2, kernel="ntk")
