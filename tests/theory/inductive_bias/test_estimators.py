"""GP-posterior hypothesis space, the ncx2 estimator, the exact pipeline, MLP training, tasks."""

import math

import numpy as np
import pytest
import scipy.stats
from array_api_compat import array_namespace

from kernels.backend import namespace_of, to_numpy
from tests.helpers import assert_close
from theory.inductive_bias.gen_chi2 import BelowMinimumWarning
from theory.inductive_bias.gp_hypotheses import (
    RBFKernel,
    fc_kernel_fn,
    gp_posterior,
    loss_distribution,
    rbf_kernel,
    sample_functions,
    sample_losses,
    test_loss,
)
from theory.inductive_bias.tasks import digits_task, synthetic_classification, synthetic_regression
from theory.inductive_bias.estimators import (
    NCX2Estimate,
    NCX2InductiveBias,
    exact_inductive_bias,
    fit_ncx2,
    ncx2_inductive_bias,
    sankaran_log_cdf,
)
from theory.inductive_bias.nn_hypotheses import _gradients, init_mlps, mlp_forward, train_mlps


@pytest.fixture(scope="module")
def small_task():
    return synthetic_classification(8, n_train=30, n_test=6, n_classes=3, rng=1)


def _on(xp, *arrays):
    return [xp.asarray(a) for a in arrays]


def test_posterior_matches_direct_solve(xp, small_task):
    t = small_task
    post = gp_posterior(*_on(xp, t.x_train, t.y_train, t.x_test), jitter=0.0)
    assert array_namespace(post.mean) is xp
    k = rbf_kernel(t.x_train, t.x_train)
    ks = rbf_kernel(t.x_train, t.x_test)
    mean = ks.T @ np.linalg.solve(k, t.y_train)
    cov = rbf_kernel(t.x_test, t.x_test) - ks.T @ np.linalg.solve(k, ks)
    assert_close(post.mean, xp.asarray(mean), rtol=1e-8, atol=1e-10, xp=xp)
    assert_close(post.covariance, xp.asarray(cov), rtol=1e-8, atol=1e-12, xp=xp)
    factor = to_numpy(post.factor)
    np.testing.assert_allclose(factor @ factor.T, cov, atol=1e-12)


def test_sampler_is_exact_mean_and_covariance(xp, small_task):
    t = small_task
    post = gp_posterior(*_on(xp, t.x_train, t.y_train, t.x_test))
    n = 20_000
    f = to_numpy(sample_functions(post, n, rng=3))
    assert f.shape == (n, 6, 3)
    mean, cov = to_numpy(post.mean), to_numpy(post.covariance)
    sd = np.sqrt(np.diag(cov))
    # every output column is an independent draw with the same covariance
    assert np.all(np.abs(f.mean(axis=0) - mean) <= 5 * sd[:, None] / math.sqrt(n))
    for c in range(3):
        emp = np.cov(f[:, :, c], rowvar=False)
        se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
        assert np.all(np.abs(emp - cov) <= 5 * se + 1e-15)
    cross = np.mean((f[:, :, 0] - mean[:, 0]) * (f[:, :, 1] - mean[:, 1]), axis=0)
    assert np.all(np.abs(cross) <= 5 * sd**2 / math.sqrt(n) + 1e-15)


def test_rotated_losses_equal_losses_of_sampled_functions(xp, small_task):
    t = small_task
    post = gp_posterior(*_on(xp, t.x_train, t.y_train, t.x_test))
    y_test = xp.asarray(t.y_test)
    direct = test_loss(sample_functions(post, 500, rng=11), y_test)
    rotated = sample_losses(post, y_test, 500, rng=11, batch_size=500)
    assert_close(rotated, direct, rtol=1e-10, xp=xp)


def test_loss_distribution_matches_sampled_losses(small_task):
    t = small_task
    post = gp_posterior(t.x_train, t.y_train, t.x_test)
    dist = loss_distribution(post, t.y_test)
    losses = sample_losses(post, t.y_test, 400_000, rng=2)
    assert abs(losses.mean() - dist.mean) <= 5 * math.sqrt(dist.variance / losses.size)
    for q in (0.01, 0.3, 0.7):
        eps = float(np.quantile(losses, q))
        exact = dist.cdf(eps)
        assert abs(exact - q) <= 5 * math.sqrt(q * (1 - q) / losses.size)


def test_non_psd_kernel_and_shapes_are_rejected(small_task):
    t = small_task
    with pytest.raises(ValueError, match="positive definite"):
        gp_posterior(t.x_train, t.y_train, t.x_test, kernel=lambda a, b: -rbf_kernel(a, b))

    def indefinite_on_test(a, b):  # PD on the training inputs, negative variance at the test inputs
        k = rbf_kernel(a, b)
        return -k if a.shape[0] == b.shape[0] == t.x_test.shape[0] else k

    with pytest.raises(ValueError, match="positive semi-definite"):
        gp_posterior(t.x_train, t.y_train, t.x_test, kernel=indefinite_on_test)
    with pytest.raises(ValueError, match="symmetric"):
        gp_posterior(t.x_train, t.y_train, t.x_test, kernel=lambda a, b: rbf_kernel(a, b) + (a @ b.T) * a[:, :1])
    with pytest.raises(ValueError, match="same number of features"):
        gp_posterior(t.x_train, t.y_train, t.x_test[:, :3])
    with pytest.raises(ValueError, match="same number of rows"):
        gp_posterior(t.x_train, t.y_train[:-1], t.x_test)
    with pytest.raises(ValueError, match="finite"):
        gp_posterior(np.full_like(t.x_train, np.nan), t.y_train, t.x_test)
    post = gp_posterior(t.x_train, t.y_train, t.x_test)
    with pytest.raises(ValueError, match="y_test must have shape"):
        loss_distribution(post, t.y_test[:, :2])
    with pytest.raises(ValueError, match="lengthscale"):
        RBFKernel(lengthscale=0.0)


def test_fc_kernel_fn_adapter(small_task):
    from kernels.ntk.fc import fc_kernel

    t = small_task
    kernel = fc_kernel_fn(depth=2, kind="ntk")
    np.testing.assert_allclose(kernel(t.x_train, t.x_test), fc_kernel(t.x_train, t.x_test, depth=2, activation="relu").ntk, rtol=1e-15)
    post = gp_posterior(t.x_train, t.y_train, t.x_test, kernel=kernel)
    assert np.all(to_numpy(post.eigenvalues) >= 0)
    with pytest.raises(ValueError, match="kind"):
        fc_kernel_fn(depth=2, kind="cntk")


def test_exact_pipeline_and_infinite_bias(small_task):
    t = small_task
    result = exact_inductive_bias(t.x_train, t.y_train, t.x_test, t.y_test, eps=0.5 * 1.0)
    assert result.attainable and result.bits >= 0
    assert result.bits == pytest.approx(-math.log2(result.distribution.cdf(0.5)))
    with pytest.raises(ValueError, match="eps"):
        exact_inductive_bias(t.x_train, t.y_train, t.x_test, t.y_test, eps=0.0)
    # Test points on training points with flipped labels: each of the 3 outputs is off by 1 everywhere.
    flipped = 1.0 - t.y_train[:4]
    with pytest.warns(BelowMinimumWarning, match="infinite"):
        below = exact_inductive_bias(t.x_train, t.y_train, t.x_train[:4], flipped, eps=1.0)
    assert below.bits == math.inf and below.method == "below_minimum" and not below.attainable
    assert below.min_loss == pytest.approx(3.0, rel=1e-6, abs=0)


def test_ncx2_estimator_recovers_a_true_ncx2():
    df, nc, scale = 6.0, 3.0, 0.2
    losses = scipy.stats.ncx2.rvs(df, nc, scale=scale, size=5000, random_state=np.random.default_rng(4))
    eps = float(scipy.stats.ncx2.ppf(0.01, df, nc, scale=scale))
    truth = -math.log2(0.01)
    estimate = ncx2_inductive_bias(losses, eps)
    assert isinstance(estimate, NCX2Estimate) and estimate.method == "logcdf"
    assert estimate.bits == pytest.approx(truth, abs=0.5) and estimate.nats == pytest.approx(estimate.bits * math.log(2))
    assert (estimate.fit.df, estimate.fit.nc) == pytest.approx((df, nc), rel=0.3, abs=0)
    est = NCX2InductiveBias().fit(losses[:, None])
    assert est.bits(eps) == pytest.approx(estimate.bits)
    assert est.get_params() == {"tail": "log_ndtr"}


def test_sankaran_tail():
    # Sankaran's approximation is good for many degrees of freedom (the loss distributions here have
    # df ~ 100), and degrades far in the lower tail for few: measured, not assumed.
    for df, nc, q, rel in ((100.0, 20.0, 1e-2, 0.002), (100.0, 20.0, 1e-9, 0.02), (100.0, 20.0, 1e-15, 0.04),
                           (8.0, 5.0, 1e-2, 0.03)):
        x = float(scipy.stats.ncx2.ppf(q, df, nc, scale=2.0))
        assert sankaran_log_cdf(x, df, nc, 2.0) == pytest.approx(math.log(q), rel=rel, abs=0)
    df, nc, scale = 100.0, 20.0, 1.0
    # where scipy's logcdf underflows the estimator switches to Sankaran and stays finite
    fit = fit_ncx2(scipy.stats.ncx2.rvs(df, nc, scale=scale, size=2000, random_state=np.random.default_rng(0)))
    log_p, method = fit.log_cdf(1e-30 * fit.scale)
    assert method == "sankaran" and math.isfinite(log_p) and log_p < -100
    assert sankaran_log_cdf(1e-3, df, nc, scale, tail="paper") < 0
    with pytest.raises(ValueError, match="tail"):
        sankaran_log_cdf(1.0, df, nc, scale, tail="exact")
    with pytest.raises(ValueError, match="losses"):
        fit_ncx2([1.0, -1.0, 2.0])
    with pytest.raises(ValueError, match="eps"):
        ncx2_inductive_bias([1.0, 2.0, 3.0], -1.0)


def test_mlp_gradients_match_finite_differences():
    xp = namespace_of("numpy")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((7, 3)), rng.standard_normal((7, 2))
    nets = init_mlps(2, 3, 2, width=5, depth=2, rng=1, xp=xp)
    _, gw, gb = _gradients(nets, x, y)
    h = 1e-6
    for params, grads in ((nets.weights, gw), (nets.biases, gb)):
        for layer in range(3):
            flat = params[layer].reshape(-1)
            for i in rng.choice(flat.size, size=4, replace=False):
                old = flat[i]
                flat[i] = old + h
                up = _gradients(nets, x, y)[0]
                flat[i] = old - h
                down = _gradients(nets, x, y)[0]
                flat[i] = old
                net = np.unravel_index(i, params[layer].shape)[0]
                numeric = (up - down)[net] / (2 * h)
                assert grads[layer].reshape(-1)[i] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_mlp_training_reduces_loss(xp):
    t = synthetic_classification(4, n_train=20, n_test=10, rng=3)
    x, y = _on(xp, t.x_train, t.y_train)
    nets = init_mlps(3, 4, 2, width=16, depth=2, rng=0, xp=xp)
    before = to_numpy(test_loss(mlp_forward(nets, x), y))
    trained = train_mlps(x, y, lr=1e-2, max_epochs=300, target_loss=1e-4, nets=nets)
    assert array_namespace(trained.weights[0]) is xp
    assert np.all(trained.train_losses < before / 50)
    gd = train_mlps(x, y, n_networks=2, width=16, optimizer="gd", lr=0.05, max_epochs=200, rng=0)
    assert gd.train_losses.shape == (2,) and np.all(np.isfinite(gd.train_losses))
    with pytest.raises(ValueError, match="optimizer"):
        train_mlps(x, y, optimizer="sgd")


def test_tasks():
    t = synthetic_classification(5, n_train=40, n_test=30, n_classes=3, rng=0)
    assert t.x_train.shape == (40, 5) and t.y_test.shape == (30, 3) and t.input_dim == 5
    np.testing.assert_array_equal(t.y_train.sum(axis=1), 1.0)
    r = synthetic_regression(3, n_train=10, n_test=5, rng=0)
    assert r.y_train.shape == (10, 1) and r.n_outputs == 1
    d = digits_task(n_train=100, n_test=50, rng=0)
    assert d.x_train.shape == (100, 64) and d.y_train.shape == (100, 10)
    np.testing.assert_allclose(np.linalg.norm(d.x_train, axis=1), 1.0)
    np.testing.assert_array_equal(d.y_train.sum(axis=0), 10.0)  # stratified: 10 of each digit
    again = synthetic_classification(5, n_train=40, n_test=30, n_classes=3, rng=0)
    np.testing.assert_array_equal(again.x_train, t.x_train)  # same seed, same task
    # the same integer gives the same task as before the switch from seed= to rng=
    np.testing.assert_array_equal(synthetic_classification(5, n_train=40, n_test=30, n_classes=3,
                                                           rng=np.random.default_rng(0)).x_train, t.x_train)
    with pytest.raises(ValueError, match="n_train"):
        digits_task(n_train=2000, n_test=10)


def test_log_space_ncx2_density_matches_scipy_and_survives_large_df():
    from theory.inductive_bias.estimators import ncx2_logpdf

    for df, nc, scale in ((5.0, 3.0, 1.0), (5.0, 300.0, 2.0), (40.0, 0.0, 0.5)):
        x = scipy.stats.ncx2.rvs(df, nc, scale=scale, size=50, random_state=np.random.default_rng(1))
        np.testing.assert_allclose(ncx2_logpdf(x, df, nc, scale), scipy.stats.ncx2.logpdf(x, df, nc, scale=scale),
                                   rtol=1e-10, atol=1e-10)
    # df ~ 1000 (many test points): scipy's logpdf underflows to -inf at points in the bulk, ours does not
    x = scipy.stats.chi2.rvs(1000, size=200, random_state=np.random.default_rng(2)) * 6e-4
    assert np.all(np.isfinite(ncx2_logpdf(x, 1000.0, 1e-3, 6e-4)))
    fit = fit_ncx2(x)
    assert fit.df * fit.scale + fit.nc * fit.scale == pytest.approx(x.mean(), rel=1e-3, abs=0)
    both = fit_ncx2(x, optimizer="both")  # the better of scipy's fit and ours: never a worse likelihood
    nll = lambda f: -float(np.sum(ncx2_logpdf(x, f.df, f.nc, f.scale)))  # noqa: E731
    assert nll(both) <= nll(fit) + 1e-9
    with pytest.raises(ValueError, match="optimizer"):
        fit_ncx2(x, optimizer="bfgs")
