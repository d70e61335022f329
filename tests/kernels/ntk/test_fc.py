"""Tests for kernels/ntk/fc.py: shapes, symmetry, PSD, homogeneity, table = direct, dtypes, backends, depth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels.ntk.activations import ABRelu, Erf, Gelu, Quadrature, Rbf, Relu, Sign, Sin
from kernels.backend import to_numpy
from kernels.ntk.fc import FCKernel, fc_kernel
from tests.helpers import assert_close

ACTS = [Relu(), ABRelu(-0.3, 0.8), Erf(1.2, 0.8, 0.1), Sign(), Gelu(), Sin(1.1, 0.9, 0.4), Rbf(0.7)]


def _data(n, d=5, seed=0, scale=1.0):
    return np.random.default_rng(seed).normal(size=(n, d)) * scale


def test_shapes_and_get():
    x1, x2 = _data(6), _data(4, seed=1)
    k = fc_kernel(x1, x2, depth=3, activation="relu")
    assert isinstance(k, FCKernel) and k.nngp.shape == (6, 4) and k.ntk.shape == (6, 4)
    only = fc_kernel(x1, x2, depth=3, activation="relu", get="ntk")
    assert only.nngp is None
    np.testing.assert_array_equal(only.ntk, k.ntk)
    depth0 = fc_kernel(x1, x2, depth=0, activation="relu", W_std=1.5, b_std=0.5)
    expected = 1.5**2 * x1 @ x2.T / 5 + 0.25
    np.testing.assert_allclose(depth0.nngp, expected, rtol=1e-14)
    np.testing.assert_allclose(depth0.ntk, expected, rtol=1e-14)


def test_validation_errors():
    x = _data(4)
    with pytest.raises(ValueError, match="depth"):
        fc_kernel(x, depth=-1, activation="relu")
    with pytest.raises(ValueError, match="W_std"):
        fc_kernel(x, depth=1, activation="relu", W_std=0.0)
    with pytest.raises(ValueError, match="b_std"):
        fc_kernel(x, depth=1, activation="relu", b_std=-1.0)
    with pytest.raises(ValueError, match="columns"):
        fc_kernel(x, _data(3, d=4), depth=1, activation="relu")
    with pytest.raises(ValueError, match="x1 must contain only finite"):
        fc_kernel(np.array([[np.nan, 1.0]]), depth=1, activation="relu")
    with pytest.raises(ValueError, match="get"):
        fc_kernel(x, depth=1, activation="relu", get="both")
    with pytest.raises(ValueError, match="method='table' needs"):
        fc_kernel(x, depth=5, activation="erf", method="table")
    with pytest.raises(ValueError, match="method"):
        fc_kernel(x, depth=5, activation="relu", method="fast")


@pytest.mark.parametrize("act", ACTS, ids=repr)
@given(depth=st.integers(0, 12), w_std=st.floats(0.5, 2.0), b_std=st.floats(0.0, 1.0))
def test_gram_is_symmetric_and_psd(act, depth, w_std, b_std):
    x = _data(12, seed=depth)
    k = fc_kernel(x, depth=depth, activation=act, W_std=w_std, b_std=b_std)
    for mat in (k.nngp, k.ntk):
        scale = np.max(np.abs(mat))
        np.testing.assert_allclose(mat, mat.T, rtol=0, atol=1e-13 * scale)
        assert np.linalg.eigvalsh((mat + mat.T) / 2).min() >= -1e-12 * scale


@given(
    depth=st.integers(1, 30),
    c1=st.floats(0.1, 10.0),
    c2=st.floats(0.1, 10.0),
    method=st.sampled_from(["direct", "table"]),
)
def test_relu_positive_homogeneity(depth, c1, c2, method):
    """b_std = 0: K(c1 x1, c2 x2) = c1 c2 K(x1, x2) for c1, c2 > 0."""
    x1, x2 = _data(5), _data(3, seed=1)
    base = fc_kernel(x1, x2, depth=depth, activation=ABRelu(-0.2, 1.0), W_std=1.3, method=method)
    scaled = fc_kernel(c1 * x1, c2 * x2, depth=depth, activation=ABRelu(-0.2, 1.0), W_std=1.3, method=method)
    np.testing.assert_allclose(scaled.nngp, c1 * c2 * base.nngp, rtol=1e-12)
    np.testing.assert_allclose(scaled.ntk, c1 * c2 * base.ntk, rtol=1e-12)


@pytest.mark.parametrize("act", [Relu(), ABRelu(0.2, 1.0), ABRelu(-1.0, 1.0), ABRelu(-0.3, 0.8)], ids=repr)
@pytest.mark.parametrize("depth", [4, 17, 150])
def test_table_equals_direct(act, depth):
    """The tabulated cosine map agrees with the layer-by-layer recursion (Gram and cross) to 1e-12, or
    2e-14 per layer beyond depth 50: the direct recursion's own round-off grows linearly with depth."""
    rtol = max(1e-12, 2e-14 * depth)
    x1 = _data(40, seed=depth) * np.random.default_rng(5).uniform(0.2, 3.0, (40, 1))
    x2 = _data(15, seed=depth + 1)
    w_std = math.sqrt(1.0 / act.dual_scale)  # depth-stable scale: the entries stay O(1)
    for other in (None, x2):
        table = fc_kernel(x1, other, depth=depth, activation=act, W_std=w_std, method="table")
        direct = fc_kernel(x1, other, depth=depth, activation=act, W_std=w_std, method="direct")
        np.testing.assert_allclose(table.nngp, direct.nngp, rtol=rtol)
        np.testing.assert_allclose(table.ntk, direct.ntk, rtol=rtol)


def test_auto_picks_table_only_when_exact():
    x = _data(30)
    auto = fc_kernel(x, depth=10, activation="relu", b_std=0.1)  # bias: not homogeneous -> direct
    direct = fc_kernel(x, depth=10, activation="relu", b_std=0.1, method="direct")
    np.testing.assert_array_equal(auto.ntk, direct.ntk)


@pytest.mark.parametrize("method", ["direct", "table"])
def test_blocks_give_the_same_matrix(method):
    x1, x2 = _data(37), _data(11, seed=2)
    for other in (None, x2):
        whole = fc_kernel(x1, other, depth=6, activation="relu", method=method)
        blocked = fc_kernel(x1, other, depth=6, activation="relu", method=method, block_size=8)
        np.testing.assert_allclose(blocked.nngp, whole.nngp, rtol=1e-14)
        np.testing.assert_allclose(blocked.ntk, whole.ntk, rtol=1e-14)


@pytest.mark.parametrize("act", [Relu(), Erf(), Gelu(), Sin(1.0, 1.0, 0.2)], ids=repr)
def test_float32_matches_float64(act):
    x = _data(20)
    k64 = fc_kernel(x, depth=5, activation=act, W_std=1.2, b_std=0.1)
    k32 = fc_kernel(x.astype(np.float32), depth=5, activation=act, W_std=1.2, b_std=0.1)
    assert k32.nngp.dtype == np.float32 and k32.ntk.dtype == np.float32
    scale = np.max(np.abs(k64.ntk))
    np.testing.assert_allclose(k32.nngp, k64.nngp, rtol=5e-4, atol=1e-5 * scale)
    np.testing.assert_allclose(k32.ntk, k64.ntk, rtol=5e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("act, method", [(Relu(), "table"), (Relu(), "direct"), (Erf(1.1, 0.9, 0.1), "auto"),
                                         (Sign(), "auto"), (Gelu(), "auto")], ids=str)
def test_backends_agree(xp, act, method):
    x1, x2 = _data(9), _data(4, seed=3)
    for other in (None, x2):
        ref = fc_kernel(x1, other, depth=6, activation=act, W_std=1.3, b_std=0.0 if method == "table" else 0.2,
                        method=method)
        got = fc_kernel(xp.asarray(x1), None if other is None else xp.asarray(other), depth=6, activation=act,
                        W_std=1.3, b_std=0.0 if method == "table" else 0.2, method=method)
        assert_close(got.nngp, ref.nngp, xp=xp, rtol=1e-13)
        assert_close(got.ntk, ref.ntk, xp=xp, rtol=1e-13)


def _relu_diagonal(x, depth, w_std):
    """ReLU, b_std = 0: nngp(x, x) = w^2 (w^2/2)^depth |x|^2/d, ntk(x, x) = sum_l of the same at depth l
    (in floats w^2 is not exactly 2 for w = sqrt 2, hence the geometric sum)."""
    w2 = w_std * w_std
    gain = w2 / 2.0
    base = w2 * np.sum(x * x, axis=1) / x.shape[1]
    ntk_factor = math.fsum(gain**l for l in range(depth + 1)) if gain != 1.0 else depth + 1.0
    return base * gain**depth, base * ntk_factor


def test_gram_diagonal_is_exact():
    """On a Gram matrix theta = 0 exactly on the diagonal, whatever the rounding of the inputs."""
    x = _data(25)
    nngp_diag, ntk_diag = _relu_diagonal(x, 100, math.sqrt(2.0))
    for method in ("direct", "table"):
        k = fc_kernel(x, depth=100, activation="relu", W_std=math.sqrt(2.0), method=method)
        np.testing.assert_allclose(np.diag(k.nngp), nngp_diag, rtol=1e-14)
        np.testing.assert_allclose(np.diag(k.ntk), ntk_diag, rtol=1e-13)


@pytest.mark.parametrize("act", [Relu(), ABRelu(-0.3, 0.8)], ids=repr)
def test_deep_table_against_high_precision(act):
    """Depth 1200: the table against a 40-digit recursion on three entries (rtol 1e-10).  The direct
    float recursion drifts here (measured ~5e-10 for ABRelu(-0.3, 0.8)), the table does not."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    depth = 1200
    x = _data(3, seed=11)
    w_std = math.sqrt(1.0 / act.dual_scale)
    k = fc_kernel(x, depth=depth, activation=act, W_std=w_std, method="table")
    c = mpmath.mpf(act.a * act.a + act.b * act.b) / 2
    kink = mpmath.mpf(act.a - act.b) ** 2 / (2 * mpmath.pi)
    sw2 = mpmath.mpf(w_std) ** 2
    for i, j in ((0, 1), (0, 2), (1, 1)):
        xi, xj = ([mpmath.mpf(float(v)) for v in x[r]] for r in (i, j))
        ni, nj = mpmath.sqrt(sum(v * v for v in xi)), mpmath.sqrt(sum(v * v for v in xj))
        sigma = min(sum(p * q for p, q in zip(xi, xj)) / (ni * nj), mpmath.mpf(1))
        ntk = sigma
        for _ in range(depth):
            theta = mpmath.acos(sigma)
            slope = (c - kink * theta) / c
            sigma = (kink * mpmath.sqrt(1 - sigma * sigma) + (c - kink * theta) * sigma) / c
            ntk = sigma + ntk * slope
        scale = sw2 * (sw2 * c) ** depth * ni * nj / x.shape[1]
        assert float(abs(k.nngp[i, j] - scale * sigma) / (scale * sigma)) <= 1e-12
        assert float(abs(k.ntk[i, j] - scale * ntk) / (scale * ntk)) <= 1e-10


def test_deep_tables_are_finite():
    x = _data(20)
    k = fc_kernel(x, depth=3000, activation="relu", W_std=math.sqrt(2.0))
    assert np.all(np.isfinite(k.nngp)) and np.all(np.isfinite(k.ntk))
    # at depth 3000 every correlation has nearly reached the fixed point 1 of the ReLU dual
    rho = k.nngp / np.sqrt(np.outer(np.diag(k.nngp), np.diag(k.nngp)))
    assert rho.min() > 0.999


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_overflow_is_an_error_and_underflow_is_zero():
    x = _data(4)
    with pytest.raises(FloatingPointError, match="W_std"):
        fc_kernel(x, depth=5000, activation="relu", W_std=2.0)
    with pytest.raises(FloatingPointError, match="not finite"):
        fc_kernel(x, depth=5000, activation="relu", W_std=2.0, method="direct")
    small = fc_kernel(x, depth=5000, activation="relu", W_std=1.0)
    assert np.all(small.nngp == 0.0) and np.all(small.ntk == 0.0)


@pytest.mark.slow
def test_depth_200000_stays_finite():
    """Direct recursion at depth 2e5 (ReLU at the depth-stable W_std): finite, the diagonal exact;
    Erf with a bias at depth 2e4 converges to its fixed point and stays finite."""
    x = _data(2)
    k = fc_kernel(x, depth=200_000, activation="relu", W_std=math.sqrt(2.0), method="direct")
    assert np.all(np.isfinite(k.nngp)) and np.all(np.isfinite(k.ntk))
    nngp_diag, ntk_diag = _relu_diagonal(x, 200_000, math.sqrt(2.0))
    # one rounding per layer: at most depth * eps = 4.4e-11 relative
    np.testing.assert_allclose(np.diag(k.nngp), nngp_diag, rtol=5e-11)
    np.testing.assert_allclose(np.diag(k.ntk), ntk_diag, rtol=5e-11)
    # off the diagonal the correlation has converged to the ReLU fixed point 1 (majority-vote regime)
    # (1 - rho_L ~ (3 pi / L)^2 / 2 = 1.1e-9)
    assert k.nngp[0, 1] / math.sqrt(k.nngp[0, 0] * k.nngp[1, 1]) > 1 - 1e-8
    erf = fc_kernel(x, depth=20_000, activation="erf", W_std=1.0, b_std=0.5, method="direct", get="nngp")
    assert np.all(np.isfinite(erf.nngp))


@pytest.mark.parametrize("act, degree", [(Sin(1.1, 0.9, 0.4), 25), (Gelu(), 80), (Erf(), 120)], ids=str)
def test_quadrature_callable_matches_closed_form(act, degree):
    """A plain callable (numerical derivative, Gauss-Hermite quadrature) through a depth-3 network.
    Gauss-Hermite converges fast for sin, slower for Gelu and erf (Gaussian-like derivatives)."""
    x1, x2 = _data(6), _data(5, seed=4)
    closed = fc_kernel(x1, x2, depth=3, activation=act, W_std=1.1, b_std=0.2)
    generic = fc_kernel(x1, x2, depth=3, activation=Quadrature(act.fn, degree=degree), W_std=1.1, b_std=0.2)
    np.testing.assert_allclose(to_numpy(generic.nngp), closed.nngp, rtol=1e-8)
    np.testing.assert_allclose(to_numpy(generic.ntk), closed.ntk, rtol=1e-8)


# --- accuracy at the edges against mpmath (proofs_check.references.fc_kernel_reference) -----------

EDGE_CONFIGS = [("relu", 1, 0.5, 0.0), ("relu", 3, 1.4, 0.1), ("relu", 50, 2**0.5, 0.0), ("relu", 20, 1.3, 0.3),
                ("erf", 1, 0.5, 0.0), ("erf", 50, 2.0, 0.0), ("erf", 10, 1.5, 0.2), ("abs", 6, 1.0, 0.0),
                ("sign", 3, 1.0, 0.2)]


def _edge_pair(kind, rng):
    x = rng.normal(size=5)
    return x, {"parallel": 1.7 * x, "antipodal": -1.7 * x, "near": x + 1e-6 * rng.normal(size=5),
               "near_antipodal": -x + 1e-6 * rng.normal(size=5), "generic": rng.normal(size=5)}[kind]


@pytest.mark.parametrize("kind", ["parallel", "antipodal", "near", "near_antipodal", "generic"])
@pytest.mark.parametrize("config", EDGE_CONFIGS, ids=lambda c: f"{c[0]}-L{c[1]}-w{c[2]:.2g}-b{c[3]}")
def test_degenerate_pairs_against_mpmath(kind, config):
    """Every entry within 1e-12 of sqrt(K_ii K_jj) of a 50-digit recursion (issue 12, section 2), three pairs per
    case.  Measured over 30 pairs per case: <= 2.5e-13 for erf at depth 50 (W_std 2) 1e-6 from parallel or
    antipodal, where a one-ulp change of one input moves the exact kernel by up to 1e-12; <= 1e-14 elsewhere."""
    import zlib

    from proofs_check.references import fc_kernel_reference

    act, depth, w_std, b_std = config
    rng = np.random.default_rng(zlib.crc32(repr((kind, config)).encode()))
    methods = ["direct", "table"] if (b_std == 0.0 and act in ("relu", "abs") and depth >= 1) else ["direct"]
    for _ in range(3):
        x, y = _edge_pair(kind, rng)
        refs = [fc_kernel_reference(a, b, depth, act, w_std, b_std) for a, b in ((x, y), (x, x), (y, y))]
        for method in methods:
            k = fc_kernel(np.stack([x, y]), depth=depth, activation=act, W_std=w_std, b_std=b_std, method=method)
            for got, index in ((k.nngp, 0), (k.ntk, 1)):
                scale = math.sqrt(float(refs[1][index] * refs[2][index]))
                assert abs(got[0, 1] - float(refs[0][index])) <= 1e-12 * scale, (method, got[0, 1], refs[0][index])


def test_issue_12_reproducer_antipodal_relu():
    """X[2] = -1.7 X[0]: the exact NTK entry is -4.4346828403241e-20 and the NNGP 7.877748309938e-54 (a one-ulp
    departure from antipodal; the NTK was -8.4e-10, then +2.4e-19 of the wrong sign): both to 1e-14 relative of
    a 100-digit recursion (at 50 digits the reference's own NNGP is noise, -9e-38)."""
    from proofs_check.references import fc_kernel_reference

    X = np.random.default_rng(0).normal(size=(3, 4))
    X[2] = -1.7 * X[0]
    k = fc_kernel(X, depth=1, W_std=0.5, activation="relu")
    nngp, ntk = (float(v) for v in fc_kernel_reference(X[0], X[2], 1, "relu", 0.5, dps=100))
    assert abs(k.ntk[0, 2] - ntk) <= 1e-14 * abs(ntk) and abs(k.ntk[2, 0] - ntk) <= 1e-14 * abs(ntk)
    assert abs(k.nngp[0, 2] - nngp) <= 1e-14 * abs(nngp)


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("gap", [1e-3, 1e-8, 1e-13])
def test_input_angles_keep_relative_accuracy(sign, gap):
    """theta (and pi - theta) between nearly parallel (antipodal) inputs to 1e-14 relative, against 50 digits;
    from the rounded unit rows it errs by eps / theta (the exact kernel of a chaotic erf network amplifies that)."""
    import mpmath as mp

    from kernels.ntk.fc import _input_angles
    from kernels.numerics import unit_rows

    rng = np.random.default_rng(int(-math.log10(gap)))
    x = rng.normal(size=(3, 7)) * np.array([[1e-150], [1.0], [3e120]])
    y = sign * 1.7 * x + gap * rng.normal(size=(3, 7)) * np.abs(x).max(axis=1, keepdims=True)
    theta, comp = _input_angles(x, y, unit_rows(x), unit_rows(y), np)
    with mp.workdps(50):
        for i in range(3):
            u, v = [mp.mpf(float(t)) for t in x[i]], [mp.mpf(float(t)) for t in y[i]]
            dot = mp.fsum(p * q for p, q in zip(u, v))
            cross = mp.sqrt(mp.fsum(p * p for p in u) * mp.fsum(q * q for q in v) - dot * dot)
            small = mp.atan2(cross, abs(dot))
            got = theta[i, i] if sign > 0 else comp[i, i]
            assert abs(got - float(small)) <= 1e-14 * float(small)
            assert abs((comp[i, i] if sign > 0 else theta[i, i]) - float(mp.pi - small)) <= 1e-15
