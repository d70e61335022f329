"""Each heavy path runs on a namespace whose arrays refuse implicit conversion to NumPy (as CuPy's do).

``strict_no_host`` (tests/conftest.py) makes array-api-strict raise on ``np.asarray(array)``; a stray host
round trip in any of these paths therefore fails here, on a CPU machine, before it fails on a GPU.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from kernels.backend import to_numpy


@pytest.fixture
def data():
    return np.random.default_rng(3).standard_normal((12, 4))


def test_fc_kernel(strict_no_host, data):
    from kernels import fc_kernel

    xs = strict_no_host
    direct = fc_kernel(xs.asarray(data), depth=5, activation="erf", W_std=1.3, b_std=0.2)
    reference = fc_kernel(data, depth=5, activation="erf", W_std=1.3, b_std=0.2)
    np.testing.assert_allclose(to_numpy(direct.ntk), reference.ntk, rtol=1e-12)


def test_depth_table(strict_no_host):
    from kernels import tabulate_depth

    xs = strict_no_host
    xi = np.linspace(-0.99, 0.99, 17)
    table = tabulate_depth("relu", 500)
    sigma, ntk = table(xs.asarray(xi))
    sigma_np, ntk_np = table(xi)
    np.testing.assert_allclose(to_numpy(ntk), ntk_np, rtol=1e-12)


def test_dkm_objective_and_gradient(strict_no_host, data):
    from kernels.dkm import dkm_objective_and_grad, input_gram, make_kernel, nngp_grams

    xs = strict_no_host
    kernels = [make_kernel("se"), make_kernel("se")]
    y = np.sin(data[:, 0])[:, None]

    def run(xp):
        G0 = input_gram(xp.asarray(data))
        grams = nngp_grams(G0, kernels, depth=1, jitter=1e-6)
        value, grad = dkm_objective_and_grad(G0, grams, xp.asarray(y), kernels, [1.0], 0.1)
        return value, to_numpy(grad.grams[0])

    (v_strict, g_strict), (v_np, g_np) = run(xs), run(np)
    assert math.isclose(v_strict, v_np, rel_tol=1e-12)
    np.testing.assert_allclose(g_strict, g_np, rtol=1e-10, atol=1e-14)


def test_batched_nb_and_lr_fits(strict_no_host):
    from theory.nb_lr import fit_logistic, fit_shared_variance_nb
    from theory.nb_lr.simulation import training_sample

    xs = strict_no_host
    samples = [training_sample(3, 10, 40, rng=seed) for seed in range(2)]
    X, y = np.stack([s[0] for s in samples]), np.stack([s[1] for s in samples])
    nb = fit_shared_variance_nb(xs.asarray(X), xs.asarray(y), 3)
    lr = fit_logistic(xs.asarray(X), xs.asarray(y), 3, C=1.0)
    lr_np = fit_logistic(X, y, 3, C=1.0)
    np.testing.assert_allclose(to_numpy(lr.coef), lr_np.coef, rtol=1e-6, atol=1e-8)
    assert to_numpy(nb.means).shape == (2, 3, 10)


def test_kl_inverse_and_bounds(strict_no_host):
    import theory

    xs = strict_no_host
    q = np.array([0.0, 0.1, 0.5, 0.9])
    c = np.array([0.01, 0.1, 1.0, 3.0])
    np.testing.assert_array_equal(to_numpy(theory.kl_inverse(xs.asarray(q), xs.asarray(c))), theory.kl_inverse(q, c))
    errors = np.array([0.0, 3.0, 28.0])
    np.testing.assert_array_equal(to_numpy(theory.binomial_test_set_bound(xs.asarray(errors), 1000, 0.05)),
                                  theory.binomial_test_set_bound(errors, 1000, 0.05))


def test_generalised_chi2_cdf_from_device_weights(strict_no_host):
    from theory import GeneralizedChi2

    xs = strict_no_host
    weights = np.array([2.0, 0.7, 0.05])
    on_device = GeneralizedChi2(xs.asarray(weights))
    assert on_device.cdf(0.3) == GeneralizedChi2(weights).cdf(0.3)
