"""Tests for kernels/ntk/activations.py: aliases, name lookup, closed forms against quadrature and pinned values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kernels.ntk.activations import (
    ACTIVATIONS,
    ABRelu,
    Abs,
    Cos,
    Erf,
    Gelu,
    Hermite,
    LeakyRelu,
    Polynomial,
    Quadrature,
    Rbf,
    Relu,
    Sign,
    Sin,
    gauss_hermite_kernel,
    get_activation,
)
from tests.helpers import assert_close


def test_aliases_are_the_general_forms():
    assert Relu() == ABRelu(0.0, 1.0)
    assert LeakyRelu(0.2) == ABRelu(0.2, 1.0)
    assert Abs() == ABRelu(-1.0, 1.0)
    assert Cos(1.5, 0.5, 0.25) == Sin(1.5, 0.5, 0.25 + math.pi / 2)
    x = np.linspace(-3, 3, 13)
    np.testing.assert_array_equal(Relu().fn(x), np.maximum(x, 0))
    np.testing.assert_array_equal(LeakyRelu(0.2).fn(x), np.where(x > 0, x, 0.2 * x))
    np.testing.assert_array_equal(Abs().fn(x), np.abs(x))
    np.testing.assert_allclose(Cos(1.5, 0.5, 0.25).fn(x), 1.5 * np.cos(0.5 * x + 0.25), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(
    "name, params, expected",
    [
        ("relu", {}, ABRelu(0.0, 1.0)),
        ("ReLU", {}, ABRelu(0.0, 1.0)),
        ("leaky_relu", {"alpha": 0.1}, ABRelu(0.1, 1.0)),
        ("leaky-relu", {}, ABRelu(0.01, 1.0)),
        ("abs", {}, ABRelu(-1.0, 1.0)),
        ("ab_relu", {"a": 0.5, "b": 2.0}, ABRelu(0.5, 2.0)),
        ("erf", {}, Erf()),
        ("sign", {}, Sign()),
        ("gelu", {}, Gelu()),
        ("sin", {"a": 2.0}, Sin(2.0, 1.0, 0.0)),
        ("cos", {}, Sin(1.0, 1.0, math.pi / 2)),
        ("rbf", {"gamma": 0.5}, Rbf(0.5)),
        ("hermite", {"degree": 3}, Hermite(3)),
        ("polynomial", {"coefficients": [1, 2]}, Polynomial((1.0, 2.0))),
    ],
)
def test_name_lookup(name, params, expected):
    assert get_activation(name, **params) == expected


def test_lookup_errors_and_passthrough():
    with pytest.raises(ValueError, match="activation must be one of"):
        get_activation("swish")
    with pytest.raises(TypeError, match="hermite"):
        get_activation("hermite")
    with pytest.raises(TypeError, match="activation must be"):
        get_activation(3.0)
    act = Erf(2.0)
    assert get_activation(act) is act
    assert isinstance(get_activation(np.tanh), Quadrature)
    assert set(ACTIVATIONS) >= {"relu", "erf", "abs", "leaky_relu", "sign", "gelu", "sin", "cos", "rbf", "hermite"}
    with pytest.raises(ValueError, match="degree"):
        Hermite(-1)
    with pytest.raises(ValueError, match="coefficients"):
        Polynomial(())
    with pytest.raises(TypeError, match="callable"):
        Quadrature(1.0)
    with pytest.raises(ValueError, match="degree"):
        Quadrature(np.tanh, degree=0)


SMOOTH = [
    Erf(1.3, 0.7, 0.2),
    Erf(),
    Gelu(),
    Sin(1.2, 0.8, 0.3),
    Cos(0.9, 1.1, 0.2),
    Rbf(0.6),
    Polynomial((0.3, -1.0, 0.5, 0.2, -0.1)),
]


@pytest.mark.parametrize("act", SMOOTH, ids=repr)
@settings(max_examples=10)  # each example is a 150 x 150 quadrature
@given(q11=st.floats(0.05, 3.0), q22=st.floats(0.05, 3.0), rho=st.floats(-0.999, 0.999))
@example(q11=1.0, q22=1.0, rho=0.0)
@example(q11=2.0, q22=0.5, rho=0.999)
def test_closed_form_equals_quadrature(act, q11, q22, rho):
    """Gauss-Hermite quadrature (degree 150) of E[phi phi] and E[phi' phi'] reproduces the closed form."""
    q11, q22 = np.array([q11]), np.array([q22])
    q12 = rho * np.sqrt(q11 * q22)
    t, tdot = act.kernel(q11, q22, q12)
    tq, tdotq = gauss_hermite_kernel(act.fn, act.derivative, q11, q22, q12, degree=150)
    scale_t = max(1.0, float(np.max(np.abs(tq))))
    scale_d = max(1.0, float(np.max(np.abs(tdotq))))
    assert np.max(np.abs(t - tq)) <= 1e-8 * scale_t
    assert np.max(np.abs(tdot - tdotq)) <= 1e-8 * scale_d


@pytest.mark.parametrize("act", [Erf(1.3, 0.7, 0.2), Gelu(), Sin(1.2, 0.8, 0.3), Rbf(0.6)], ids=repr)
def test_quadrature_activation_equals_closed_form(act):
    """A plain callable (numerical derivative) evaluated by quadrature matches the closed form to 1e-8."""
    generic = get_activation(lambda x: act.fn(x), degree=100)
    rng = np.random.default_rng(3)
    q11, q22 = rng.uniform(0.2, 2.0, (3, 1)), rng.uniform(0.2, 2.0, (1, 4))
    q12 = rng.uniform(-0.99, 0.99, (3, 4)) * np.sqrt(q11 * q22)
    t, tdot = act.kernel(q11, q22, q12)
    tq, tdotq = generic.kernel(q11, q22, q12)
    np.testing.assert_allclose(tq, t, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(tdotq, tdot, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("degree", [0, 1, 2, 3, 5])
def test_hermite_closed_form_on_unit_variance(degree):
    act = Hermite(degree)
    one = np.ones(5)
    q12 = np.linspace(-0.95, 0.95, 5)
    t, tdot = act.kernel(one, one, q12)
    tq, tdotq = gauss_hermite_kernel(act.fn, act.derivative, one, one, q12, degree=30)
    np.testing.assert_allclose(t, tq, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(tdot, tdotq, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("act", [Relu(), LeakyRelu(0.3), Abs(), ABRelu(-0.4, 1.7)], ids=repr)
def test_ab_relu_pinned_values(act):
    a, b = act.a, act.b
    q11, q22 = np.array([2.0, 2.0, 2.0]), np.array([0.5, 0.5, 0.5])
    q12 = np.array([0.0, 1.0, -1.0])  # rho = 0, 1, -1
    t, tdot = act.kernel(q11, q22, q12)
    c = (a * a + b * b) / 2
    # rho = 0: E[phi(u)] E[phi(v)] = (b - a)^2 sqrt(q11 q22) / (2 pi); rho = +1: c q12; rho = -1: a b q12
    np.testing.assert_allclose(t, [(a - b) ** 2 / (2 * math.pi), c, -a * b], rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(tdot, [c - (a - b) ** 2 / 4, c, a * b], rtol=1e-15, atol=1e-16)


def test_ab_relu_normalized_dual_matches_relu_formula():
    rho = np.linspace(-1, 1, 101)
    value, slope = Relu().normalized_dual(rho)
    theta = np.arccos(rho)
    np.testing.assert_allclose(value, (np.sin(theta) + (math.pi - theta) * rho) / math.pi, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(slope, (math.pi - theta) / math.pi, rtol=1e-13, atol=1e-15)
    assert value[-1] == 1.0 and slope[-1] == 1.0


def test_sign_and_erf_pinned_values():
    one = np.ones(3)
    t, tdot = Sign().kernel(one, one, np.array([0.0, 1.0, -1.0]))
    np.testing.assert_allclose(t, [0.0, 1.0, -1.0], atol=1e-15)
    np.testing.assert_array_equal(tdot, 0.0)
    t, tdot = Sign().kernel(np.zeros(1), one[:1], np.zeros(1))
    assert t[0] == 0.0  # a zero-variance input has sign 0
    t, tdot = Erf(1.0, 1.0, 0.5).kernel(one, one, np.zeros(3))
    np.testing.assert_allclose(t, 0.25, rtol=1e-15)
    np.testing.assert_allclose(tdot, 4 / math.pi / 3, rtol=1e-15)


def test_numerical_derivative_default():
    act = Quadrature(np.tanh)
    x = np.linspace(-3, 3, 25)
    np.testing.assert_allclose(act.derivative(x), 1 / np.cosh(x) ** 2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("act", [Relu(), Erf(1.1, 0.9, 0.1), Sign(), Gelu(), Sin(1, 2, 0.3), Rbf(0.5), Hermite(3),
                                 Polynomial((1.0, 0.5, 0.25))], ids=repr)
def test_backends_agree(xp, act):
    rng = np.random.default_rng(1)
    q11, q22 = rng.uniform(0.5, 2, (4, 1)), rng.uniform(0.5, 2, (1, 3))
    q12 = rng.uniform(-0.9, 0.9, (4, 3)) * np.sqrt(q11 * q22)
    t_np, tdot_np = act.kernel(q11, q22, q12)
    t, tdot = act.kernel(xp.asarray(q11), xp.asarray(q22), xp.asarray(q12))
    assert_close(t, t_np, xp=xp, rtol=1e-14, atol=1e-15)
    assert_close(tdot, tdot_np, xp=xp, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("act", [Relu(), LeakyRelu(0.2), Abs(), ABRelu(-0.3, 0.8), Erf(), Erf(1.3, 0.7, 0.0),
                                 Erf(1.1, 0.9, 0.4), Sign()], ids=repr)
@given(q11=st.floats(0.05, 20.0), q22=st.floats(0.05, 20.0), theta=st.floats(0.0, math.pi))
@example(q11=1.0, q22=1.0, theta=1e-9)
@example(q11=2.0, q22=0.5, theta=math.pi - 1e-9)
@example(q11=1.5, q22=1.5, theta=math.pi - 1e-7)
def test_pair_is_the_kernel_with_a_stable_output_angle(act, q11, q22, theta):
    """pair(): T12, Tdot and the output angle of [[t11, T12], [T12, t22]] with its complement against the closed
    forms at 100 digits (T12 to 1e-14 of sqrt(t11 t22), Tdot and the angles to 1e-14 absolute, and each angle
    below 1 to 1e-13 relative, erf only for equal variances), degenerate pairs included."""
    import mpmath

    q11a, q22a, th = np.array([q11]), np.array([q22]), np.array([theta])
    t11, t22 = act.kernel(q11a, q11a, q11a)[0], act.kernel(q22a, q22a, q22a)[0]
    t12, tdot, theta_t, comp_t = act.pair(q11a, q22a, th, np.cos(th), t11, t22, comp=math.pi - th)
    for got, default in zip((t12, tdot, theta_t, comp_t), act.pair(q11a, q22a, th, np.cos(th), t11, t22)):
        assert np.array_equal(got, default)  # comp defaults to math.pi - theta
    scale = math.sqrt(float(t11[0] * t22[0]))
    with mpmath.workdps(100):  # arccos next to -1 and the determinant both halve the digits
        a, b, t = (mpmath.mpf(v) for v in (q11, q22, theta))
        if theta > math.pi / 2:  # math.pi stands for pi (the package's convention): pi - theta is exact
            t = mpmath.pi - (mpmath.mpf(math.pi) - t)
        c = mpmath.sqrt(a * b) * mpmath.cos(t)

        def T(x, y, z):
            if isinstance(act, ABRelu):
                ang = mpmath.acos(max(min(z / mpmath.sqrt(x * y), 1), -1))
                td = (act.a**2 + act.b**2) / 2 - (act.a - act.b) ** 2 * ang / (2 * mpmath.pi)
                return (act.a - act.b) ** 2 / (2 * mpmath.pi) * mpmath.sqrt(max(x * y - z * z, 0)) + td * z
            if isinstance(act, Erf):
                b2 = mpmath.mpf(act.b) ** 2
                root = mpmath.sqrt((1 + 2 * b2 * x) * (1 + 2 * b2 * y) - 4 * b2 * b2 * z * z)
                return act.a**2 * 2 / mpmath.pi * mpmath.atan2(2 * b2 * z, root) + act.c**2
            return 1 - 2 * mpmath.acos(max(min(z / mpmath.sqrt(x * y), 1), -1)) / mpmath.pi

        def Tdot(x, y, z):
            if isinstance(act, ABRelu):
                ang = mpmath.acos(max(min(z / mpmath.sqrt(x * y), 1), -1))
                return (act.a**2 + act.b**2) / 2 - (act.a - act.b) ** 2 * ang / (2 * mpmath.pi)
            if isinstance(act, Erf):
                b2 = mpmath.mpf(act.b) ** 2
                root = mpmath.sqrt((1 + 2 * b2 * x) * (1 + 2 * b2 * y) - 4 * b2 * b2 * z * z)
                return act.a**2 * b2 * 4 / mpmath.pi / root
            return mpmath.mpf(0)

        s11, s22, s12 = T(a, a, a), T(b, b, b), T(a, b, c)
        want = mpmath.atan2(mpmath.sqrt(max(s11 * s22 - s12 * s12, 0)), s12)
        want_comp = mpmath.pi - want
        want_tdot = Tdot(a, b, c)
    assert abs(theta_t[0] - float(want)) <= 1e-14 * math.pi
    for got, exact in ((theta_t[0], want), (comp_t[0], want_comp)):
        # relative where small, above 1e-15 (the reference's arccos next to 1 keeps 50 of its 100 digits, so its
        # determinant errs by 1e-50 and its angle by 1e-50 / exact); not for erf with q11 != q22, whose radial
        # part of the determinant cancels (relative error ~ eps / |q11 - q22| where the output angle is small)
        relative = 1e-15 < exact < 1 and (q11 == q22 or not isinstance(act, Erf))
        assert abs(got - float(exact)) <= (1e-13 * float(exact) if relative else 1e-14 * math.pi), (got, exact)
    assert abs(t12[0] - float(s12)) <= 1e-14 * scale
    assert abs(tdot[0] - float(want_tdot)) <= 1e-14 * max(1.0, abs(float(want_tdot)))  # absolute: it multiplies the NTK


@pytest.mark.parametrize("act", [Relu(), LeakyRelu(0.2), Abs(), ABRelu(-0.3, 0.8)], ids=repr)
@pytest.mark.parametrize("delta", [1e-2, 1e-6, 1e-12, 3e-17])
def test_abrelu_pair_next_to_antipodal_is_relatively_accurate(act, delta):
    """pair() at theta = pi - delta with comp = delta: Tdot = a b + (a - b)^2 delta / (2 pi) and T12 (ReLU:
    ~ delta^3) to 1e-14 relative of the closed forms (module docstring) at theta = pi - delta in 150 digits (from
    the float theta they were 0 and 1e-17 sqrt(q11 q22))."""
    import mpmath

    q11, q22 = np.array([1.3]), np.array([0.6])
    theta, comp = np.array([math.pi - delta]), np.array([delta])
    t12, tdot, _, _ = act.pair(q11, q22, theta, -np.cos(comp), None, None, comp=comp)
    with mpmath.workdps(150):  # the closed forms cancel to delta^3 next to pi
        th = mpmath.pi - mpmath.mpf(delta)
        a, b, x, y = (mpmath.mpf(v) for v in (act.a, act.b, 1.3, 0.6))
        q12 = mpmath.sqrt(x * y) * mpmath.cos(th)
        want_tdot = (a * a + b * b) / 2 - (a - b) ** 2 * th / (2 * mpmath.pi)
        want_t12 = (a - b) ** 2 / (2 * mpmath.pi) * mpmath.sqrt(x * y - q12 * q12) + want_tdot * q12
    assert abs(tdot[0] - float(want_tdot)) <= 1e-14 * abs(float(want_tdot))
    assert abs(t12[0] - float(want_t12)) <= 1e-14 * abs(float(want_t12))
