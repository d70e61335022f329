"""Tests for kernels/ntk/depth.py: direct and log-domain recursions and the depth tables."""

from __future__ import annotations

import functools
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
        assert ntk[-1] == pytest.approx(sum(k**l for l in range(depth + 1)), rel=1e-15, abs=0)


@given(name=st.sampled_from(["2d_opt", "5d_opt", "9d_opt", "hermite_2", "hermite_3"]), depth=st.integers(0, 8),
       xi=st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=20))
def test_log_domain_recursion_matches_linear(name, depth, xi):
    xi = np.asarray(xi)
    sigma, ntk = nngp_ntk(xi, name, depth)
    ls, ss, lk, sk = log_nngp_ntk(xi, name, depth)
    keep = np.abs(sigma) > 1e-250
    # the linear recursion rounds to eps absolute where p has a root (5d_opt's double root at -1): there the
    # log domain is the accurate one (test_log_domain_keeps_the_double_root_at_minus_one)
    assert_close((ss * np.exp(ls))[keep], sigma[keep], rtol=1e-12, atol=8 * (depth + 1) * np.finfo(float).eps)
    keep = (np.abs(ntk) > 1e-250 * np.max(np.abs(ntk))) & (np.abs(ntk) > 1e-290)  # subnormals carry fewer digits
    assert_close((sk * np.exp(lk))[keep], ntk[keep], rtol=1e-10, atol=1e-14 * np.max(np.abs(ntk)))


@pytest.mark.parametrize("one_plus_xi", [2.0**-53, 1e-12, 1e-8, 1e-5, 1e-2])
def test_log_domain_keeps_the_double_root_at_minus_one(one_plus_xi):
    """5d_opt: phĭ(xi) = xi (1 + xi)^2 / 4, phĭ' = (1 + xi)(1 + 3 xi) / 4, against 60-digit mpmath at depths 1-5:
    Sigma^L and K^L to 5e-14 relative next to -1, where the expansion about -1 in expm1 terms cancelled to
    a factor 2 (Sigma^1 = -6.2e-33 for -3.1e-33 at 1 + xi = 2^-53)."""
    import mpmath as mp

    xi = -1.0 + one_plus_xi
    for depth in (1, 2, 5):
        ls, ss, lk, sk = log_nngp_ntk(np.array([xi]), "5d_opt", depth)
        with mp.workdps(60):
            s = k = mp.mpf(xi)
            for _ in range(depth):
                s, k = s * (1 + s) ** 2 / 4, s * (1 + s) ** 2 / 4 + k * (1 + s) * (1 + 3 * s) / 4
            s, k = float(s), float(k)
        assert float(ss[0] * np.exp(ls[0])) == pytest.approx(s, rel=5e-14, abs=0)
        assert float(sk[0] * np.exp(lk[0])) == pytest.approx(k, rel=5e-14, abs=0)


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


def test_singular_log_offsets_are_double_doubles_from_depth_ln_c_of_1000():
    """The offsets L ln phĭ'(0) and L ln phĭ'(0) - (L + 1) ln phĭ'(1) start where |L ln phĭ'(0)| reaches 1000
    (2d_opt, phĭ'(0) = 1/2: L = 1443), as hi + lo within 1e-30 relative of 40-digit arithmetic; none for
    a majority-vote dual."""
    import mpmath as mp

    from kernels.ntk.depth import _log_offsets
    from kernels.ntk.duals import get_dual

    d = get_dual("2d_opt")
    assert _log_offsets(d, 1442) == ((0.0, 0.0), (0.0, 0.0))
    (hs, ls_), (hn, ln_) = _log_offsets(d, 1443)
    with mp.workdps(40):
        want_s = 1443 * mp.log(mp.mpf(d.slope_at_zero))
        want_n = want_s - 1444 * mp.log(mp.mpf(d.slope_at_one))
        assert abs(mp.mpf(hs) + ls_ - want_s) <= 1e-30 * abs(want_s) and hs == float(want_s)
        assert abs(mp.mpf(hn) + ln_ - want_n) <= 1e-30 * abs(want_n) and hn == float(want_n)
    assert _log_offsets(get_dual("relu"), 10**6) == ((0.0, 0.0), (0.0, 0.0))


@pytest.mark.parametrize("name, depth", [("erf", 200_000), ("sine_2.676", 50_000), ("3d_opt", 200_000)])
def test_deep_odd_singular_tables_keep_their_ends_exactly(name, depth):
    """Odd duals keep +-1: Sigma^L(+-1) = N^L(+-1) = +-1 and log 0 exactly, also where the table stores its
    logs less L ln phĭ'(0) ~ -1e5 (the offset's low part must cancel, not double)."""
    table = tabulate_depth(name, depth)
    sigma, ntk = table.at_angle(np.array([0.0, math.pi]), normalized=True)
    assert sigma.tolist() == [1.0, -1.0] and ntk.tolist() == [1.0, -1.0]
    log_s, sign_s, log_n, sign_n = table.log(np.array([1.0, -1.0]))
    assert log_s.tolist() == [0.0, 0.0] and log_n.tolist() == [0.0, 0.0] and sign_s.tolist() == [1.0, -1.0]


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
    assert deep.ntk_at_one == pytest.approx(200_001, rel=1e-12, abs=0)
    # repelling duals (phĭ'(1) = 2): the cosine recursion stays in [-1, 1]; K^L(1) = 2^(L+1) - 1 in logs
    table = tabulate_depth("3d_opt", 2000)
    sigma, ntk = table(xi, normalized=True)
    assert np.all(np.isfinite(sigma)) and np.all(np.abs(sigma) <= 1.0) and np.all(np.isfinite(ntk))
    assert table.log_ntk_at_one == pytest.approx(2001 * math.log(2.0), rel=1e-12, abs=0)
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


# --- accuracy and cost at depth (issue 12, section 3) --------------------------------------------

# (theta, Sigma^L, K^L / K^L(1)) of the normalised ReLU recursion, 32-digit mpmath
# (proofs_check.references.ntk_normalized_recursion; recomputed by test_relu_pins_match_mpmath, marked slow)
RELU_PINS = {
    1000: [
        (1e-09, "0.9999999999999999995", "0.99999984084508502421"),
        (1e-05, "0.99999999995010593483", "0.99841125772152740103"),
        (0.001, "0.99999959133636713998", "0.86507405669331606169"),
        (0.5, "0.99995774324325089038", "0.25589524731238183771"),
        (1.5707963267948966, "0.99995687026745078599", "0.25329052538844917573"),
        (2.5, "0.9999567902269009205", "0.25305566290172672065"),
        (3.141492653589793, "0.99995678501116428628", "0.25304038107814236251"),
        (3.141592643589793, "0.99995678501116428626", "0.25304038107814831472"),
        (3.141592653589793, "0.99995678501116428626", "0.25304038107814831532"),
    ],
    10000: [
        (1e-09, "0.9999999999999999995", "0.99999840845338327159"),
        (1e-05, "0.99999999995104438349", "0.98436151265220024174"),
        (0.001, "0.99999988230673878837", "0.45869503828774794909"),
        (0.5, "0.99999955839935047756", "0.25067775020074404159"),
        (1.5707963267948966, "0.99999955748072640199", "0.25041741105564590407"),
        (2.5, "0.99999955739775637005", "0.25039393716705446706"),
        (3.141492653589793, "0.9999995573923569342", "0.25039240978695039992"),
        (3.141592643589793, "0.9999995573923569342", "0.25039240978695039467"),
        (3.141592653589793, "0.9999995573923569342", "0.25039240978695039467"),
    ],
    100000: [
        (1e-09, "0.9999999999999999995", "0.99998408478713127886"),
        (1e-05, "0.99999999995913245911", "0.86509285327835499868"),
        (0.001, "0.99999999629104373988", "0.27355210968785735144"),
        (0.5, "0.99999999556152555528", "0.25007642862493196363"),
        (1.5707963267948966, "0.99999999556060133339", "0.25005039589877723888"),
        (2.5, "0.99999999556051798529", "0.25004804861728339467"),
        (3.141492653589793, "0.99999999556051256198", "0.25004789588625975743"),
        (3.141592643589793, "0.99999999556051256198", "0.25004789588625975684"),
        (3.141592653589793, "0.99999999556051256198", "0.25004789588625975684"),
    ],
    200000: [
        (1e-09, "0.9999999999999999995", "0.99996817013713115033"),
        (1e-05, "0.99999999996597356083", "0.76671674742839398071"),
        (0.001, "0.99999999898740253291", "0.26178378029283281429"),
        (0.5, "0.99999999889003706875", "0.25003951448155363847"),
        (1.5707963267948966, "0.99999999888992149712", "0.2500264981510773472"),
        (2.5, "0.99999999888991107554", "0.25002532451327070879"),
        (3.141492653589793, "0.99999999888991039743", "0.25002524814795021034"),
        (3.141592643589793, "0.99999999888991039743", "0.25002524814795021004"),
        (3.141592653589793, "0.99999999888991039743", "0.25002524814795021004"),
    ],
}


@pytest.mark.parametrize("depth", sorted(RELU_PINS))
def test_deep_relu_table_against_mpmath(depth):
    """Within 1e-10 relative at every depth to 2e5 (measured: <= 3e-11 for the NTK, <= 2e-16 for Sigma),
    at angles from 1e-9 to pi; evaluated at the angle (a cosine next to 1 has lost the angle's digits)."""
    table = tabulate_depth("relu", depth)
    theta = np.array([p[0] for p in RELU_PINS[depth]])
    sigma, ntk = table.at_angle(theta, normalized=True)
    for (th, s_ref, k_ref), s, k in zip(RELU_PINS[depth], sigma, ntk):
        assert abs(s - float(s_ref)) <= 1e-10 * abs(float(s_ref)), th
        assert abs(k - float(k_ref)) <= 1e-10 * abs(float(k_ref)), th


@pytest.mark.slow
@pytest.mark.parametrize("depth", [1000, 10000])
def test_relu_pins_match_mpmath(depth):
    from proofs_check.references import ntk_normalized_recursion

    for th, s_ref, k_ref in RELU_PINS[depth][:3]:
        s, k = ntk_normalized_recursion("relu", th, depth, dps=32)
        assert abs(float(s) - float(s_ref)) <= 1e-18 and abs(float(k) - float(k_ref)) <= 1e-18


@pytest.mark.parametrize("name,depth", [("erf", 60), ("sine_2.676", 40), ("3d_opt", 60), ("5d_opt", 60),
                                        ("hermite_2", 12), ("relu", 300), ("9d_opt", 60), ("2d_opt", 30)])
def test_tables_against_mpmath_recursion(name, depth):
    """Singular, 1-NN and majority-vote duals: within 1e-10 relative of 60-digit arithmetic at angles from
    1e-9 to pi - 1e-8 (measured <= 3.6e-12); Sigma^L(0) = 0 exactly for odd duals."""
    from proofs_check.references import ntk_normalized_recursion

    coefficients = {"3d_opt": (0.0, 0.5, 0.0, 0.5), "5d_opt": (0.0, 0.25, 0.5, 0.25), "hermite_2": (0.0, 0.0, 1.0),
                    "9d_opt": (0.0, 1 / 16, 7 / 8, 1 / 16), "2d_opt": (0.0, 0.5, 0, 0, 0, 0, 0, 0.5)}
    table = tabulate_depth(name, depth)
    theta = np.array([1e-9, 1e-5, 1e-3, 0.5, 1.2, 2.0, 2.5, math.pi - 1e-4, math.pi - 1e-8])
    sigma, ntk = table.at_angle(theta, normalized=True)
    for th, s, k in zip(theta, sigma, ntk):
        s_ref, k_ref = (float(v) for v in ntk_normalized_recursion(coefficients.get(name, name), th, depth, dps=60))
        assert abs(s - s_ref) <= 1e-10 * abs(s_ref), (th, s, s_ref)
        assert abs(k - k_ref) <= 1e-10 * abs(k_ref), (th, k, k_ref)


@pytest.mark.parametrize("depth", [1, 7, 60])
def test_double_root_next_to_antipodal(depth):
    """5d_opt (xi (1 + xi)^2 / 4, a double root at -1) at pi - delta, delta from 1e-2 to 1e-12: Sigma^L and
    K^L / K^L(1) (down to 1e-85) within 1e-12 relative of 150-digit arithmetic (measured <= 5.5e-14).  The slope
    phĭ'(xi) = (1 + xi)(1 + 3 xi) / 4 is taken in powers of 1 + xi (from a rounded cosine it lost 2e-8 at
    delta = 1e-4 and everything at 1e-8), and the log-interpolation test measures curvature in u, where the
    nodes next to pi (floats 4.4e-16 apart) are unevenly spaced."""
    from proofs_check.references import ntk_normalized_recursion

    table = tabulate_depth("5d_opt", depth)
    theta = np.array([math.pi - d for d in (1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12)])
    sigma, ntk = table.at_angle(theta, normalized=True)
    for th, s, k in zip(theta, sigma, ntk):
        s_ref, k_ref = (float(v) for v in ntk_normalized_recursion((0.0, 0.25, 0.5, 0.25), th, depth, dps=150))
        assert abs(s - s_ref) <= 1e-12 * abs(s_ref) and abs(k - k_ref) <= 1e-12 * abs(k_ref), (th, s, s_ref, k, k_ref)


@functools.lru_cache(maxsize=None)
def _table_100(name):
    return tabulate_depth(name, 100)


@pytest.mark.parametrize("name", ["erf", "sine_2.676", "3d_opt", "2d_opt", "hermite_3"])
@given(xi=st.floats(-1.0, 1.0))
def test_odd_duals_are_exactly_odd(name, xi):
    table = _table_100(name)
    pos, neg = table(np.array([xi]), normalized=True), table(np.array([-xi]), normalized=True)
    assert pos[0][0] == -neg[0][0] and pos[1][0] == -neg[1][0]
    zero = table(np.array([0.0]), normalized=True)
    assert zero[0][0] == 0.0 and zero[1][0] == 0.0  # it was 2.9e-21 for erf at L = 100


@pytest.mark.parametrize("name,depth", [("hermite_2", 10**6), ("relu", 10**6), ("erf", 200_000),
                                        ("3d_opt", 200_000), ("9d_opt", 10**6), ("sine_2.676", 200_000)])
def test_table_cost_does_not_grow_with_depth(name, depth):
    """Every regime: the tail of the recursion is summed in closed form or the maps are composed by binary
    powering; hermite_2 at 1e6 took more than 30 s.  Budget: 5 s on a loaded 2-core machine."""
    import time

    start = time.perf_counter()
    table = tabulate_depth(name, depth)
    assert time.perf_counter() - start < 5.0
    sigma, ntk = table(np.array([-1.0, -0.5, 0.0, 0.5, 1.0]), normalized=True)
    assert np.all(np.isfinite(sigma)) and np.all(np.isfinite(ntk)) and sigma[-1] == 1.0 and ntk[-1] == 1.0


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_monomial_tables_keep_the_sign_at_shallow_depth(depth):
    """xi^(k^L) for negative xi: positive for even k once L >= 1, the sign of xi for odd k (and at L = 0)."""
    xi = np.array([-0.5, -0.9, 0.7])
    for k in (2, 3):
        sigma, ntk = tabulate_depth(f"hermite_{k}", depth)(xi, normalized=True)
        assert_close(sigma, xi ** (k**depth), rtol=1e-13)
        assert_close(ntk, xi ** (k**depth), rtol=1e-13)


def test_hermite_k_tables_are_exact_monomials():
    """Sigma^L = xi^(k^L) and K^L / K^L(1) = Sigma^L for the dual xi^k, at any depth."""
    table = tabulate_depth("hermite_2", 10)
    xi = np.array([0.3, 0.9, 0.999, -0.7])
    sigma, ntk = table(xi, normalized=True)
    assert_close(sigma, xi ** 1024, rtol=1e-12, atol=1e-300)
    assert_close(ntk, xi ** 1024, rtol=1e-12, atol=1e-300)
    log_sigma = tabulate_depth("hermite_3", 500).log(np.array([0.5]))[0]
    assert_close(log_sigma, 3.0**500 * np.log(np.array([0.5])), rtol=1e-12)


def test_singular_tail_in_closed_form_against_mpmath():
    """erf at depth 1000, 3d_opt and 5d_opt at 400: the layers past |Sigma| < 1e-20 are summed in closed form;
    log|Sigma^L| and log|K^L / K^L(1)| (values down to 1e-360) within 1e-10 relative of 32-digit arithmetic."""
    import mpmath as mp

    from proofs_check.references import ntk_normalized_recursion

    for name, coefficients, depth in (("erf", "erf", 1000), ("3d_opt", (0.0, 0.5, 0.0, 0.5), 400),
                                      ("5d_opt", (0.0, 0.25, 0.5, 0.25), 400)):
        table = tabulate_depth(name, depth)
        theta = np.array([0.5, 1.2, 2.0])
        log_s, _, log_k, _ = table.log(np.cos(theta))
        for i, th in enumerate(theta):
            s_ref, k_ref = ntk_normalized_recursion(coefficients, th, depth, dps=32)
            want_s, want_k = float(mp.log(abs(s_ref))), float(mp.log(abs(k_ref)))
            assert abs(log_s[i] - want_s) <= 1e-10 * abs(want_s) and abs(log_k[i] - want_k) <= 1e-10 * abs(want_k), name


@pytest.mark.parametrize("coefficients,depth", [((0.0, 0.0, 0.7, 0.3), 200), ((0.0, 0.0, 0.0, 0.6, 0.0, 0.4), 120)])
def test_one_nn_tail_of_a_general_polynomial_against_mpmath(coefficients, depth):
    """0.7 xi^2 + 0.3 xi^3 at depth 200 (past the tail, ~140 layers for the node next to xi = 1) and
    0.6 xi^3 + 0.4 xi^5 at depth 120 (lowest power k = 3, so the tail's g = ln c_k / (k - 1) is not ln c_k):
    log|Sigma^L| (to -1e95) and log|K^L / K^L(1)| from the closed-form tail within 1e-10 relative of 60-digit
    arithmetic, signs included."""
    import mpmath as mp

    from kernels.ntk.duals import polynomial_dual

    table = tabulate_depth(polynomial_dual(coefficients), depth)
    xi = np.array([0.3, 0.8, -0.6, 0.999])
    log_s, sign_s, log_k, sign_k = table.log(xi)
    c = [mp.mpf(v) for v in coefficients]
    with mp.workdps(60):
        slope_one = sum(j * v for j, v in enumerate(c))
        for i, x0 in enumerate(xi):
            s, k, k1 = mp.mpf(x0), mp.mpf(x0), mp.mpf(1)
            for _ in range(depth):
                s_next = mp.fsum(v * s**j for j, v in enumerate(c))
                k = s_next + k * mp.fsum(j * v * s ** (j - 1) for j, v in enumerate(c) if j)
                k1 = 1 + slope_one * k1
                s = s_next
            want_s, want_k = float(mp.log(abs(s))), float(mp.log(abs(k / k1)))
            assert abs(log_s[i] - want_s) <= 1e-10 * abs(want_s) and sign_s[i] == mp.sign(s)
            assert abs(log_k[i] - want_k) <= 1e-10 * abs(want_k) and sign_k[i] == mp.sign(k)


# --- edges of the tables and recursions (each pins a value a mutation of depth.py would change) ----------


@pytest.mark.parametrize("name,depth", [("relu", 1), ("relu", 100), ("3d_opt", 1), ("5d_opt", 2), ("erf", 1)])
def test_table_ends_against_mpmath(name, depth):
    """Sigma^L and K^L / K^L(1) at xi = +-1 (theta = 0, pi), by the direct and (ReLU at 100) the doubling path,
    within 1e-13 of 40-digit arithmetic."""
    from proofs_check.references import ntk_normalized_recursion

    coefficients = {"3d_opt": (0.0, 0.5, 0.0, 0.5), "5d_opt": (0.0, 0.25, 0.5, 0.25)}
    table = tabulate_depth(name, depth)
    sigma, ntk = table(np.array([1.0, -1.0]), normalized=True)
    for i, th in enumerate((0.0, math.pi)):
        s_ref, k_ref = (float(v) for v in ntk_normalized_recursion(coefficients.get(name, name), th, depth, dps=40))
        assert abs(sigma[i] - s_ref) <= 1e-13 and abs(ntk[i] - k_ref) <= 1e-13, (th, sigma[i], s_ref, ntk[i], k_ref)


def test_deep_relu_table_at_tiny_angles_against_mpmath():
    """Doubling path (depth 300 > 64), angles from 1e-12 down to 1e-30, below the first node (1e-20) included:
    relative 1e-12 of 32-digit arithmetic (N^L ~ 1 - c theta)."""
    from proofs_check.references import ntk_normalized_recursion

    table = tabulate_depth("relu", 300)
    assert table.method == "doubling"
    theta = np.array([1e-12, 1e-16, 3e-20, 1e-20, 3e-21, 1e-30])
    sigma, ntk = table.at_angle(theta, normalized=True)
    for th, s, k in zip(theta, sigma, ntk):
        s_ref, k_ref = (float(v) for v in ntk_normalized_recursion("relu", th, 300, dps=40))
        assert abs(s - s_ref) <= 1e-12 * s_ref and abs(k - k_ref) <= 1e-12 * k_ref, (th, k, k_ref)


def test_cosines_outside_the_interval_are_clipped():
    table = tabulate_depth("relu", 5)
    for got, want in zip(table.log(np.array([1.5, -1.5])), table.log(np.array([1.0, -1.0]))):
        assert np.array_equal(got, want)
    for got, want in zip(table(np.array([1.5, -1.5])), table(np.array([1.0, -1.0]))):
        assert np.array_equal(got, want)


def test_direct_recursion_clips_an_overshooting_dual():
    """A dual that rounds past +-1 (phĭ(1) = 1 + 1e-13) is clipped to [-1, 1] at every layer."""
    dual = lambda x: x * (1.0 + 1e-13)  # noqa: E731
    sigma, _ = nngp_ntk(np.array([-1.0, 1.0]), dual, 5, dual_derivative=lambda x: np.full_like(x, 1.0 + 1e-13))
    assert np.array_equal(sigma, np.array([-1.0, 1.0]))


def test_log_recursion_at_zero_and_for_a_constant_dual():
    """log_nngp_ntk at xi = 0 for xi^2: log -inf with sign 0 (no NaN); phĭ = 1 (no derivative terms): K^L = 1."""
    from kernels.ntk.duals import polynomial_dual

    ls, ss, lk, sk = log_nngp_ntk(np.array([0.0, 0.5]), "hermite_2", 3)
    assert ls[0] == -math.inf and ss[0] == 0.0 and not np.any(np.isnan(np.concatenate([ls, ss, lk, sk])))
    assert ls[1] == pytest.approx(8 * math.log(0.5), rel=1e-15, abs=0)
    ls, ss, lk, sk = log_nngp_ntk(np.array([-0.3, 0.2]), polynomial_dual([1.0]), 3)
    assert np.all(ls == 0.0) and np.all(ss == 1.0) and np.all(lk == 0.0) and np.all(sk == 1.0)


def test_monomial_tables_have_ntk_equal_to_sigma_bit_for_bit():
    """For the dual xi^k, K^L / K^L(1) = Sigma^L exactly (closed form), so the two columns agree bit for bit."""
    for name, depth in (("hermite_2", 9), ("hermite_3", 6)):
        table = tabulate_depth(name, depth)
        xi = np.linspace(-1, 1, 41)
        sigma, ntk = table(xi, normalized=True)
        assert np.array_equal(sigma, ntk)


def test_one_nn_ratio_of_ntk_to_sigma_against_mpmath():
    """0.7 xi^2 + 0.3 xi^3 at depth 9 (log|Sigma| ~ -100, so the ratio K^L / (K^L(1) Sigma^L) is still visible
    in the difference of the logs): log of the ratio within 1e-10 absolute of 40-digit arithmetic."""
    import mpmath as mp

    from kernels.ntk.duals import polynomial_dual

    table = tabulate_depth(polynomial_dual((0.0, 0.0, 0.7, 0.3)), 9)
    xi = np.array([0.3, 0.8, -0.6])
    log_s, _, log_k, _ = table.log(xi)
    with mp.workdps(40):
        for i, x0 in enumerate(xi):
            s, k, k1 = mp.mpf(x0), mp.mpf(x0), mp.mpf(1)
            for _ in range(9):
                s, k = 0.7 * s**2 + 0.3 * s**3, (0.7 * s**2 + 0.3 * s**3) + k * (1.4 * s + 0.9 * s**2)
                k1 = 1 + 2.3 * k1
            assert abs((log_k[i] - log_s[i]) - float(mp.log(abs(k / k1 / s)))) <= 1e-10


def test_one_nn_tail_past_the_float_range_of_the_growth():
    """0.6 xi^3 + 0.4 xi^5 at depth 800 (about 700 layers in the closed-form tail): 3^n overflows a float there;
    log|Sigma^L| is -inf (below -1e300) without an error, and Sigma^L = 0, N^L = 0 where |xi| < 1."""
    from kernels.ntk.duals import polynomial_dual

    table = tabulate_depth(polynomial_dual((0.0, 0.0, 0.0, 0.6, 0.0, 0.4)), 800)
    assert table.grid.theta.size == 7958  # nothing to refine where every node value is 0 (log ratio inf)
    log_s, sign_s, log_k, _ = table.log(np.array([0.5, -0.9]))
    assert np.all(log_s == -math.inf) and np.all(log_k == -math.inf)
    sigma, ntk = table(np.array([0.5, -0.9, 1.0]), normalized=True)
    assert np.array_equal(sigma[:2], [0.0, 0.0]) and sigma[2] == 1.0 and ntk[2] == 1.0


def test_stencils_are_centred():
    """Each evaluation point lies in the central interval of its six-node stencil (the bucket table's guess
    corrected by one step), away from the ends of the grid."""
    from kernels.ntk.depth import _angle_grid, _grid_variable, _weights

    grid = _angle_grid(8193)
    theta = np.concatenate([np.random.default_rng(3).uniform(grid.theta[10], grid.theta[-10], 20000), grid.theta[10:-10]])
    start = _weights(grid, theta, np)[0]
    u = _grid_variable(theta, np)
    assert np.all(grid.u[start + 2] <= u) and np.all(u < grid.u[start + 3])


@pytest.mark.parametrize("slope", [0.0, 0.5, 1.0 - 2e-15, 1.0, 1.0 + 2e-15, 1.0 + 1e-9, 2.0])
@pytest.mark.parametrize("depth", [0, 1, 1000, 200_000])
def test_diagonal_ntk_against_mpmath(slope, depth):
    """ln K^L(1) = ln sum_l g^l to 1e-14 relative (of max(1, |ln K|)) of 40 digits, next to g = 1 included
    (ln g for g = 1 + 2e-15 errs by 10%; the sum is formed from log1p and expm1 of g - 1)."""
    import mpmath as mp
    from types import SimpleNamespace

    from kernels.ntk.depth import _diagonal_ntk_log

    got = _diagonal_ntk_log(SimpleNamespace(slope_at_one=slope), depth)
    with mp.workdps(40):
        g = mp.mpf(slope)
        want = mp.log(depth + 1) if g == 1 else mp.log((g ** (depth + 1) - 1) / (g - 1))
    assert abs(got - float(want)) <= 1e-14 * max(1.0, abs(float(want)))


def test_overflow_of_the_diagonal_is_an_error_exactly_where_it_overflows():
    """3d_opt (phĭ'(1) = 2): K^L(1) = 2^(L+1) - 1 is a float at L = 1022 and overflows at L = 1023."""
    xi = np.array([0.3, 1.0])
    sigma, ntk = tabulate_depth("3d_opt", 1022)(xi)
    assert ntk[-1] == pytest.approx(2.0**1023, rel=2e-13, abs=0)  # exp of ln K(1) ~ 709 (7e-14 absolute)
    with pytest.raises(OverflowError, match="normalized=True"):
        tabulate_depth("3d_opt", 1023)(xi)


def test_doubling_of_a_contracting_majority_vote_dual_against_mpmath():
    """phĭ = (1 + xi) / 2 (phĭ'(1) = 1/2, so the angle maps fall below the first node 1e-20 while composing):
    doubling at depth 100 within 1e-12 relative of 40-digit arithmetic at angles 1e-25 to pi."""
    from kernels.ntk.duals import polynomial_dual
    from proofs_check.references import ntk_normalized_recursion

    table = tabulate_depth(polynomial_dual((0.5, 0.5)), 100)
    assert table.method == "doubling"
    theta = np.array([1e-25, 1e-19, 1e-10, 1e-3, 1.0, 2.5, math.pi - 1e-9, math.pi])
    sigma, ntk = table.at_angle(theta, normalized=True)
    for th, s, k in zip(theta, sigma, ntk):
        s_ref, k_ref = (float(v) for v in ntk_normalized_recursion((0.5, 0.5), th, 100, dps=40))
        assert abs(s - s_ref) <= 1e-12 * abs(s_ref) and abs(k - k_ref) <= 1e-12 * abs(k_ref), (th, s, s_ref, k, k_ref)


def test_doubling_starts_deeper_than_64():
    assert tabulate_depth("relu", 64).method == "direct" and tabulate_depth("relu", 65).method == "doubling"
    assert tabulate_depth("erf", 200).method == "direct"  # not a majority-vote dual


@pytest.mark.parametrize("name,depth", [("relu", 1), ("relu", 100), ("3d_opt", 5)])
def test_between_the_last_node_and_pi(name, depth):
    """The one float angle between the last node (pi - 8.9e-16) and math.pi: linear in theta to the exact end
    value, within 1e-13 of 40-digit arithmetic."""
    from proofs_check.references import ntk_normalized_recursion

    coefficients = {"3d_opt": (0.0, 0.5, 0.0, 0.5)}
    th = float(np.nextafter(math.pi, 0.0))
    sigma, ntk = (float(v[0]) for v in tabulate_depth(name, depth).at_angle(np.array([th]), normalized=True))
    s_ref, k_ref = (float(v) for v in ntk_normalized_recursion(coefficients.get(name, name), th, depth, dps=40))
    assert abs(sigma - s_ref) <= 1e-13 and abs(ntk - k_ref) <= 1e-13, (sigma, s_ref, ntk, k_ref)


def test_grid_spans_the_documented_angles():
    """Nodes from theta = 1e-20 to within 1e-15 of pi, increasing, none at pi (module docstring)."""
    from kernels.ntk.depth import _angle_grid

    grid = _angle_grid(8193)
    assert grid.theta[0] == pytest.approx(1e-20, rel=1e-6, abs=0.0)  # bisection: 100 halvings of [5e-21, pi]
    assert 5e-16 <= math.pi - grid.theta[-1] <= 1e-15 and np.all(np.diff(grid.theta) > 0)


NINE = (0.0, 1 / 16, 7 / 8, 1 / 16)


def _log_errors(table, coefficients, depth, theta, dps=60):
    """Relative errors |expm1(log table - log exact)| of Sigma^L and N^L at the angles (values may underflow)."""
    import mpmath as mp

    from proofs_check.references import ntk_normalized_recursion

    out = table._evaluate(theta, np.cos(theta))
    errors = []
    for i, th in enumerate(theta):
        s, k = ntk_normalized_recursion(coefficients, float(th), depth, dps=dps)
        with mp.workdps(dps):
            ls, lk = float(mp.log(abs(s))), float(mp.log(abs(k)))
        assert out[2][i] == mp.sign(s) and out[5][i] == mp.sign(k), th
        errors.append(max(abs(math.expm1(out[1][i] - ls)), abs(math.expm1(out[4][i] - lk))))
    return np.array(errors)


@pytest.mark.slow
def test_singular_tables_at_depth_2e5_within_an_ulp_of_the_log():
    """At L = 2e5 the singular maps are e^(-1.4e5) (2d_opt) to e^(-5.5e5) (9d_opt): only their logs exist, and
    the tables store them less L ln phĭ'(0) (and (L + 1) ln phĭ'(1) for N), so nodes and interpolants keep the
    O(1) rest's digits.  log|Sigma^L| and log|N^L| within one unit in the last place of 30-digit arithmetic:
    2d_opt where a stencil is steep (3.3e-5, 6 units before) and 9d_opt next to the zero of phĭ at
    theta = 1.6427, where the rounding of nodes near -5.5e5 erred 5.1e-9 relative (44 units)."""
    import mpmath as mp

    from proofs_check.references import ntk_normalized_recursion

    cases = [("2d_opt", (0.0, 0.5, 0, 0, 0, 0, 0, 0.5), [3.3e-5, 0.3]),
             ("9d_opt", (0.0, 1 / 16, 7 / 8, 1 / 16), [1.6427, 1.6446])]
    for name, coefficients, angles in cases:
        theta = np.array(angles)
        out = tabulate_depth(name, 200_000)._evaluate(theta, np.cos(theta))
        for i, th in enumerate(angles):
            s, k = ntk_normalized_recursion(coefficients, th, 200_000, dps=30)
            with mp.workdps(30):
                want = [float(mp.log(abs(s))), float(mp.log(abs(k)))]
            assert out[2][i] == float(mp.sign(s)) and out[5][i] == float(mp.sign(k))
            for got, w in zip((out[1][i], out[4][i]), want):
                assert abs(got - w) <= np.spacing(abs(w)), (name, th, (got - w) / np.spacing(abs(w)))


def test_9d_opt_at_depth_60_against_mpmath():
    """9d_opt, L = 60: the map falls from Sigma ~ 1 to the singular tail near theta = 3.5e-9 and the tail's logs
    carry a ripple of period ln sqrt(2) in ln theta; the uniform grid erred 4.2e-9 there and 6.2e-10 at 1e-4
    to 3e-3.  The refined table: within 1e-10 relative of 60 digits (measured 1.6e-12)."""
    table = tabulate_depth("9d_opt", 60)
    theta = np.array([3.2324e-9, 3.4662e-9, 3.515e-9, 3.6145e-9, 1.6565e-8, 1e-4, 1.3518e-4, 1e-3, 3e-3, 1.02e-2])
    assert np.all(_log_errors(table, NINE, 60, theta) <= 1e-10)
    unrefined = tabulate_depth("9d_opt", 60, refine=False)
    assert np.max(_log_errors(unrefined, NINE, 60, theta[:4])) > 1e-9  # what the refinement fixed


def test_refinement_is_local():
    """Nodes are added only where two neighbouring stencils disagree: none for erf at depth 60 (already within
    5e-13), a few thousand for 9d_opt; each added node halves an interval of the base grid (or of a half)."""
    base = tabulate_depth("erf", 60, refine=False).grid.theta
    assert np.array_equal(tabulate_depth("erf", 60).grid.theta, base)
    refined = tabulate_depth("9d_opt", 60).grid.theta
    assert base.size < refined.size < 2 * base.size and np.all(np.diff(refined) > 0)
    assert np.all(np.isin(base, refined))
    # stencils stay centred on the uneven grid (the bucket table's buckets are narrower than every interval)
    from kernels.ntk.depth import _grid_variable, _weights

    grid = tabulate_depth("9d_opt", 60).grid
    theta = np.geomspace(1e-19, 3.0, 20000)
    start, u = _weights(grid, theta, np)[0], _grid_variable(theta, np)
    assert np.all(grid.u[start + 2] <= u) and np.all(u < grid.u[start + 3])


def test_zero_of_the_map_where_its_values_underflow():
    """9d_opt, L = 1000: Sigma^L and N^L ~ e^-2773 change sign near theta = 1.6446 (phĭ has a root at
    -7 + sqrt(48)); the linear values underflow there, so the stencil is interpolated scaled by its largest
    value (it returned log = -inf).  Within 1e-10 relative of 60 digits."""
    table = tabulate_depth("9d_opt", 1000)
    theta = np.array([1.6037, 1.6409, 1.6446, 1.6450, 1.66])
    assert np.all(_log_errors(table, NINE, 1000, theta) <= 1e-10)


def test_log_interpolation_next_to_a_zero():
    """5d_opt, L = 1: N^1 = xi (1 + xi)(1 + 2 xi) / 6 vanishes at theta = 2 pi / 3; 0.04 from it log|N| bends
    enough that its interpolant erred 3.7e-10.  Against the closed form, relative, at 1e-11."""
    theta = np.array([2.105, 2.115, 2.136, 2.16, 2.2])
    xi = np.cos(theta)
    exact = xi * (1 + xi) * (1 + 2 * xi) / 6
    ntk = tabulate_depth("5d_opt", 1).at_angle(theta, normalized=True)[1]
    assert np.all(np.abs(ntk / exact - 1) <= 1e-11)


@pytest.mark.parametrize("name,depth", [("relu", 5), ("9d_opt", 60), ("erf", 20), ("5d_opt", 3), ("hermite_3", 4)])
def test_table_reproduces_the_recursion_at_its_nodes(name, depth):
    """At every node (the first and the last included; odd duals: the nodes up to pi/2 that evaluation uses) the
    table returns the recursion's value, log|f| within 1e-13 relative of the angle (or log-domain) recursion
    run at those angles."""
    from kernels.ntk.depth import _direct_nodes, _log_domain_nodes
    from kernels.ntk.duals import get_dual

    table = tabulate_depth(name, depth)
    theta = table.grid.theta
    if table.dual.odd:
        theta = theta[theta <= math.pi / 2]
    out = table._evaluate(theta, np.cos(theta))
    ref = (_log_domain_nodes if table.log_ratio else _direct_nodes)(get_dual(name), depth, theta)
    for got, want in ((out[1], ref[0]), (out[4], ref[2])):
        assert np.all(np.abs(got - want) <= 1e-13 * np.maximum(1.0, np.abs(want)))
    assert np.array_equal(out[2], ref[1]) and np.array_equal(out[5], ref[3])


def test_stencils_at_the_ends_of_the_grid():
    """Points in the first three node intervals use the first stencil, in the last three the last one."""
    from kernels.ntk.depth import _angle_grid, _weights

    grid = _angle_grid(8193)
    g = grid.theta.size
    first = np.concatenate([grid.theta[:3], 0.5 * (grid.theta[:3] + grid.theta[1:4])])
    last = np.concatenate([grid.theta[-4:], 0.5 * (grid.theta[-4:-1] + grid.theta[-3:])])
    assert np.all(_weights(grid, first, np)[0] == 0)
    assert np.all(_weights(grid, last, np)[0] == g - 6)


@pytest.mark.parametrize("shift", [3.0, 0.0])
def test_stencil_spread_against_barycentric_interpolation(shift):
    """The refinement's error estimate on a coarse grid (24 nodes) for r = shift + sin(5 u): the difference of
    the centred stencil's interpolant and the one a node to the left (to the right on the first stencil), relative
    to the centred one where every value keeps one sign, else to the largest of the two and the interval's ends,
    less 8 eps |log| (scipy's barycentric interpolation as the reference, at 1e-9 relative)."""
    from scipy.interpolate import BarycentricInterpolator

    from kernels.ntk.depth import _angle_grid, _column, _grid_variable, _stencil_spread

    grid = _angle_grid(24)
    u, g = grid.u, grid.u.size
    r = shift + np.sin(5.0 * u)
    column = _column(np.log(np.abs(r)), np.sign(r), grid.theta, (0.0, 1.0), (0.0, 1.0), over_xi=False)
    interval = np.arange(g - 1)
    mid = 0.5 * (grid.theta[:-1] + grid.theta[1:])
    got = _stencil_spread(grid, column, mid, interval)
    u_mid = _grid_variable(mid, np)
    eps = np.finfo(np.float64).eps
    for i in interval:
        c = min(max(i - 2, 0), g - 6)
        side = c - 1 if c > 0 else c + 1
        a = float(BarycentricInterpolator(u[c:c + 6], r[c:c + 6])(u_mid[i]))
        b = float(BarycentricInterpolator(u[side:side + 6], r[side:side + 6])(u_mid[i]))
        one_sign = np.sign(a) == np.sign(b) == np.sign(r[i]) == np.sign(r[i + 1])
        scale = abs(a) if one_sign else max(abs(a), abs(b), abs(r[i]), abs(r[i + 1]))
        want = abs(b - a) / scale - 8.0 * eps * abs(math.log(scale))
        assert abs(got[i] - want) <= 1e-9 * abs(want) + 1e-15, (i, got[i], want)


def test_stencil_spread_of_deep_logs_against_barycentric_interpolation():
    """r = e^(-1e5) (3 + sin(5 u)) on the 8193-node grid: the values underflow, so both stencils interpolate
    log|r| (scipy's barycentric interpolation of the logs as the reference); their difference, a few ulp of 1e5,
    is less than the logs' own rounding 8 eps |log r| = 1.8e-10, which the estimate subtracts: it is negative, and
    nothing is refined (but next to pi, where the float nodes are sparse in u and sin(5 u) bends on a stencil)."""
    from scipy.interpolate import BarycentricInterpolator

    from kernels.ntk.depth import _angle_grid, _column, _grid_variable, _stencil_spread

    grid = _angle_grid(8193)
    u, g = grid.u, grid.u.size
    log_r = np.log(3.0 + np.sin(5.0 * u)) - 1e5
    column = _column(log_r, np.ones(g), grid.theta, (0.0, 1.0), (0.0, 1.0), over_xi=False)
    interval = np.arange(0, g - 1, 97)
    mid = 0.5 * (grid.theta[interval] + grid.theta[interval + 1])
    got = _stencil_spread(grid, column, mid, interval)
    u_mid = _grid_variable(mid, np)
    eps = np.finfo(np.float64).eps
    for j, i in enumerate(interval):
        c = min(max(i - 2, 0), g - 6)
        side = c - 1 if c > 0 else c + 1
        a = float(BarycentricInterpolator(u[c:c + 6], log_r[c:c + 6])(u_mid[j]))
        b = float(BarycentricInterpolator(u[side:side + 6], log_r[side:side + 6])(u_mid[j]))
        floor = 8.0 * eps * abs(a)
        want = abs(math.expm1(b - a)) - floor
        # both differences of interpolated logs are rounding of logs ~ 1e5 (1 ulp = 1.5e-11): a few ulp apart
        assert abs(got[j] - want) <= 8 * np.spacing(1e5) and got[j] >= -1.000001 * floor, (i, got[j], want)
    assert np.all(got[:-1] < 0.0)  # all but next to pi, where the float nodes are sparse in u


@pytest.mark.parametrize("depth", [1, 3])
def test_even_polynomial_at_antipodal_is_exact(depth):
    """0.6 xi^2 + 0.4 xi^4 maps -1 to the fixed point 1 with K^1(-1) = K^1(1): Sigma^L(-1) = N^L(-1) = 1 exactly
    (the recursion run at pi gives log N = 2.2e-16 at depth 1)."""
    from kernels.ntk.duals import polynomial_dual

    table = tabulate_depth(polynomial_dual((0.0, 0.0, 0.6, 0.0, 0.4)), depth)
    sigma, ntk = table.at_angle(np.array([math.pi]), normalized=True)
    assert sigma[0] == 1.0 and ntk[0] == 1.0
    assert table.ntk.end_pi == (0.0, 1.0) and table.sigma.end_pi == (0.0, 1.0)


def test_one_nn_polynomial_near_parallel_against_mpmath():
    """0.7 xi^2 + 0.3 xi^3 at depths 12 and 60 from angles 1e-9 to pi - 1e-9: log|Sigma^L| and log|N^L| within
    1e-12 of 60-digit arithmetic, relative to max(1, |log|).  Next to parallel Sigma stays near 1 for many
    layers, and each layer must keep the digits of 1 - Sigma (Horner's 0.7 + 0.3 Sigma rounds them away: 7e-5
    at 1e-6 and depth 60).  Depth 60 also needs the closed-form tail, which starts once every |Sigma| < 1e-20."""
    import mpmath as mp

    from kernels.ntk.duals import polynomial_dual
    from proofs_check.references import ntk_normalized_recursion

    coefficients = (0.0, 0.0, 0.7, 0.3)
    theta = np.array([1e-9, 1e-7, 1e-6, 1e-5, 1e-4, 1e-2, 3e-2, 0.1, 1.0, math.pi - 1e-6, math.pi - 1e-9])
    for depth in (12, 60):
        out = tabulate_depth(polynomial_dual(coefficients), depth)._evaluate(theta, np.cos(theta))
        for i, th in enumerate(theta):
            s, k = ntk_normalized_recursion(coefficients, float(th), depth, dps=60)
            with mp.workdps(60):
                want_s, want_k = float(mp.log(abs(s))), float(mp.log(abs(k)))
            assert abs(out[1][i] - want_s) <= 1e-12 * max(1.0, abs(want_s)), (depth, th)
            assert abs(out[4][i] - want_k) <= 1e-12 * max(1.0, abs(want_k)), (depth, th)


def test_monomial_tables_past_the_float_range_of_k_to_the_L():
    """hermite_2 at depths where 2^L is near or past the float range: Sigma^L = N^L = cos(theta)^(2^L) is
    still between 0 and 1 at angles near 1e-152, and log Sigma^L = 2^L ln cos(theta) within 1e-12 relative."""
    import mpmath as mp

    theta = np.array([1e-170, 1e-160, 1e-153, 1e-152, 1e-151, 1e-40])
    for depth in (1010, 1020, 1030):
        table = tabulate_depth("hermite_2", depth)
        out = table._evaluate(theta, np.cos(theta))
        log_s, sign, log_n = out[1], out[2], out[4]
        assert np.array_equal(log_s, log_n) and np.all(sign == 1.0)
        for th, got in zip(theta, log_s):
            with mp.workdps(30):  # ln cos t = -t^2/2 - t^4/12 - ..., the rest below 1e-160 relative here
                want = float(-mp.mpf(2) ** depth * (mp.mpf(th) ** 2 / 2 + mp.mpf(th) ** 4 / 12))
            assert abs(got - want) <= 1e-12 * abs(want) or (want < -1e308 and got == -math.inf), (depth, th)
    sigma, ntk = tabulate_depth("hermite_2", 1010).at_angle(np.array([1e-152]), normalized=True)
    assert sigma[0] == pytest.approx(0.5777509376591, rel=1e-12, abs=0) and ntk[0] == sigma[0]


def test_dual_without_a_cogap_form():
    """A dual with the stable 1 - phĭ(cos theta) but no form of 1 + phĭ takes 1 + phĭ = 2 - (1 - phĭ): ReLU
    (phĭ(-1) = 0, so nothing cancels) gives the same table to 1e-14 relative."""
    from dataclasses import replace

    from kernels.ntk.duals import get_dual

    relu = get_dual("relu")
    theta = np.linspace(1e-3, math.pi - 1e-3, 101)
    for depth in (1, 5):
        want = tabulate_depth(relu, depth).at_angle(theta, normalized=True)
        got = tabulate_depth(replace(relu, cogap=None), depth).at_angle(theta, normalized=True)
        for g_, w_ in zip(got, want):
            assert np.all(np.abs(g_ - w_) <= 1e-14 * np.abs(w_))
