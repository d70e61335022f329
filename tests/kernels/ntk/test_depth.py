"""Tests for kernels/ntk/depth.py: direct and log-domain recursions and the depth tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels.backend import to_numpy
from kernels.ntk.depth import log_nngp_ntk, nngp_ntk, tabulate_depth
from kernels.validation import check_symmetric_psd
from tests.helpers import assert_close

NAMED = ["relu", "erf", "sine_2.676", "sine_6.13539", "2d_opt", "3d_opt", "5d_opt", "9d_opt", "hermite_2", "hermite_3"]


def test_hermite_k_recursion_closed_form():
    xi = np.linspace(-1, 1, 101)
    for k, depth in ((2, 4), (3, 3)):
        sigma, ntk = nngp_ntk(xi, f"hermite_{k}", depth)
        assert_close(sigma, xi ** (k**depth), rtol=1e-13, atol=1e-300)
        assert ntk[-1] == pytest.approx(sum(k**l for l in range(depth + 1)), rel=1e-15)


@given(name=st.sampled_from(["2d_opt", "5d_opt", "9d_opt", "hermite_2", "hermite_3"]), depth=st.integers(0, 8),
       xi=st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=20))
def test_log_domain_recursion_matches_linear(name, depth, xi):
    xi = np.asarray(xi)
    sigma, ntk = nngp_ntk(xi, name, depth)
    ls, ss, lk, sk = log_nngp_ntk(xi, name, depth)
    keep = np.abs(sigma) > 1e-250
    assert_close((ss * np.exp(ls))[keep], sigma[keep], rtol=1e-12, atol=1e-300)
    keep = np.abs(ntk) > 1e-250 * np.max(np.abs(ntk))
    assert_close((sk * np.exp(lk))[keep], ntk[keep], rtol=1e-10, atol=1e-14 * np.max(np.abs(ntk)))


def test_log_domain_survives_underflow():
    xi = np.array([0.3, 0.9, 0.999])
    ls, ss, _, _ = log_nngp_ntk(xi, "hermite_2", 60)
    assert_close(ls, 2.0**60 * np.log(xi), rtol=1e-13)
    assert np.all(nngp_ntk(xi, "hermite_2", 60)[0] == 0.0)  # the linear recursion underflows


def _mid_and_near(rng):
    mid = rng.uniform(-0.999, 0.999, 400)
    near = np.concatenate([1 - 10 ** rng.uniform(-15.9, -3, 60), -1 + 10 ** rng.uniform(-15.9, -3, 60)])
    return mid, near


@given(name=st.sampled_from(NAMED), depth=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_table_matches_direct_recursion(name, depth, seed):
    """|xi| <= 0.999: table within 1e-9 of max|direct| (measured <= 1.3e-10 at depths <= 200);
    pointwise 1e-6 relative where the value is above 1e-6 of the max (measured <= 1e-8)."""
    mid, _ = _mid_and_near(np.random.default_rng(seed))
    table = tabulate_depth(name, depth)
    got = table(mid, normalized=True)
    want = nngp_ntk(mid, name, depth, normalized=True)
    for g, w in zip(got, want):
        scale = np.max(np.abs(w))
        assert np.max(np.abs(g - w)) <= 1e-9 * scale
        if scale == 0.0:  # everything underflowed (1-NN regime); the log-domain tests cover it
            continue
        big = np.abs(w) > 1e-6 * scale
        assert np.max(np.abs(g - w)[big] / np.abs(w[big])) <= 1e-6


@pytest.mark.parametrize("depth", [1, 5, 50])
def test_relu_table_is_near_exact(depth):
    """Majority-vote duals: pointwise relative <= 1e-12 (Sigma) and <= 1e-11 (NTK) on |xi| <= 0.999."""
    mid, near = _mid_and_near(np.random.default_rng(depth))
    table = tabulate_depth("relu", depth)
    sigma, ntk = table(mid)
    sigma0, ntk0 = nngp_ntk(mid, "relu", depth)
    assert_close(sigma, sigma0, rtol=1e-12)
    assert_close(ntk, ntk0, rtol=1e-11)
    # towards +-1 the NNGP still agrees to 1e-11 (the cosine recursion loses digits in the NTK there, and
    # the direct ReLU dual cancels to ~1e-16 absolute next to xi = -1)
    assert_close(table(near)[0], nngp_ntk(near, "relu", depth)[0], rtol=1e-11, atol=1e-15)


def test_relu_table_against_40_digit_recursion_near_one():
    """Near xi = 1 the float recursion itself loses digits; the table is checked against mpmath."""
    import mpmath as mp

    mp.mp.dps = 40
    xs = [0.999, 1 - 1e-5, 1 - 1e-7, -0.999]
    depth = 100
    table = tabulate_depth("relu", depth)
    sigma, ntk = table(np.array(xs))
    for i, x in enumerate(xs):
        s, k = mp.mpf(x), mp.mpf(x)
        for _ in range(depth):
            th = mp.acos(s)
            slope = (mp.pi - th) / mp.pi
            s_next = (s * (mp.pi - th) + mp.sqrt(1 - s * s)) / mp.pi
            k = s_next + k * slope
            s = s_next
        assert abs(sigma[i] - float(s)) <= 1e-14 * abs(float(s))
        assert abs(ntk[i] - float(k)) <= 1e-9 * abs(float(k))


def test_table_endpoints_exact():
    for name in ("relu", "3d_opt", "5d_opt", "hermite_2"):
        table = tabulate_depth(name, 7)
        ends = np.array([1.0, -1.0])
        got, want = table(ends), nngp_ntk(ends, name, 7)
        assert_close(got[0], want[0], rtol=1e-15, atol=1e-300)
        assert_close(got[1], want[1], rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("name", ["relu", "3d_opt", "hermite_2"])
def test_table_on_backends(xp, name):
    xi = np.linspace(-1, 1, 33)
    table = tabulate_depth(name, 12)
    sigma, ntk = table(xp.asarray(xi), normalized=True)
    ref = table(xi, normalized=True)
    assert_close(sigma, xp.asarray(ref[0]), xp=xp, rtol=1e-15, atol=1e-300)
    assert_close(ntk, xp.asarray(ref[1]), xp=xp, rtol=1e-15, atol=1e-300)
    direct = nngp_ntk(xp.asarray(xi), name, 12, normalized=True)
    assert_close(direct[0], xp.asarray(nngp_ntk(xi, name, 12, normalized=True)[0]), xp=xp, rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("name", ["relu", "erf", "3d_opt", "9d_opt", "hermite_2"])
@pytest.mark.parametrize("depth", [3, 20])
def test_normalised_kernels_are_psd(name, depth):
    rng = np.random.default_rng(depth)
    x = rng.standard_normal((40, 5))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cos = np.clip(x @ x.T, -1, 1)
    np.fill_diagonal(cos, 1.0)
    sigma, ntk = tabulate_depth(name, depth)(cos, normalized=True)
    check_symmetric_psd(sigma, "sigma", rtol=1e-10)
    check_symmetric_psd(ntk, "ntk", rtol=1e-10)


def test_depth_without_fear():
    xi = np.linspace(-1, 1, 2001)
    deep = tabulate_depth("relu", 200_000)
    sigma, ntk = deep(xi, normalized=True)
    assert np.all(np.isfinite(sigma)) and np.all(np.isfinite(ntk))
    assert np.all((sigma > 0.999) & (sigma <= 1.0)) and np.all((ntk > 0) & (ntk <= 1.0))
    assert deep.ntk_at_one == pytest.approx(200_001, rel=1e-12)
    # repelling duals (phĭ'(1) = 2): the cosine recursion stays in [-1, 1]; K^L(1) = 2^(L+1) - 1 in logs
    table = tabulate_depth("3d_opt", 2000)
    sigma, ntk = table(xi, normalized=True)
    assert np.all(np.isfinite(sigma)) and np.all(np.abs(sigma) <= 1.0) and np.all(np.isfinite(ntk))
    assert table.log_ntk_at_one == pytest.approx(2001 * math.log(2.0), rel=1e-12)
    with pytest.raises(OverflowError, match="normalized=True"):
        table(xi)
    # 1-NN regime: the log-kernel of xi^2 at depth 1000 is 2^1000 ln xi
    log_sigma = tabulate_depth("hermite_2", 1000).log(np.array([0.5, 0.99]))[0]
    assert_close(log_sigma, 2.0**1000 * np.log(np.array([0.5, 0.99])), rtol=1e-12)


def test_callable_dual_needs_derivative_for_ntk():
    cube = lambda x: x**3  # noqa: E731
    sigma, ntk = nngp_ntk(np.array([0.5]), cube, 2)
    assert ntk is None and sigma[0] == pytest.approx(0.5**9)
    sigma, ntk = nngp_ntk(np.array([0.5]), cube, 2, dual_derivative=lambda x: 3 * x**2)
    assert_close(ntk, nngp_ntk(np.array([0.5]), "hermite_3", 2)[1], rtol=1e-15)
    table = tabulate_depth(cube, 3, dual_derivative=lambda x: 3 * x**2)
    assert_close(to_numpy(table(np.array([0.7]))[0]), np.array([0.7**27]), rtol=1e-12)
