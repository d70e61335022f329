"""Oracle tests: fc_kernel and the MSE dynamics against neural-tangents 0.6.5 (float64, un-jitted).

The un-jitted ``kernel_fn`` is the reference (its diagonal is exact; under ``jax.jit`` it is off by
~4e-7 there at depth 100).  Each network's ``kernel_fn`` runs once, on the stacked inputs ``[x1; x2]``:
its cross block is ``k(x1, x2)`` and its leading block the Gram ``k(x1, x1)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels.ntk import activations as A
from kernels.ntk.dynamics import gradient_descent_mse_ensemble
from kernels.ntk.fc import fc_kernel

pytestmark = pytest.mark.oracle

N1, N2, D = 6, 4, 5


@pytest.fixture(scope="module")
def nt():
    import jax

    jax.config.update("jax_enable_x64", True)
    from neural_tangents import predict, stax

    return stax, predict


def _inputs(unit_variance=False):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(N1 + N2, D))
    x[N1:] *= 1.7
    if unit_variance:  # |x|^2 / d = 1: the regime where neural-tangents' Hermite dual is exact
        x *= np.sqrt(D) / np.linalg.norm(x, axis=1, keepdims=True)
    return x


# (ours, neural-tangents layer factory, [(depth, W_std, b_std), ...], unit-variance inputs)
CASES = [
    ("relu", A.Relu(), lambda s: s.Relu(), [(1, 1.3, 0.0), (20, 1.4, 0.0), (7, 1.2, 0.3)], False),
    ("leaky_relu", A.LeakyRelu(0.2), lambda s: s.LeakyRelu(0.2), [(4, 1.5, 0.0), (12, 1.1, 0.2)], False),
    ("abs", A.Abs(), lambda s: s.Abs(), [(2, 0.9, 0.0), (15, 1.0, 0.1)], False),
    ("ab_relu", A.ABRelu(-0.3, 0.8), lambda s: s.ABRelu(-0.3, 0.8), [(9, 1.6, 0.0), (3, 1.2, 0.5)], False),
    ("erf", A.Erf(1.2, 0.8, 0.3), lambda s: s.Erf(1.2, 0.8, 0.3), [(1, 1.3, 0.1), (20, 1.0, 0.2)], False),
    ("sign", A.Sign(), lambda s: s.Sign(), [(1, 1.0, 0.0), (6, 1.4, 0.2)], False),
    ("gelu", A.Gelu(), lambda s: s.Gelu(), [(3, 1.3, 0.1), (14, 1.1, 0.0)], False),
    ("sin", A.Sin(1.1, 0.9, 0.4), lambda s: s.Sin(1.1, 0.9, 0.4), [(2, 1.2, 0.3), (11, 1.0, 0.0)], False),
    ("cos", A.Cos(1.1, 0.9, 0.4), lambda s: s.Cos(1.1, 0.9, 0.4), [(5, 1.3, 0.2)], False),
    ("rbf", A.Rbf(0.7), lambda s: s.Rbf(0.7), [(1, 1.0, 0.0), (8, 1.5, 0.4)], False),
    ("hermite", A.Hermite(3), lambda s: s.Hermite(3), [(1, 1.0, 0.0), (10, 1.0, 0.0)], True),
    ("polynomial", A.Polynomial((0.1, 0.8, 0.3, -0.05)), lambda s: s.Polynomial((0.1, 0.8, 0.3, -0.05)),
     [(1, 1.2, 0.2), (3, 0.9, 0.1)], False),
]


def _relative_error(ours, ref):
    ref = np.asarray(ref)
    return float(np.max(np.abs(np.asarray(ours) - ref) / np.maximum(np.abs(ref), 1e-300)))


@pytest.mark.filterwarnings("ignore::UserWarning")  # neural-tangents' Hermite warns about unit variance
@pytest.mark.parametrize("name, ours, theirs, configs, unit", CASES, ids=[c[0] for c in CASES])
def test_fc_kernel_matches_neural_tangents(nt, name, ours, theirs, configs, unit):
    stax, _ = nt
    x = _inputs(unit)
    x1, x2 = x[:N1], x[N1:]
    for depth, w_std, b_std in configs:
        _, _, kernel_fn = stax.serial(*[stax.Dense(1, w_std, b_std), theirs(stax)] * depth,
                                      stax.Dense(1, w_std, b_std))
        ref = kernel_fn(x, None, ("nngp", "ntk"))
        ref_nngp, ref_ntk = np.asarray(ref.nngp), np.asarray(ref.ntk)
        methods = ["direct", "table"] if isinstance(ours, A.ABRelu) and b_std == 0.0 and depth >= 1 else ["auto"]
        for method in methods:
            cross = fc_kernel(x1, x2, depth=depth, activation=ours, W_std=w_std, b_std=b_std, method=method)
            gram = fc_kernel(x1, None, depth=depth, activation=ours, W_std=w_std, b_std=b_std, method=method)
            where = f"{name} depth={depth} W_std={w_std} b_std={b_std} {method}"
            assert _relative_error(cross.nngp, ref_nngp[:N1, N1:]) <= 1e-10, where
            assert _relative_error(cross.ntk, ref_ntk[:N1, N1:]) <= 1e-10, where
            assert _relative_error(gram.nngp, ref_nngp[:N1, :N1]) <= 1e-10, where
            assert _relative_error(gram.ntk, ref_ntk[:N1, :N1]) <= 1e-10, where


def test_mse_ensemble_matches_neural_tangents(nt):
    """Means and covariances at t = inf and finite t (scalar and array), nngp and ntk, with and without
    diag_reg, y with two outputs: relative error (to the largest entry) <= 1e-8.  neural-tangents'
    kernel_fn runs once per input pair; its predict function reads the cached kernels."""
    stax, predict = nt
    activation, depth, w_std, b_std = "erf", 3, 1.4, 0.1
    rng = np.random.default_rng(1)
    x_train, x_test, y = rng.normal(size=(12, 4)), rng.normal(size=(5, 4)), rng.normal(size=(12, 2))
    _, _, kernel_fn = stax.serial(*[stax.Dense(1, w_std, b_std), stax.Erf()] * depth, stax.Dense(1, w_std, b_std))
    cache = {}

    def cached_kernel_fn(x1, x2=None, get=None, **kwargs):
        key = (id(x1), None if x2 is None else id(x2))
        if key not in cache:
            cache[key] = kernel_fn(x1, x2, ("nngp", "ntk"))
        k = cache[key]
        if isinstance(get, str):
            return getattr(k, get)
        return k

    for diag_reg, times in ((0.0, (None, [0.3, 30.0])), (1e-2, (None, 0.5))):
        predict_fn = predict.gradient_descent_mse_ensemble(cached_kernel_fn, x_train, y, learning_rate=0.7,
                                                           diag_reg=diag_reg)
        for t in times:
            for get in ("nngp", "ntk"):
                ref = predict_fn(t=t, x_test=x_test, get=get, compute_cov=True)
                ours = gradient_descent_mse_ensemble(
                    x_train, y, x_test, depth=depth, activation=activation, W_std=w_std, b_std=b_std, get=get,
                    t=t, learning_rate=0.7, diag_reg=diag_reg, compute_cov=True,
                )
                for mine, theirs in ((ours.mean, ref.mean), (ours.covariance, ref.covariance)):
                    theirs = np.asarray(theirs)
                    assert np.shape(mine) == theirs.shape
                    err = np.max(np.abs(np.asarray(mine) - theirs)) / np.max(np.abs(theirs))
                    assert err <= 1e-8, f"{activation} diag_reg={diag_reg} t={t} {get}: {err:.3g}"
