"""theory.pac_bayes.bounds against mpmath at 50 digits: certified kl inverses, bounds in [r, 1], input checks."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kernels.backend import to_numpy
from proofs_check.references import binary_kl as binary_kl_mpmath
from theory import pac_bayes as pb
from tests.helpers import assert_close

mp.mp.dps = 50


kl_exact = binary_kl_mpmath


def kl_inverse_exact(q, c, upper=True):
    """sup (upper) or inf (lower) of {p : kl(q||p) <= c} to ~1e-45: halve the gap, then bisect."""
    q, c = mp.mpf(q), mp.mpf(c)
    boundary = mp.mpf(1) if upper else mp.mpf(0)
    if q == boundary or c == mp.inf:
        return boundary
    if c == 0:
        return q
    gap = boundary - q
    while kl_exact(q, q + gap / 2) > c:
        gap /= 2
    inside, outside = q + gap / 2, q + gap
    for _ in range(170):
        mid = (inside + outside) / 2
        if kl_exact(q, mid) <= c:
            inside = mid
        else:
            outside = mid
    return inside


unit = st.one_of(
    st.floats(0.0, 1.0),
    st.sampled_from([0.0, 1.0, 0.5, 1e-300, 1 - 2**-53]),
    st.floats(-14, 0).map(lambda e: 10.0**e),
    st.floats(-14, 0).map(lambda e: 1 - 10.0**e),
)
budget = st.one_of(
    st.floats(0.0, 60.0),
    st.floats(-16, 2).map(lambda e: 10.0**e),
    st.sampled_from([0.0, 1e-300, 1.0, 700.0]),
)


@given(unit, budget)
@example(0.023, 0.01)
@example(0.0, 1.0)
@example(1.0, 0.3)
@example(0.3, 0.0)
@example(1e-300, 1e-300)
@example(0.0, 1e-16)  # the plain formula rounds kl(0||1e-16) up past c: a step must not land on q
def test_kl_inverse_upper_is_certified_and_tight(q, c):
    value = float(pb.kl_inverse(q, c))
    exact = kl_inverse_exact(q, c)
    assert mp.mpf(value) >= exact, f"undershoot at q={q!r}, c={c!r}: {value!r} < {exact}"
    assert mp.mpf(value) - exact <= mp.mpf("1e-12")


@given(unit, budget)
@example(1.0, 1.0)
@example(0.0, 2.0)
@example(0.93, 32.94)
def test_kl_inverse_lower_is_certified_and_tight(q, c):
    value = float(pb.kl_inverse_lower(q, c))
    exact = kl_inverse_exact(q, c, upper=False)
    assert mp.mpf(value) <= exact, f"overshoot at q={q!r}, c={c!r}: {value!r} > {exact}"
    assert exact - mp.mpf(value) <= mp.mpf("1e-12")


@pytest.mark.slow
def test_kl_inverse_vectorised_grid_against_mpmath():
    rng = np.random.default_rng(5)
    q = np.concatenate([rng.random(40), 10 ** rng.uniform(-12, 0, 20), 1 - 10 ** rng.uniform(-12, 0, 20)])
    c = 10 ** rng.uniform(-15, 1.5, q.size)
    upper, lower = pb.kl_inverse(q, c), pb.kl_inverse_lower(q, c)
    worst = 0.0
    for qi, ci, u, lo in zip(q, c, upper, lower):
        hi_exact, lo_exact = kl_inverse_exact(qi, ci), kl_inverse_exact(qi, ci, upper=False)
        assert mp.mpf(u) >= hi_exact and mp.mpf(lo) <= lo_exact
        worst = max(worst, float(mp.mpf(u) - hi_exact), float(lo_exact - mp.mpf(lo)))
    assert worst <= 1e-12


def test_kl_inverse_known_value_from_reference_sheet():
    # a midpoint-returning bisection gives 0.0508380561 here, below the true inverse 0.0508382604
    value = float(pb.kl_inverse(0.023, 0.01))
    assert value >= kl_inverse_exact(0.023, 0.01)
    assert abs(value - 0.0508382604) < 1e-10


def test_kl_inverse_edge_cases():
    c = np.array([0.0, 1e-300, 1e-8, 0.5, 3.0, 40.0, math.inf])
    at_zero = pb.kl_inverse(np.zeros_like(c), c)
    for ci, v in zip(c, at_zero):
        exact = mp.mpf(1) if math.isinf(ci) else -mp.expm1(-mp.mpf(ci))  # 1 - e^-c
        assert mp.mpf(v) >= exact and mp.mpf(v) - exact <= 1e-12
    assert np.all(pb.kl_inverse(np.ones_like(c), c) == 1.0)
    q = np.array([0.0, 1e-9, 0.3, 0.999, 1.0])
    assert np.array_equal(pb.kl_inverse(q, np.zeros_like(q)), q)  # c = 0 gives q exactly
    assert np.array_equal(pb.kl_inverse_lower(q, np.zeros_like(q)), q)
    assert np.all(pb.kl_inverse(q, np.full_like(q, math.inf)) == 1.0)
    assert np.all(pb.kl_inverse_lower(q, np.full_like(q, math.inf)) == 0.0)
    at_one = pb.kl_inverse_lower(np.ones(3), np.array([0.1, 1.0, 5.0]))  # kl(1||p) = -ln p
    for ci, v in zip([0.1, 1.0, 5.0], at_one):
        assert mp.mpf(v) <= mp.exp(-ci) and mp.exp(-ci) - mp.mpf(v) <= 1e-12


def test_kl_inverse_monotone_in_q_and_c():
    grid = np.linspace(0.0, 1.0, 401)
    for c in (1e-6, 0.01, 0.3, 5.0):
        values = pb.kl_inverse(grid, np.full_like(grid, c))
        assert np.all(np.diff(values) >= 0)
        lower = pb.kl_inverse_lower(grid, np.full_like(grid, c))
        assert np.all(np.diff(lower) >= 0)
    budgets = np.geomspace(1e-12, 50, 400)
    for q in (0.0, 0.02, 0.5, 0.97):
        values = pb.kl_inverse(np.full_like(budgets, q), budgets)
        assert np.all(np.diff(values) >= 0)
        assert np.all(np.diff(pb.kl_inverse_lower(np.full_like(budgets, q), budgets)) <= 0)


@given(unit, unit)
def test_binary_kl_matches_mpmath(q, p):
    value = float(pb.binary_kl(q, p))
    exact = kl_exact(q, p)
    if exact == mp.inf:
        assert value == math.inf
    else:
        assert abs(mp.mpf(value) - exact) <= 1e-13 * exact + 1e-300


def test_backends_agree(xp):
    q = xp.asarray([0.0, 0.023, 0.4, 0.9, 1.0])
    c = xp.asarray([0.5, 0.01, 1e-9, 2.0, 0.3])
    reference = pb.kl_inverse(to_numpy(q), to_numpy(c))
    assert_close(pb.kl_inverse(q, c), reference, xp=xp, rtol=0)
    assert_close(pb.kl_inverse_lower(q, c), pb.kl_inverse_lower(to_numpy(q), to_numpy(c)), xp=xp, rtol=0)
    assert_close(pb.binary_kl(q, xp.asarray([0.1, 0.1, 0.5, 0.5, 0.5])), pb.binary_kl(to_numpy(q), np.array([0.1, 0.1, 0.5, 0.5, 0.5])), xp=xp)
    k = xp.asarray([0.0, 3.0, 40.0])
    for name, value in pb.all_bounds(k, 100, xp.asarray([1.0, 10.0, 100.0]), 0.05).items():
        assert_close(value, pb.all_bounds(to_numpy(k), 100, np.array([1.0, 10.0, 100.0]), 0.05)[name], xp=xp, rtol=1e-14)


def _binomial_cdf(k, n, p):
    p = mp.mpf(p)
    return mp.fsum(mp.binomial(n, j) * p**j * (1 - p) ** (n - j) for j in range(int(k) + 1))


@given(st.integers(1, 400), st.data(), st.sampled_from([0.5, 0.05, 1e-3, 1e-9]))
def test_binomial_test_set_bound_is_the_exact_tail_inversion(n, data, delta):
    k = data.draw(st.integers(0, n))
    bound = float(pb.binomial_test_set_bound(k, n, delta))
    relaxed = float(pb.test_set_kl_bound(k, n, delta))
    # the kl relaxation upper-bounds the binomial tail inversion; at k = 0 both equal 1 - delta^(1/n),
    # so allow one certified-rounding step of slack there
    assert bound <= relaxed + 1e-12
    assert k / n <= bound <= 1.0
    if bound < 1.0:
        assert _binomial_cdf(k, n, bound) < delta  # certified: the exact root lies below
        assert _binomial_cdf(k, n, max(bound - 1e-9, 0.0)) >= delta  # and within 1e-9 of it
    if k == 0:
        exact = 1 - mp.power(delta, mp.mpf(1) / n)
        assert mp.mpf(pb.realizable_test_set_bound(n, delta)) >= exact
        assert float(mp.mpf(pb.realizable_test_set_bound(n, delta)) - exact) <= 1e-14


@given(st.integers(1, 5000), st.floats(0, 1), st.floats(0, 2000), st.floats(1e-6, 0.999))
@example(1, 0.0, 0.0, 0.5)
@example(5000, 1.0, 0.0, 0.05)
def test_every_bound_lies_between_risk_and_one(n, frac, complexity, delta):
    k = float(round(frac * n))
    r = k / n
    bounds = pb.all_bounds(np.array([k]), n, np.array([complexity]), delta)
    for name, value in bounds.items():
        v = float(value[0])
        assert r <= v <= 1.0, f"{name}: {v} outside [{r}, 1]"
    if k == 0:
        assert float(pb.occam_bound(0.0, n, complexity, delta, "realizable")) >= r


def test_bound_orderings_and_formulas():
    n, delta = 1000, 0.05
    k = np.array([0.0, 20.0, 200.0])
    kl = np.array([5.0, 30.0, 100.0])
    r = k / n
    b = pb.all_bounds(k, n, kl, delta)
    assert np.all(b["occam_binomial"] <= b["occam_kl"] + 1e-12)  # binomial Occam is the tightest Occam form
    assert np.all(b["occam_kl"] <= b["occam_hoeffding"])  # Pinsker
    assert np.all(b["occam_kl"] <= b["maurer"])  # no ln(2 sqrt n) term for a point mass
    assert np.all(b["maurer"] <= b["sqrt"])
    sqrt_formula = r + np.sqrt((kl + np.log(2 * np.sqrt(n) / delta)) / (2 * n))
    assert np.all(b["sqrt"] >= sqrt_formula) and np.allclose(b["sqrt"], sqrt_formula, rtol=1e-14)
    mca = r + np.sqrt((kl + np.log(1 / delta) + np.log(n) + 2) / (2 * n - 1))
    assert np.allclose(b["mcallester_1999"], mca, rtol=1e-14) and np.all(b["mcallester_1999"] >= mca)
    # Catoni with a one-point grid is the fixed-C formula with delta itself
    one = pb.catoni_bound(r, n, kl, delta, grid=(2.0,))
    for ri, kli, value in zip(r, kl, one):
        exact = -mp.expm1(-2 * mp.mpf(ri) - (mp.mpf(kli) + mp.log(1 / mp.mpf(delta))) / n) / -mp.expm1(-2)
        assert mp.mpf(value) >= exact and float(mp.mpf(value) - exact) <= 1e-14
    # the union bound over a grid costs ln(len(grid)) nats against each grid point
    grid = (0.5, 2.0, 8.0)
    fixed_with_union = [pb.catoni_bound(r, n, kl + np.log(3), delta, grid=(C,)) for C in grid]
    assert np.allclose(pb.catoni_bound(r, n, kl, delta, grid=grid), np.min(fixed_with_union, axis=0), rtol=1e-14)
    assert np.all(b["langford_seeger"] >= pb.kl_inverse(r, (kl + np.log((n + 1) / delta)) / n))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: pb.kl_inverse(1.5, 0.1), "q must lie in"),
        (lambda: pb.kl_inverse(-0.1, 0.1), "q must lie in"),
        (lambda: pb.kl_inverse(0.1, -1.0), "c must lie in"),
        (lambda: pb.kl_inverse(float("nan"), 0.1), "q must contain only finite"),
        (lambda: pb.binomial_test_set_bound(3, 10, 0.0), "delta must lie in the open interval"),
        (lambda: pb.binomial_test_set_bound(3, 10, 1.0), "delta must lie in the open interval"),
        (lambda: pb.binomial_test_set_bound(11, 10, 0.1), "errors must lie in"),
        (lambda: pb.binomial_test_set_bound(2.5, 10, 0.1), "whole numbers"),
        (lambda: pb.binomial_test_set_bound(1, 0, 0.1), "n must be an integer >= 1"),
        (lambda: pb.maurer_bound(1.2, 10, 1.0, 0.1), "risk must lie in"),
        (lambda: pb.maurer_bound(0.2, 10, -1.0, 0.1), "kl must lie in"),
        (lambda: pb.sqrt_bound(0.2, 2.5, 1.0, 0.1), "n must be an integer"),
        (lambda: pb.occam_bound(1, 10, -2.0, 0.1), "complexity"),
        (lambda: pb.occam_bound(1, 10, 2.0, 0.1, form="bogus"), "form must be one of"),
        (lambda: pb.occam_bound(1, 10, 2.0, 0.1, form="realizable"), "errors == 0"),
        (lambda: pb.catoni_bound(0.1, 10, 1.0, 0.1, grid=(0.0,)), "grid value C"),
    ],
)
def test_bad_inputs_name_the_argument(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
