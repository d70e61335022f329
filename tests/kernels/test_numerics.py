"""Tests for kernels/numerics.py: safe square root, clipped correlation, arctan2-form angles."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kernels.backend import to_numpy
from kernels.numerics import angle, clipped_correlation, determinant, normalized_angle, safe_sqrt
from tests.helpers import assert_close



@pytest.fixture(autouse=True)
def _forty_digits():
    """The mpmath references of this module at 40 digits."""
    with mpmath.workdps(40):
        yield


def test_safe_sqrt_clips_round_off(xp):
    x = xp.asarray([-1e-18, 0.0, 4.0, 2.25])
    assert_close(safe_sqrt(x), xp.asarray([0.0, 0.0, 2.0, 1.5]), xp=xp)


def test_safe_sqrt_propagates_nan():
    assert np.isnan(to_numpy(safe_sqrt(np.array([np.nan])))[0])


def test_determinant_and_correlation(xp):
    q11, q22, q12 = xp.asarray([2.0, 1.0, 0.0]), xp.asarray([8.0, 1.0, 3.0]), xp.asarray([4.0 + 1e-15, -0.5, 0.0])
    assert_close(determinant(q11, q22, q12), xp.asarray([0.0, 0.75, 0.0]), xp=xp, atol=1e-15)
    assert_close(clipped_correlation(q11, q22, q12), xp.asarray([1.0, -0.5, 0.0]), xp=xp)


def test_angle_is_exactly_zero_on_a_gram_diagonal(xp):
    q = xp.asarray(np.random.default_rng(0).uniform(1e-3, 1e3, 1000))
    theta = angle(q, q, q)
    assert float(xp.max(xp.abs(theta))) == 0.0


def test_angle_zero_variance_fill(xp):
    q = xp.asarray([0.0, 1.0])
    assert_close(angle(q, q, xp.asarray([0.0, 0.0]), zero_variance=math.pi / 2), xp.asarray([math.pi / 2] * 2), xp=xp)


@given(
    q11=st.floats(1e-3, 1e3),
    q22=st.floats(1e-3, 1e3),
    rho=st.floats(-1.0, 1.0),
)
@example(q11=1.0, q22=1.0, rho=0.0)
@example(q11=1.0, q22=1.0, rho=1.0)
@example(q11=2.0, q22=0.5, rho=-1.0)
def test_angle_matches_high_precision_arccos(q11, q22, rho):
    """theta of the float inputs (q11, q22, q12) against 40-digit arithmetic on the same floats."""
    q12 = rho * math.sqrt(q11 * q22)
    theta = float(angle(np.array(q11), np.array(q22), np.array(q12)))
    det = mpmath.mpf(q11) * q22 - mpmath.mpf(q12) ** 2
    exact = float(mpmath.atan2(mpmath.sqrt(max(det, 0)), q12))
    # the determinant is a difference of rounded products (absolute error ~ eps q11 q22); it only
    # matters where it nearly cancels, and there the angle is off by at most ~sqrt(2 eps)
    nearly_singular = float(det) < 1e-6 * q11 * q22
    tol = 3e-8 if nearly_singular else 1e-13 * max(exact, 1.0)
    assert 0.0 <= theta <= math.pi
    assert abs(theta - exact) <= tol
    assert theta == float(angle(np.array(q22), np.array(q11), np.array(q12)))


@given(rho=st.floats(-1.0, 1.0))
@example(rho=1.0 - 2.0**-52)
@example(rho=-1.0 + 2.0**-53)
def test_normalized_angle_is_relatively_accurate(rho):
    exact = float(mpmath.acos(mpmath.mpf(rho)))
    got = float(normalized_angle(np.array(rho)))
    assert got == pytest.approx(exact, rel=4e-16, abs=0.0)


def test_normalized_angle_clips(xp):
    out = normalized_angle(xp.asarray([1.0 + 1e-15, -1.0 - 1e-15]))
    assert_close(out, xp.asarray([0.0, math.pi]), xp=xp)


@given(theta=st.floats(1e-200, math.pi))
@example(theta=1e-200)
@example(theta=0.9999)
@example(theta=1.0)
@example(theta=0.625)
def test_sin_minus_theta_cos_against_mpmath(theta):
    """Within 3 ulps (6.7e-16 relative) of 700-digit arithmetic."""
    from kernels.numerics import sin_minus_theta_cos

    got = float(sin_minus_theta_cos(np.array([theta]))[0])
    with mpmath.workdps(700):  # the two terms cancel to ~theta^3: enough digits for theta down to 1e-200
        t = mpmath.mpf(theta)
        want = mpmath.sin(t) - t * mpmath.cos(t)
    assert abs(got - float(want)) <= 6.7e-16 * abs(float(want)) + 1e-320


@given(a=st.floats(-1.0, 1.0), b=st.floats(-1.0, 1.0))
def test_asin_difference_against_mpmath(a, b):
    from kernels.numerics import asin_difference

    ma, mb = mpmath.mpf(a), mpmath.mpf(b)
    ra, rb = float(mpmath.sqrt(1 - ma * ma)), float(mpmath.sqrt(1 - mb * mb))
    got = float(asin_difference(np.array([a]), np.array([b]), np.array([ra]), np.array([rb]), np.array([float(ma * ma - mb * mb)]))[0])
    want = mpmath.asin(ma) - mpmath.asin(mb)
    assert abs(got - float(want)) <= 1e-15 * abs(float(want)) + 1e-300


@given(seed=st.integers(0, 2**32 - 1), gap=st.floats(1e-14, 1.0), sign=st.sampled_from([1.0, -1.0]))
def test_pair_angle_is_accurate_for_near_parallel_and_antipodal_rows(seed, gap, sign):
    from kernels.numerics import pair_angle, unit_rows

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, 4))
    y = sign * x + gap * rng.normal(size=(1, 4))
    got = float(pair_angle(unit_rows(x), unit_rows(y))[0, 0])
    mx, my = [mpmath.mpf(v) for v in x[0]], [mpmath.mpf(v) for v in y[0]]
    cos = mpmath.fsum(a * b for a, b in zip(mx, my)) / mpmath.sqrt(mpmath.fsum(a * a for a in mx) * mpmath.fsum(b * b for b in my))
    want = mpmath.acos(cos)
    assert abs(got - float(want)) <= 4e-16 * math.pi  # absolute: what the kernels need


def test_angle_from_gaps():
    from kernels.numerics import angle_from_gaps

    theta = np.array([1e-150, 1e-8, 1.0, 3.0])
    gap, cogap = 2 * np.sin(theta / 2) ** 2, 2 * np.cos(theta / 2) ** 2
    assert_close(angle_from_gaps(gap, cogap), theta, rtol=4e-16)
