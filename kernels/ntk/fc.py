"""NNGP and NTK of deep fully connected networks (NTK parametrisation) on general inputs.

Paper: Radhakrishnan, Belkin, Uhler, "Wide and deep neural networks achieve consistency for
classification" (PNAS 2023; arXiv 2204.14126).  The network is the one neural-tangents (Novak et al.,
ICLR 2020; arXiv 1912.02803) builds with
``stax.serial(*[Dense(1, W_std, b_std), Act()] * depth, Dense(1, W_std, b_std))``:

    input       Sigma = x . x' / d,                     Theta = 0
    Dense       Sigma <- W_std^2 Sigma + b_std^2,        Theta <- W_std^2 Theta + Sigma
    activation  Sigma <- T(q11, q22, Sigma),              Theta <- Theta * Tdot(q11, q22, Sigma)

with ``q11, q22`` the variances (the diagonal kernels) of the two inputs and ``(T, Tdot)`` the dual
pair of :mod:`kernels.ntk.activations`.

Two evaluation paths, chosen by ``method``:

* ``"direct"``: the recursion above, layer by layer, on row blocks of the Gram matrix
  (``O(N^2 depth)``).  Besides the covariances it carries the angle theta of every pair and its complement
  pi - theta, each accurate in relative terms where it is small: at the input from the rows themselves
  (:func:`_input_angles`: an exact-product residual next to 0 and pi; from rounded unit rows the angle errs by
  eps / theta relative, and arccos of a rounded cosine by sqrt(eps) ~ 1e-8 absolute), through each activation
  by its stable angle map (:meth:`~kernels.ntk.activations.Activation.pair`: closed forms for ABRelu, Erf and
  Sign, the determinant otherwise; an odd activation keeps a nearly antipodal pair in pi - theta) and through
  each Dense layer from a determinant written as a sum of non-negative terms.  On a Gram matrix with
  ``x2 = None`` the diagonal stays bit-equal to the variances, with angle exactly zero.
* ``"table"``: for positively homogeneous activations (the ABRelu family) and ``b_std = 0`` every layer
  depends only on the angle, so with ``c = (a^2 + b^2)/2``, ``g = W_std^2 c`` and the normalised dual of
  :func:`kernels.ntk.duals.abrelu_dual`

      nngp = W_std^2 g^depth sqrt(v1 v2) Sigma^depth(theta0),   ntk = W_std^2 g^depth sqrt(v1 v2) K^depth(theta0),
      v = |x|^2 / d,   theta0 the angle between x and x',

  with the depth maps of :func:`kernels.ntk.depth.tabulate_depth` (the one tabulation engine; cached per
  activation and depth) evaluated at the angle: ``O(N^2 + grid log depth)``.  ``"auto"`` picks the table when
  it applies and ``depth >= 4``.

Accuracy (float64, against a 50-digit mpmath recursion, :func:`proofs_check.references.fc_kernel_reference`;
30 random pairs per case): every entry within 1e-12 of ``sqrt(K_ii K_jj)`` for parallel, antipodal, 1e-6-apart
(both ways) and generic pairs of ReLU, Abs, LeakyReLU, Sign and erf networks (depth 1-50, W_std 0.5-2, b_std
0-0.3).  Worst measured: 2.5e-13 for erf at depth 50 (W_std 2, b_std 0, a chaotic network) 1e-6 from parallel or
antipodal, where a one-ulp change of one input moves the exact kernel by up to 1e-12 (what is left comes from
the variances |x|^2 / d, rounded one by one, whose difference the network amplifies); 2.2e-14 elsewhere.
Activations without a stable angle map (Gelu, Sin, Rbf, Hermite, Polynomial, Quadrature) take their angle from
the determinant and lose up to sqrt(eps) next to 0 and pi.

Depth: any depth (tested to 2e5) stays finite where the exact kernel is representable.  When the
scale ``g^depth`` under- or overflows float64 the exact kernel is not representable: underflow gives
zeros (finite); overflow raises ``FloatingPointError`` naming ``W_std``; inputs whose squared norm overflows
raise ``FloatingPointError`` naming ``x1`` or ``x2``.

Memory: rows are processed in blocks of ``block_size`` (default: about 4e6 entries per block), so
besides the requested outputs at most a handful of block-sized arrays are alive.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import is_array_api_obj

from kernels.backend import array_namespace, asarray
from kernels.ntk.activations import Quadrature, get_activation
from kernels.ntk.depth import tabulate_depth
from kernels.ntk.duals import abrelu_dual
from kernels.numerics import clip, pair_angle, unit_rows
from kernels.validation import check_matrix, check_positive, check_positive_int

__all__ = ["FCKernel", "fc_kernel", "clear_table_cache"]

_BLOCK_ENTRIES = 4_000_000
_EXACT_BELOW = 1e-2  # angles (and pi - angles) below which the input angle is recomputed from an exact product
_METHODS = ("auto", "direct", "table")


@dataclass(frozen=True)
class FCKernel:
    """NNGP and NTK Gram matrices, shape ``(len(x1), len(x2))``; an entry not requested is None."""

    nngp: Any = None
    ntk: Any = None


def _normalize_get(get):
    names = (get,) if isinstance(get, str) else tuple(get)
    if not names or any(g not in ("nngp", "ntk") for g in names):
        raise ValueError(f"get must be 'nngp', 'ntk' or a tuple of them, got {get!r}")
    return "nngp" in names, "ntk" in names


def _block_eye(rows, xp, device):
    """Boolean identity of the square sub-block ``[rows, rows]`` of a Gram row block (None off a Gram)."""
    if rows is None:
        return None
    size = rows.stop - rows.start
    return xp.arange(size, device=device)[:, None] == xp.arange(size, device=device)[None, :]


def _set_diagonal(mat, rows, eye, values, xp):
    """Set the Gram diagonal inside the row block ``rows`` (columns ``rows``) to ``values``, in place.

    Only the square sub-block ``mat[:, rows]`` is touched, so the cost is O(block^2), not O(block N).
    """
    if rows is None:
        return mat
    fill = values[:, None] if hasattr(values, "shape") else values
    mat[:, rows] = xp.where(eye, fill, mat[:, rows])
    return mat


def _dense_angle(t1, t2, theta, comp, sw2, sb2, xp):
    """(theta', pi - theta') of ``[[sw2 t1 + sb2, c], [c, sw2 t2 + sb2]]``, ``c = sw2 sqrt(t1 t2) cos theta + sb2``,
    without cancellation (``comp`` is pi - theta, accurate where theta > pi/2): its determinant is
    ``sw2^2 t1 t2 sin^2 theta + sw2 sb2 Delta`` with
    ``Delta = t1 + t2 - 2 sqrt(t1 t2) cos theta = (sqrt t1 - sqrt t2)^2 + 4 sqrt(t1 t2) sin^2(theta / 2)``."""
    if sb2 == 0.0:
        return theta, comp
    r1, r2 = xp.sqrt(t1), xp.sqrt(t2)
    root = r1 * r2
    delta = (r1 - r2) ** 2 + 4.0 * root * xp.sin(theta / 2) ** 2
    sine = xp.sin(xp.where(theta > math.pi / 2, comp, theta))
    det = (sw2 * sw2) * (t1 * t2) * sine**2 + (sw2 * sb2) * delta
    c = sw2 * root * xp.cos(theta) + sb2
    return xp.atan2(xp.sqrt(det), c), xp.atan2(xp.sqrt(det), -c)


def _split(a, xp):
    """Veltkamp's split a = hi + lo, each half with at most half the significant bits (Dekker, Numer. Math. 18, 1971)."""
    c = (134217729.0 if a.dtype == xp.float64 else 4097.0) * a  # 2^27 + 1 (float64), 2^12 + 1 (float32)
    hi = c - (c - a)
    return hi, a - hi


def _residual(coef, x, y, xp):
    """y - coef x to full relative accuracy of each entry (Dekker's exact product coef x = p + e)."""
    c_hi, c_lo = _split(coef, xp)
    x_hi, x_lo = _split(x, xp)
    p = coef * x
    e = ((c_hi * x_hi - p) + c_hi * x_lo + c_lo * x_hi) + c_lo * x_lo
    return (y - p) - e


def _power_of_two_rows(x, xp):
    """Rows of ``x`` scaled by powers of two (exact) to a largest entry in [1/2, 2]."""
    big = xp.max(xp.abs(x), axis=1, keepdims=True)
    k = xp.round(xp.log2(xp.where(big > 0, big, xp.ones_like(big))))
    return x * xp.pow(xp.full_like(k, 2.0), -k)


def _input_angles(x1, x2, unit1, unit2, xp):
    """(theta, pi - theta) between the rows of ``x1`` and ``x2``, each to full relative accuracy where it is small.

    :func:`kernels.numerics.pair_angle` on the rounded unit rows gives theta to a few ulps in absolute terms; within
    0.01 of 0 and pi (where that is worse than 1e-14 relative) the angle is recomputed from the inputs themselves: with y = c x + r, c = x.y / x.x,
    theta = arctan2(|r|, c |x|), r formed with an exact product and orthogonalised twice (an error in c moves r
    along x, which changes |r| by (eps / theta)^2 relative after one pass).  Rounding the unit rows would cost
    eps / theta relative.  Measured: 1e-14 relative at theta from 1e-13 to 1e-3 (rows scaled 1e-150 to 1e120).
    """
    theta = pair_angle(unit1, unit2, xp)
    comp = math.pi - theta
    near = (theta < _EXACT_BELOW) | (theta > math.pi - _EXACT_BELOW)
    if bool(xp.any(near)):
        rows, cols = xp.nonzero(near)
        a = xp.take(_power_of_two_rows(x1, xp), rows, axis=0)
        b = xp.take(_power_of_two_rows(x2, xp), cols, axis=0)
        norm2 = xp.sum(a * a, axis=1)
        coef = xp.sum(a * b, axis=1) / norm2
        r = _residual(coef[:, None], a, b, xp)
        fix = xp.sum(a * r, axis=1) / norm2  # once more against the rounding of coef ("twice is enough")
        r = xp.linalg.vector_norm(_residual(fix[:, None], a, r, xp), axis=1)
        along = (coef + fix) * xp.sqrt(norm2)
        ok = xp.isfinite(r) & xp.isfinite(along)
        theta[near] = xp.where(ok, xp.atan2(r, along), theta[near])
        comp[near] = xp.where(ok, xp.atan2(r, -along), comp[near])
    return theta, comp


def _best_cosine(cov, var1, var2, theta, xp):
    """cos theta: from the covariance where it is small (relative accuracy of tiny correlations), else from the
    angle (absolute accuracy of 1 -+ cos next to 0 and pi)."""
    root = xp.sqrt(var1[:, None] * var2[None, :])
    safe = xp.where(root > 0, root, xp.ones_like(root))
    from_cov = clip(cov / safe, -1.0, 1.0, xp)
    return xp.where((xp.abs(from_cov) <= 0.5) & (root > 0), from_cov, xp.cos(theta))


def _direct_block(cov, theta, comp, var1, var2, rows, act, depth, sw2, sb2, want_ntk, xp):
    """Layer-by-layer recursion for one row block; ``cov`` is ``x1_block . x2 / d``, ``theta`` the input angles and
    ``comp`` = pi - theta.

    The recursion carries the angle of every pair and its complement (each activation's :meth:`~Activation.pair`
    and :func:`_dense_angle` keep theta accurate where it is small and pi - theta where that is small: an odd
    activation keeps a nearly antipodal pair nearly antipodal), besides the covariances.  For a
    Gram matrix (``rows`` is the block's slice of ``x2``) the row variances are a slice of the column variances,
    so the diagonal stays bit-equal to both.
    """
    eye = _block_eye(rows, xp, getattr(cov, "device", None))
    theta, comp = _dense_angle(var1[:, None], var2[None, :], theta, comp, sw2, sb2, xp)
    var2 = sw2 * var2 + sb2
    var1 = var2[rows] if rows is not None else sw2 * var1 + sb2
    nngp = _set_diagonal(sw2 * cov + sb2, rows, eye, var1, xp)
    ntk = nngp if want_ntk else None
    for _ in range(depth):
        t2 = act.kernel(var2, var2, var2, xp)[0]
        t1 = t2[rows] if rows is not None else act.kernel(var1, var1, var1, xp)[0]
        t, tdot, theta_t, comp_t = act.pair(var1[:, None], var2[None, :], theta,
                                            _best_cosine(nngp, var1, var2, theta, xp), t1[:, None], t2[None, :], xp,
                                            comp=comp)
        theta, comp = _dense_angle(t1[:, None], t2[None, :], theta_t, comp_t, sw2, sb2, xp)
        theta, comp = _set_diagonal(theta, rows, eye, 0.0, xp), _set_diagonal(comp, rows, eye, math.pi, xp)
        var2 = sw2 * t2 + sb2
        var1 = var2[rows] if rows is not None else sw2 * t1 + sb2
        nngp = _set_diagonal(sw2 * t + sb2, rows, eye, var1, xp)
        if want_ntk:
            ntk = nngp + sw2 * (ntk * tdot)
    return nngp, ntk


def fc_kernel(
    x1,
    x2=None,
    *,
    depth: int,
    activation,
    W_std: float = 1.0,
    b_std: float = 0.0,
    block_size: int | None = None,
    get=("nngp", "ntk"),
    method: str = "auto",
) -> FCKernel:
    """NNGP and NTK of ``Dense -> (activation -> Dense) x depth`` in the NTK parametrisation.

    Parameters
    ----------
    x1, x2 : arrays of shape ``(n1, d)`` and ``(n2, d)``
        Inputs (any array-API namespace; ``x2=None`` means ``x1``).  float32 inputs give float32
        kernels, everything else float64.
    depth : int
        Number of hidden layers (activations), ``>= 0``.
    activation : str, Activation or callable
        A name (``"relu"``, ``"erf"``, ...), an :class:`~kernels.ntk.activations.Activation` or a
        callable (evaluated by Gauss-Hermite quadrature).
    W_std, b_std : float
        Weight and bias standard deviations of every Dense layer.
    block_size : int, optional
        Rows per block (default: about 4e6 entries per block).
    get : str or tuple
        ``"nngp"``, ``"ntk"`` or both (default); what is not requested is not computed.
    method : str
        ``"auto"``, ``"direct"`` or ``"table"`` (see the module docstring).

    Returns
    -------
    FCKernel
        ``.nngp`` and ``.ntk`` of shape ``(n1, n2)`` in the namespace of ``x1``.
    """
    spec = _resolve(activation, depth, W_std, b_std, get, method)
    x1, x2, same, xp = _check_inputs(x1, x2)
    n1, n2 = x1.shape[0], x2.shape[0]
    block_size = _block_size(block_size, n2, spec.act)
    block_fn = _table_block_fn(spec, x1, x2, same, xp) if spec.use_table else _direct_block_fn(spec, x1, x2, same, xp)
    out = [None, None]
    for start in range(0, n1, block_size):
        stop = min(start + block_size, n1)
        block = block_fn(start, stop)
        if stop - start == n1:  # one block: no copy
            return FCKernel(nngp=block[0], ntk=block[1])
        for i, mat in enumerate(block):
            if mat is not None:
                if out[i] is None:
                    out[i] = xp.zeros((n1, n2), dtype=x1.dtype, device=getattr(x1, "device", None))
                out[i][start:stop, :] = mat
    return FCKernel(nngp=out[0], ntk=out[1])


@dataclass(frozen=True)
class _Spec:
    """The validated network: activation, depth, variances and what to compute."""

    act: Any
    depth: int
    W_std: float
    b_std: float
    want_nngp: bool
    want_ntk: bool
    use_table: bool

    @property
    def sw2(self):
        return self.W_std * self.W_std

    @property
    def sb2(self):
        return self.b_std * self.b_std


def _resolve(activation, depth, W_std, b_std, get, method) -> _Spec:
    act = get_activation(activation)
    depth = check_positive_int(depth, "depth", minimum=0)
    W_std = check_positive(W_std, "W_std")
    b_std = check_positive(b_std, "b_std", allow_zero=True)
    want_nngp, want_ntk = _normalize_get(get)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    homogeneous = bool(getattr(act, "homogeneous", False)) and b_std == 0.0
    if method == "table" and not homogeneous:
        raise ValueError(
            "method='table' needs a positively homogeneous activation (ABRelu family) and b_std = 0, "
            f"got activation={act!r}, b_std={b_std}"
        )
    use_table = method == "table" or (method == "auto" and homogeneous and depth >= 4)
    return _Spec(act, depth, W_std, b_std, want_nngp, want_ntk, use_table)


def _check_real(x, name):
    """Refuse strings, objects and complex numbers with a TypeError naming ``name`` (before any conversion)."""
    if is_array_api_obj(x):
        xp = array_namespace(x)
        if not xp.isdtype(x.dtype, ("real floating", "integral", "bool")):
            raise TypeError(f"{name} must be an array of real numbers, got dtype {x.dtype}")
        return
    try:
        kind = np.asarray(x).dtype.kind
    except (ValueError, TypeError) as err:  # ragged nested sequences
        raise TypeError(f"{name} must be an array of real numbers: {err}") from None
    if kind not in "biuf":
        raise TypeError(f"{name} must be an array of real numbers, got {np.asarray(x).dtype} ({type(x).__name__})")


def _check_scale(x, name, xp):
    """|x|^2 / d must be finite: beyond it the kernel (which scales like it) is not representable."""
    with np.errstate(over="ignore"):  # the overflow is reported below, naming the argument
        var = xp.sum(x * x, axis=1) / x.shape[1]
    if not bool(xp.all(xp.isfinite(var))):
        big = float(xp.max(xp.abs(x)))
        raise FloatingPointError(
            f"{name} overflows: |{name}_i|^2 / d exceeds the float range (max |{name}| = {big:.3g}), so the "
            f"kernel, which scales like it, is not representable; rescale {name}"
        )
    return var


def _check_inputs(x1, x2):
    _check_real(x1, "x1")
    if x2 is not None:
        _check_real(x2, "x2")
    xp = array_namespace(x1)
    x1 = check_matrix(asarray(x1, xp=xp, name="x1"), "x1")
    same = x2 is None or x2 is x1
    x2 = x1 if same else check_matrix(asarray(x2, xp=xp, dtype=str(x1.dtype).rsplit(".", 1)[-1], name="x2"), "x2")
    if x2.shape[1] != x1.shape[1]:
        raise ValueError(f"x1 and x2 must have the same number of columns, got {x1.shape[1]} and {x2.shape[1]}")
    _check_scale(x1, "x1", xp)
    if not same:
        _check_scale(x2, "x2", xp)
    return x1, x2, same, xp


def _block_size(block_size, n2, act):
    if block_size is None:
        block_size = max(1, _BLOCK_ENTRIES // max(n2, 1))
        if isinstance(act, Quadrature):
            block_size = max(1, block_size // act.degree)
    return check_positive_int(block_size, "block_size")


def _table_block_fn(spec, x1, x2, same, xp):
    """Row blocks by the depth table: ``scale |x1| |x2| (Sigma^L, K^L)(rho0)``."""
    d = x1.shape[1]
    table, scale = _table_and_scale(spec.act, spec.depth, spec.sw2)
    norm1 = xp.sqrt(xp.sum(x1 * x1, axis=1) / d)
    norm2 = norm1 if same else xp.sqrt(xp.sum(x2 * x2, axis=1) / d)
    # rows scaled to unit norm, so one product gives the correlations; zero rows get a zero kernel
    unit1 = unit_rows(x1, xp, name="x1", zero_rows="keep")
    unit2 = unit1 if same else unit_rows(x2, xp, name="x2", zero_rows="keep")
    device = getattr(x1, "device", None)

    def block(start, stop):
        theta = _input_angles(x1[start:stop, :], x2, unit1[start:stop, :], unit2, xp)[0]  # cosines are not, next to 0
        rows = slice(start, stop) if same else None
        theta = _set_diagonal(theta, rows, _block_eye(rows, xp, device), 0.0, xp)
        sigma_l, k_l = table.at_angle(theta)
        root = (scale * norm1[start:stop])[:, None] * norm2[None, :]
        out = (root * sigma_l if spec.want_nngp else None, root * k_l if spec.want_ntk else None)
        for name, mat in zip(("nngp", "ntk"), out):
            if mat is not None and not bool(xp.all(xp.isfinite(mat))):
                raise FloatingPointError(
                    f"the {name} kernel overflows float64 at depth {spec.depth}: W_std^2 |x1| |x2| / d times the "
                    f"depth-{spec.depth} map exceeds the float range (W_std={spec.W_std}); rescale x1 and x2"
                )
        return out

    return block


def _direct_block_fn(spec, x1, x2, same, xp):
    """Row blocks by the layer-by-layer recursion; non-finite results raise naming W_std and b_std."""
    d = x1.shape[1]
    var1_all = xp.sum(x1 * x1, axis=1) / d
    var2_all = var1_all if same else xp.sum(x2 * x2, axis=1) / d
    unit1 = unit_rows(x1, xp, name="x1", zero_rows="keep")
    unit2 = unit1 if same else unit_rows(x2, xp, name="x2", zero_rows="keep")

    def block(start, stop):
        cov = (x1[start:stop, :] @ x2.T) / d
        rows = slice(start, stop) if same else None
        theta, comp = _input_angles(x1[start:stop, :], x2, unit1[start:stop, :], unit2, xp)
        out = _direct_block(cov, theta, comp, var1_all[start:stop], var2_all, rows, spec.act, spec.depth, spec.sw2,
                            spec.sb2, spec.want_ntk, xp)
        for name, mat in zip(("nngp", "ntk"), out):
            if mat is not None and not bool(xp.all(xp.isfinite(mat))):
                raise FloatingPointError(
                    f"the {name} kernel is not finite at depth {spec.depth} (activation={spec.act!r}, "
                    f"W_std={spec.W_std}, b_std={spec.b_std}): the exact values exceed the float range"
                )
        return (out[0] if spec.want_nngp else None, out[1] if spec.want_ntk else None)

    return block


def _table_and_scale(act, depth, sw2):
    """The depth table of ``act``'s normalised dual and the factor ``W_std^2 (W_std^2 c)^depth``."""
    gain = sw2 * act.dual_scale
    try:
        scale = sw2 * gain**depth
    except OverflowError:
        scale = math.inf
    if not math.isfinite(scale):
        raise FloatingPointError(
            f"the kernel overflows float64 at depth {depth}: it scales like (W_std^2 (a^2+b^2)/2)^depth = "
            f"{gain}^{depth}; use W_std = {math.sqrt(1.0 / act.dual_scale):.6g} for a depth-stable scale"
        )
    return _cached_table(float(act.a), float(act.b), depth), scale


@functools.lru_cache(maxsize=16)
def _cached_table(a, b, depth):
    return tabulate_depth(abrelu_dual(a, b), depth)


def clear_table_cache() -> None:
    """Forget the depth tables kept between calls (the next table-path call builds its table again)."""
    _cached_table.cache_clear()
