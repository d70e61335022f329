"""Tests for kernels/ntk/duals.py: normalised duals, regimes, beta, sine_a roots, Hermite coefficients."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kernels.backend import to_numpy
from kernels.ntk.depth import nngp_ntk
from kernels.ntk.duals import (
    abrelu_dual,
    beta_exponent,
    consistent_dual,
    dual_from_hermite,
    get_dual,
    hermite_coefficients,
    polynomial_dual,
    regime,
    sine_beta,
    sine_dual,
    sine_parameter_for_dimension,
)
from tests.helpers import assert_close

NAMED = ["relu", "erf", "sine_2.676", "sine_6.13539", "2d_opt", "3d_opt", "5d_opt", "9d_opt", "hermite_2", "hermite_3"]

# (phĭ'(0), phĭ'(1)) from the reference table of the paper's duals
SLOPES = {
    "relu": (0.5, 1.0),
    "erf": (0.9136, 1.2257),
    "2d_opt": (0.5, 4.0),
    "3d_opt": (0.5, 2.0),
    "5d_opt": (0.25, 2.0),
    "9d_opt": (1 / 16, 2.0),
    "hermite_4": (0.0, 4.0),
}


@pytest.mark.parametrize("name", NAMED)
def test_dual_is_one_at_one_and_slopes_match_derivative(name):
    d = get_dual(name)
    one, zero = np.array([1.0]), np.array([0.0])
    assert abs(d(one)[0] - 1.0) <= 4e-16
    assert d.at_zero == pytest.approx(d(zero)[0], abs=1e-16)
    assert d.slope_at_zero == pytest.approx(d.prime(zero)[0], rel=1e-14, abs=1e-16)
    assert d.slope_at_one == pytest.approx(d.prime(one)[0], rel=1e-14, abs=0)


@pytest.mark.parametrize("name,slopes", SLOPES.items())
def test_slopes_against_reference_table(name, slopes):
    d = get_dual(name)
    assert d.slope_at_zero == pytest.approx(slopes[0], abs=5e-5)
    assert d.slope_at_one == pytest.approx(slopes[1], abs=5e-5)


def test_relu_dual_at_zero_is_one_over_pi():
    assert get_dual("relu")(np.array([0.0]))[0] == pytest.approx(1 / math.pi, rel=1e-15, abs=0)


@given(name=st.sampled_from(NAMED), xi=st.floats(-1.0, 1.0))
@example(name="relu", xi=-1.0)
@example(name="sine_2.676", xi=0.0)
def test_dual_bounded_and_derivative_consistent(name, xi):
    d = get_dual(name)
    value = d(np.array([xi]))[0]
    assert abs(value) <= d(np.array([abs(xi)]))[0] + 1e-15 <= 1.0 + 2e-15
    if abs(xi) < 0.999:  # ReLU's dual has sqrt(1 - xi^2) terms at the ends
        h = 1e-6
        numeric = (d(np.array([xi + h]))[0] - d(np.array([xi - h]))[0]) / (2 * h)
        assert d.prime(np.array([xi]))[0] == pytest.approx(numeric, rel=1e-6, abs=1e-7)


@given(name=st.sampled_from(NAMED), a=st.floats(0.0, 1.0), b=st.floats(0.0, 1.0))
def test_dual_monotone_on_unit_interval(name, a, b):
    d = get_dual(name)
    lo, hi = min(a, b), max(a, b)
    assert d(np.array([lo]))[0] <= d(np.array([hi]))[0] + 1e-16


@given(a=st.floats(1e-3, 800.0), xi=st.floats(-1.0, 1.0))
def test_sine_dual_normalised_and_finite_for_large_a(a, xi):
    d = sine_dual(a)
    assert d(np.array([1.0]))[0] == pytest.approx(1.0, rel=1e-14, abs=0)
    assert np.isfinite(d(np.array([xi]))[0]) and np.isfinite(d.prime(np.array([xi]))[0])
    if a < 300:
        assert d(np.array([xi]))[0] == pytest.approx(math.sinh(a * xi) / math.sinh(a), rel=1e-13, abs=1e-300)


def test_regimes():
    assert regime("relu") == "majority_vote"
    for name in ("erf", "sine_2.676", "2d_opt", "3d_opt", "5d_opt", "9d_opt"):
        assert regime(name) == "singular"
    assert regime("hermite_2") == regime("hermite_3") == "one_nn"
    assert regime("hermite_1") == "linear"


def test_beta_values():
    for name, beta in (("2d_opt", 0.5), ("3d_opt", 1.0), ("5d_opt", 2.0), ("9d_opt", 4.0)):
        assert beta_exponent(name) == pytest.approx(beta, rel=1e-15, abs=0)
    assert beta_exponent("erf") == pytest.approx(0.444, abs=5e-4)
    assert beta_exponent("hermite_2") == math.inf
    with pytest.raises(ValueError, match="majority_vote"):
        beta_exponent("relu")


@pytest.mark.parametrize("a,beta", [(2.676, 0.99998), (6.13539, 1.999999), (13.8258, 3.99999)])
def test_sine_beta_reference_values(a, beta):
    assert sine_beta(a) == pytest.approx(beta, abs=1e-5)
    assert beta_exponent(sine_dual(a)) == pytest.approx(sine_beta(a), rel=1e-12, abs=0)


@pytest.mark.parametrize("d,a", [(3, 2.676), (5, 6.13539), (9, 13.8258)])
def test_sine_parameter_for_dimension(d, a):
    root = sine_parameter_for_dimension(d)
    assert root == pytest.approx(a, abs=5e-4)
    assert sine_beta(root) == pytest.approx((d - 1) / 2, rel=1e-13, abs=0)
    assert beta_exponent(consistent_dual(d, family="sine")) == pytest.approx((d - 1) / 2, rel=1e-12, abs=0)


@given(d=st.integers(3, 400))
def test_sine_parameter_any_dimension(d):
    assert sine_beta(sine_parameter_for_dimension(d)) == pytest.approx((d - 1) / 2, rel=1e-12, abs=0)


def test_consistent_dual_d_opt_and_errors():
    for d in (2, 3, 5, 9):
        assert beta_exponent(consistent_dual(d)) == pytest.approx((d - 1) / 2, rel=1e-15, abs=0)
    with pytest.raises(ValueError, match="2, 3, 5, 9"):
        consistent_dual(4)
    with pytest.raises(ValueError, match=">= 3"):
        sine_parameter_for_dimension(2)


def test_input_errors_name_the_argument():
    with pytest.raises(ValueError, match="dual must be one of"):
        get_dual("tanh")
    with pytest.raises(ValueError, match="a must lie in"):
        sine_dual(0.0)
    with pytest.raises(ValueError, match="sum to 1"):
        polynomial_dual([0.5, 0.4])
    with pytest.raises(ValueError, match=">= 0"):
        polynomial_dual([1.5, -0.5])
    with pytest.raises(ValueError, match="depth"):
        nngp_ntk(np.zeros(3), "relu", -1)
    with pytest.raises(ValueError, match="xi must contain only finite"):
        nngp_ntk(np.array([np.nan]), "relu", 2)


def test_hermite_coefficients_reproduce_closed_form_duals():
    from scipy.special import erf

    xi = np.linspace(-1, 1, 41)
    # erf: Hermite coefficients decay like (2/3)^i; 90 terms reach round-off
    d = dual_from_hermite(hermite_coefficients(erf, 90))
    assert_close(d(xi), get_dual("erf")(xi), rtol=0, atol=1e-13)
    a = 2.676
    sine = lambda z: math.sqrt(2 / (1 - math.exp(-2 * a))) * np.sin(math.sqrt(a) * z)  # noqa: E731
    coeffs = hermite_coefficients(sine, 40)
    assert float(np.sum(coeffs**2)) == pytest.approx(1.0, rel=1e-13, abs=0)  # already unit second moment
    assert_close(dual_from_hermite(coeffs)(xi), sine_dual(a)(xi), rtol=0, atol=1e-13)
    # ReLU has a kink: the squared coefficients decay like i^(-5/2); 200 terms give 4.4e-4 near |xi| = 1
    relu = dual_from_hermite(hermite_coefficients(lambda z: np.maximum(z, 0.0), 200, quadrature_points=600))
    assert_close(relu(xi), get_dual("relu")(xi), rtol=0, atol=1e-3)


@given(a=st.floats(-2.0, 2.0), b=st.floats(0.1, 2.0), xi=st.floats(-1.0, 1.0))
def test_abrelu_dual_is_the_activation_kernel(a, b, xi):
    """The normalised ABRelu dual equals T(1, 1, xi) / T(1, 1, 1) of the activation (closed forms)."""
    from kernels.ntk.activations import ABRelu

    act = ABRelu(a, b)
    d = abrelu_dual(a, b)
    t, tdot = act.normalized_dual(np.array([xi]))
    assert d(np.array([xi]))[0] == pytest.approx(t[0], rel=1e-13, abs=1e-15)
    assert d.prime(np.array([xi]))[0] == pytest.approx(tdot[0], rel=1e-13, abs=1e-15)
    assert d.at_zero == pytest.approx(act.normalized_dual(np.array([0.0]))[0][0], rel=1e-14, abs=1e-16)


@pytest.mark.parametrize("name", ["2d_opt", "3d_opt", "5d_opt", "9d_opt", "hermite_2", "hermite_3"])
def test_polynomial_angle_forms_against_mpmath(name):
    """gap, cogap, value and slope at the angle keep full relative accuracy next to xi = +-1 (5d_opt has a double
    root at -1, where phĭ'(-1) = 0: its slope there was formed from a rounded cosine and lost 2e-8 at 1e-4)."""
    import mpmath as mp

    d = get_dual(name)
    coeffs = d.coefficients
    theta = np.array([1e-12, 1e-6, 1e-3, 0.5, 1.5, 2.5] + [math.pi - t for t in (1e-3, 1e-6, 1e-9, 1e-12)])
    got = [d.gap(theta, np), d.cogap(theta, np), d.value_at_angle(theta, np), d.slope_at_angle(theta, np)]
    with mp.workdps(80):
        for i, th in enumerate(theta):
            t = mp.pi - (mp.mpf(math.pi) - mp.mpf(th)) if th > math.pi / 2 else mp.mpf(th)
            xi = mp.cos(t)
            value = mp.fsum(c * xi**j for j, c in enumerate(coeffs))
            slope = mp.fsum(j * c * xi ** (j - 1) for j, c in enumerate(coeffs) if j)
            edge = min(th, math.pi - th) < 1e-2  # relative accuracy there; absolute in the middle
            for g, want in zip(got, (1 - value, 1 + value, value, slope)):
                tol = 4e-15 * abs(float(want)) + 1e-300 if edge else 4e-15
                assert abs(g[i] - float(want)) <= tol, (name, th, g[i], want)


@pytest.mark.parametrize(("a", "b"), [(0.0, 1.0), (0.3, 1.0), (-1.0, 2.0), (1.0, 1.0)])
def test_abrelu_slope_at_angle_next_to_pi(a, b):
    """phĭ'(cos theta) = 1 - m theta / pi keeps its relative accuracy next to theta = pi (ReLU: delta / pi),
    against 50 digits with the complement read as math.pi - theta."""
    import mpmath as mp

    d = abrelu_dual(a, b)
    m = (a - b) ** 2 / (a * a + b * b)
    theta = np.array([math.pi - t for t in (1e-2, 1e-6, 1e-9, 1e-12, 1e-15)] + [0.0, 1.0, math.pi])
    got = d.slope_at_angle(theta, np)
    with mp.workdps(50):
        for g, th in zip(got, theta):
            delta = mp.mpf(math.pi) - mp.mpf(float(th))
            want = (1 - mp.mpf(m)) + mp.mpf(m) * delta / mp.pi if th > 0 else mp.mpf(1)
            assert abs(g - float(want)) <= 4e-15 * abs(float(want)) + 1e-300, (a, b, th, g, want)


@given(a=st.floats(-2.0, 2.0), b=st.floats(0.1, 2.0), delta=st.floats(1e-12, 1.0))
def test_abrelu_gaps_take_the_complement(a, b, delta):
    """abrelu_gaps with theta = pi - delta and delta given exactly agrees with 1 -+ phĭ at 60 digits (relative
    accuracy where small) and with the dual's own gaps at the float angle (which reads delta as math.pi - theta)."""
    import mpmath as mp

    from kernels.ntk.duals import abrelu_gaps

    theta = np.array([math.pi - delta])
    gap, cogap = abrelu_gaps(a, b, theta, np.array([delta]))
    m = (a - b) ** 2 / (a * a + b * b)
    with mp.workdps(60):
        t = mp.pi - mp.mpf(delta)
        value = mp.cos(t) + m / mp.pi * (mp.sin(t) - t * mp.cos(t))
        for got, want in ((gap[0], 1 - value), (cogap[0], 1 + value)):
            assert abs(got - float(want)) <= 1e-14 * abs(float(want)) + 1e-300
    d = abrelu_dual(a, b)
    exact = np.array([math.pi - theta[0]])
    same = abrelu_gaps(a, b, theta, exact)
    assert same[0][0] == d.gap(theta, np)[0] and same[1][0] == d.cogap(theta, np)[0]
