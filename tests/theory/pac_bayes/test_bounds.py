"""theory.pac_bayes.bounds against mpmath (local precision), closed forms and scipy.stats.binom."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import scipy.stats
from hypothesis import example, given
from hypothesis import strategies as st

from kernels.backend import to_numpy
from theory.pac_bayes import bounds as bd
from theory.pac_bayes.kl import kl_inverse
from tests.helpers import assert_close
from tests.theory.pac_bayes.test_kl import kl_inverse_exact

DPS = 50
# max{p : P[Bin(1000, p) <= 28] >= 0.05}, by bisection in 40-digit mpmath
BIN_28_1000 = 0.038188865025176225


def _binomial_cdf(k, n, p):
    with mp.workdps(DPS):
        p = mp.mpf(p)
        return mp.fsum(mp.binomial(n, j) * p**j * (1 - p) ** (n - j) for j in range(int(k) + 1))


@given(st.integers(1, 400), st.data(), st.sampled_from([0.5, 0.05, 1e-3, 1e-9]))
def test_binomial_test_set_bound_is_the_exact_tail_inversion(n, data, delta):
    k = data.draw(st.integers(0, n))
    bound = float(bd.binomial_test_set_bound(k, n, delta))
    relaxed = float(bd.test_set_kl_bound(k, n, delta))
    # the kl relaxation upper-bounds the binomial tail inversion; at k = 0 both equal 1 - delta^(1/n),
    # so allow one certified-rounding step of slack there
    assert bound <= relaxed + 1e-12
    assert k / n <= bound <= 1.0
    if bound < 1.0:
        assert _binomial_cdf(k, n, bound) < delta  # certified: the exact root lies below
        assert _binomial_cdf(k, n, max(bound - 1e-9, 0.0)) >= delta  # and within 1e-9 of it
    if k == 0:
        with mp.workdps(DPS):
            exact = 1 - mp.power(delta, mp.mpf(1) / n)
        assert mp.mpf(bd.realizable_test_set_bound(n, delta)) >= exact
        assert float(mp.mpf(bd.realizable_test_set_bound(n, delta)) - exact) <= 1e-14


@given(st.integers(1, 5000), st.floats(0, 1), st.floats(0, 2000), st.floats(1e-6, 0.999))
@example(1, 0.0, 0.0, 0.5)
@example(5000, 1.0, 0.0, 0.05)
def test_every_bound_lies_between_risk_and_one(n, frac, complexity, delta):
    k = float(round(frac * n))
    r = k / n
    bounds = bd.all_bounds(np.array([k]), n, np.array([complexity]), delta)
    for name, value in bounds.items():
        v = float(value[0])
        assert r <= v <= 1.0, f"{name}: {v} outside [{r}, 1]"
    if k == 0:
        assert float(bd.occam_bound(0.0, n, complexity, delta, "realizable")) >= r


def test_bound_orderings_and_formulas():
    n, delta = 1000, 0.05
    k = np.array([0.0, 20.0, 200.0])
    kl = np.array([5.0, 30.0, 100.0])
    r = k / n
    b = bd.all_bounds(k, n, kl, delta)
    assert np.all(b["occam_binomial"] <= b["occam_kl"] + 1e-12)  # binomial Occam is the tightest Occam form
    assert np.all(b["occam_kl"] <= b["occam_hoeffding"])  # Pinsker
    assert np.all(b["occam_kl"] <= b["maurer"])  # no ln(2 sqrt n) term for a point mass
    assert np.all(b["maurer"] <= b["sqrt"])
    sqrt_formula = r + np.sqrt((kl + np.log(2 * np.sqrt(n) / delta)) / (2 * n))
    assert np.all(b["sqrt"] >= sqrt_formula) and np.allclose(b["sqrt"], sqrt_formula, rtol=1e-14)
    mca = r + np.sqrt((kl + np.log(1 / delta) + np.log(n) + 2) / (2 * n - 1))
    assert np.allclose(b["mcallester_1999"], mca, rtol=1e-14) and np.all(b["mcallester_1999"] >= mca)
    # Catoni with a one-point grid is the fixed-C formula with delta itself
    one = bd.catoni_bound(r, n, kl, delta, grid=(2.0,))
    for ri, kli, value in zip(r, kl, one):
        with mp.workdps(DPS):
            exact = -mp.expm1(-2 * mp.mpf(ri) - (mp.mpf(kli) + mp.log(1 / mp.mpf(delta))) / n) / -mp.expm1(-2)
        assert mp.mpf(value) >= exact and float(mp.mpf(value) - exact) <= 1e-14
    # the union bound over a grid costs ln(len(grid)) nats against each grid point
    grid = (0.5, 2.0, 8.0)
    fixed_with_union = [bd.catoni_bound(r, n, kl + np.log(3), delta, grid=(C,)) for C in grid]
    assert np.allclose(bd.catoni_bound(r, n, kl, delta, grid=grid), np.min(fixed_with_union, axis=0), rtol=1e-14)
    assert np.all(b["langford_seeger"] >= kl_inverse(r, (kl + np.log((n + 1) / delta)) / n))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: kl_inverse(1.5, 0.1), "q must lie in"),
        (lambda: kl_inverse(-0.1, 0.1), "q must lie in"),
        (lambda: kl_inverse(0.1, -1.0), "c must lie in"),
        (lambda: kl_inverse(float("nan"), 0.1), "q must contain only finite"),
        (lambda: bd.binomial_test_set_bound(3, 10, 0.0), "delta must lie in the open interval"),
        (lambda: bd.binomial_test_set_bound(3, 10, 1.0), "delta must lie in the open interval"),
        (lambda: bd.binomial_test_set_bound(11, 10, 0.1), "errors must lie in"),
        (lambda: bd.binomial_test_set_bound(2.5, 10, 0.1), "whole numbers"),
        (lambda: bd.binomial_test_set_bound(1, 0, 0.1), "n must be an integer in"),
        (lambda: bd.maurer_bound(1.2, 10, 1.0, 0.1), "risk must lie in"),
        (lambda: bd.maurer_bound(0.2, 10, -1.0, 0.1), "kl must lie in"),
        (lambda: bd.sqrt_bound(0.2, 2.5, 1.0, 0.1), "n must be an integer"),
        (lambda: bd.occam_bound(1, 10, -2.0, 0.1), "complexity"),
        (lambda: bd.occam_bound(1, 10, 2.0, 0.1, form="bogus"), "form must be one of"),
        (lambda: bd.occam_bound(1, 10, 2.0, 0.1, form="realizable"), "errors == 0"),
        (lambda: bd.catoni_bound(0.1, 10, 1.0, 0.1, grid=(0.0,)), "grid value C"),
    ],
)
def test_bad_inputs_name_the_argument(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_binomial_bound_matches_scipy_binom():
    n, delta = 1000, 0.05
    k = np.array([0.0, 1.0, 28.0, 500.0, 999.0, 1000.0])
    bound = bd.binomial_test_set_bound(k, n, delta)
    for ki, b in zip(k, bound):
        if b < 1.0:
            assert scipy.stats.binom.cdf(ki, n, b) < delta  # the exact root lies below
            assert scipy.stats.binom.cdf(ki, n, b - 1e-12) >= delta * (1 - 1e-9)  # and within 1e-12
    assert bound[-1] == 1.0
    assert BIN_28_1000 <= float(bound[2]) <= BIN_28_1000 + 1e-13


@pytest.mark.parametrize("k, n, delta", [(0, 100, 0.05), (7, 100, 0.05), (28, 1000, 0.05), (3, 10, 1e-9), (600, 1000, 0.3)])
def test_test_set_kl_bound_pinned_to_mpmath(k, n, delta):
    with mp.workdps(DPS):
        c = mp.log(1 / mp.mpf(delta)) / n
    exact = kl_inverse_exact(mp.mpf(k) / n, c)
    value = mp.mpf(float(bd.test_set_kl_bound(k, n, delta)))
    assert exact <= value <= exact + mp.mpf("1e-12")


def test_realizable_closed_form():
    for n, delta in [(1, 0.5), (100, 0.05), (10**9, 1e-6)]:
        with mp.workdps(DPS):
            exact = 1 - mp.power(delta, mp.mpf(1) / n)
        value = mp.mpf(bd.realizable_test_set_bound(n, delta))
        assert exact <= value <= exact * (1 + mp.mpf("1e-14"))
    with mp.workdps(DPS):
        exact = (mp.mpf(12.0) + mp.log(1 / mp.mpf(0.05))) / 500
    value = mp.mpf(float(bd.occam_bound(0, 500, 12.0, 0.05, "realizable")))
    assert exact <= value <= exact * (1 + mp.mpf("1e-14"))
    with mp.workdps(DPS):
        exact = mp.mpf(20) / 500 + mp.sqrt((mp.mpf(12.0) + mp.log(1 / mp.mpf(0.05))) / 1000)
    value = mp.mpf(float(bd.occam_bound(20, 500, 12.0, 0.05, "hoeffding")))
    assert exact <= value <= exact * (1 + mp.mpf("1e-14"))


def test_occam_kl_and_pac_bayes_kl_forms_pinned_to_mpmath():
    n, delta, k, kl = 2800, 0.05, 715.0, 12.9
    r = mp.mpf(k) / n
    with mp.workdps(DPS):
        budgets = {
            "occam_kl": (mp.mpf(kl) + mp.log(1 / mp.mpf(delta))) / n,
            "maurer": (mp.mpf(kl) + mp.log(2 * mp.sqrt(n) / mp.mpf(delta))) / n,
            "langford_seeger": (mp.mpf(kl) + mp.log((n + 1) / mp.mpf(delta))) / n,
        }
    b = bd.all_bounds(np.array([k]), n, np.array([kl]), delta)
    for name, c in budgets.items():
        exact = kl_inverse_exact(r, c)
        value = mp.mpf(float(b[name][0]))
        assert exact <= value <= exact + mp.mpf("1e-12"), name
    with mp.workdps(DPS):
        exact = r + mp.sqrt((mp.mpf(kl) + mp.log(1 / mp.mpf(delta)) + mp.log(n) + 2) / (2 * n - 1))
    assert exact <= mp.mpf(float(b["mcallester_1999"][0])) <= exact * (1 + mp.mpf("1e-14"))


def test_float32_input_gives_the_float64_bounds():
    # issue 12: 1.0 instead of 0.0382 before
    for value in (
        bd.binomial_test_set_bound(np.float32([28]), 1000, 0.05),
        bd.occam_bound(np.float32([28]), 1000, 0.0, 0.05),
        bd.all_bounds(np.float32([28]), 1000, np.float32([0.0]), 0.05)["occam_binomial"],
    ):
        assert value.dtype == np.float64
        assert BIN_28_1000 <= float(value[0]) <= BIN_28_1000 + 1e-13
    # never below the float64 value of the same (float32-rounded) input
    r32, kl32 = np.float32([0.028]), np.float32([3.0])
    c32 = bd.catoni_bound(r32, 1000, kl32, 0.05)
    assert c32.dtype == np.float64
    assert c32[0] == bd.catoni_bound(r32.astype(np.float64), 1000, kl32.astype(np.float64), 0.05)[0]
    assert c32[0] >= 0.05737017440  # the float64 value at 0.028 (float32(0.028) > 0.028)
    for name, value in bd.all_bounds(np.float32([28, 3]), 1000, np.float32([3.0, 40.0]), 0.05).items():
        reference = bd.all_bounds(np.array([28.0, 3.0]), 1000, np.float32([3.0, 40.0]).astype(np.float64), 0.05)[name]
        np.testing.assert_array_equal(value, reference, err_msg=name)


def test_infinite_complexity_gives_one():
    inf = math.inf
    for name, value in bd.all_bounds(np.array([0.0, 5.0]), 100, np.array([inf, inf]), 0.05).items():
        np.testing.assert_array_equal(value, [1.0, 1.0], err_msg=name)
    assert float(bd.occam_bound(0, 100, inf, 0.05, "realizable")) == 1.0
    assert float(bd.maurer_bound(0.1, 100, inf, 0.05)) == 1.0
    # finite lanes beside an infinite one are unaffected
    mixed = bd.occam_bound(np.array([3.0, 3.0]), 100, np.array([2.0, inf]), 0.05)
    assert mixed[1] == 1.0 and mixed[0] == bd.occam_bound(3.0, 100, 2.0, 0.05)


def test_backends_agree(xp):
    k = xp.asarray([0.0, 3.0, 40.0])
    kl = np.array([1.0, 10.0, math.inf])
    for name, value in bd.all_bounds(k, 100, xp.asarray(kl), 0.05).items():
        assert_close(value, bd.all_bounds(to_numpy(k), 100, kl, 0.05)[name], xp=xp, rtol=1e-14)
    assert_close(bd.binomial_test_set_bound(k, 100, 0.05), bd.binomial_test_set_bound(to_numpy(k), 100, 0.05), xp=xp, rtol=1e-14)


def test_no_implicit_host_conversion(strict_no_host):
    xs = strict_no_host
    k = xs.asarray([0.0, 3.0, 40.0])
    kl = xs.asarray([1.0, 10.0, math.inf])
    outputs = list(bd.all_bounds(k, 100, kl, 0.05).values())
    outputs += [bd.binomial_test_set_bound(k, 100, 0.05), bd.test_set_kl_bound(k, 100, 0.05),
                bd.occam_bound(xs.zeros(3), 100, kl, 0.05, "realizable")]
    for out in outputs:
        assert type(out) is type(k) and out.dtype == xs.float64


@given(st.sampled_from(["errors", "n", "complexity", "delta"]),
       st.sampled_from([math.nan, -1.0, 1e300, "3", None, [1, "a"], -math.inf]))
def test_bad_arguments_are_named(which, bad):
    args = {"errors": 3.0, "n": 10, "complexity": 2.0, "delta": 0.05}
    args[which] = bad
    if which == "complexity" and bad == 1e300:
        return  # a huge complexity is legitimate (the bound is 1)
    with pytest.raises((ValueError, TypeError), match=which):
        bd.occam_bound(args["errors"], args["n"], args["complexity"], args["delta"])


def test_partly_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="whole numbers"):
        bd.binomial_test_set_bound(np.array([1.0, 2.5]), 10, 0.1)
    with pytest.raises(ValueError, match="errors == 0"):
        bd.occam_bound(np.array([0.0, 1.0]), 10, 2.0, 0.1, form="realizable")


def test_tiny_prior_mass_uses_the_kl_relaxation():
    # ln 1/(pi delta) > 700: pi delta is below the smallest normal double, the binomial form is the kl form
    n, k = 10**6, np.array([1000.0, 0.0])
    complexity = np.array([800.0, 750.0])
    binomial = bd.occam_bound(k, n, complexity, 0.05, "binomial")
    np.testing.assert_array_equal(binomial, bd.occam_bound(k, n, complexity, 0.05, "kl"))
    assert np.all(binomial < 0.01)


def test_certification_repairs_an_undershooting_tail_inverse(monkeypatch):
    # a betainccinv that lands 1e-6 below the root (e.g. a device replacement): the bdtr check moves it up
    import kernels.backend as backend
    import scipy.special

    class LowSpecial:
        def __getattr__(self, name):
            if name == "betainccinv":
                return lambda a, b, y: scipy.special.betainccinv(a, b, y) - 1e-6
            return getattr(scipy.special, name)

    monkeypatch.setattr(bd, "special", lambda xp: LowSpecial())
    bound = float(bd.binomial_test_set_bound(28, 1000, 0.05)[()])
    assert BIN_28_1000 <= bound <= BIN_28_1000 + 2e-6  # doubling steps: within twice the start error
    assert scipy.stats.binom.cdf(28, 1000, bound) < 0.05


@pytest.mark.parametrize("x", [1e-310, 1e-200, 1e-16, 0.3, 1.0, 37.0])
def test_closed_forms_are_rounded_up(x):
    eps = np.finfo(np.float64).eps
    for value in (bd._round_up_scalar(x), float(bd._round_up(np.asarray(x), np))):
        assert x * (1 + 8 * eps) <= value <= x * (1 + 32 * eps) + 2e-300
    assert bd._round_up_scalar(0.0) == 0.0
