"""Dense linear algebra on any supported array namespace: the one checked Cholesky and what is built on it.

- :func:`cholesky`: lower factor L with A = L L^T; on failure a :class:`CholeskyError` that names the
  matrix, an estimate of its smallest eigenvalue and the jitter already tried. NumPy raises on a
  non-positive pivot, CuPy returns NaN: both are caught here, once.
- :func:`solve_triangular`, :func:`cho_solve`: L x = b, L^T x = b and (L L^T) x = b, dispatched to BLAS trsm
  (NumPy matrices: no copy into Fortran order), SciPy, ``cupyx.scipy.linalg`` or (strict test namespace) a
  NumPy round trip.
- :func:`triangular_matmul`: op(T) B or B op(T) for triangular T (BLAS trmm on NumPy: half a general product).
- :func:`cho_inverse`, :func:`inverse_from_factor`, :func:`logdet_from_factor`, :func:`inverse_and_logdet`:
  G^-1 = F^-T F^-1 (LAPACK potri on NumPy: a third of the work of a solve against I and a product) and
  log|G| = 2 sum log|F_ii| for G = F F^T.
"""

from __future__ import annotations

import numpy as np
from array_api_compat import is_cupy_namespace, is_numpy_namespace

from kernels.backend import _numpy_roundtrip, array_device, array_namespace

__all__ = [
    "CholeskyError",
    "cholesky",
    "solve_triangular",
    "cho_solve",
    "triangular_matmul",
    "cho_inverse",
    "inverse_from_factor",
    "logdet_from_factor",
    "inverse_and_logdet",
]


class CholeskyError(ValueError):
    """A matrix that must be positive definite is not (numerically)."""


def _smallest_eigenvalue(A, xp) -> float:
    try:
        return float(xp.min(xp.linalg.eigvalsh((A + xp.matrix_transpose(A)) / 2)))
    except Exception:  # non-finite entries: no estimate
        return float("nan")


def cholesky(A, name: str = "matrix", jitter: float = 0.0, *, hint: str | None = None):
    """Lower Cholesky factor of a symmetric positive definite ``A`` (or a batch ``(..., n, n)``).

    Parameters
    ----------
    A : array
        Symmetric matrix (or stack of matrices).
    name : str
        What ``A`` is, for the error message.
    jitter : float
        The jitter already added to ``A``'s diagonal, for the error message.
    hint : str, optional
        What the caller can change; default: increase ``jitter`` or check the inputs for duplicates.

    Raises
    ------
    CholeskyError
        If the factorisation fails or yields a non-finite or non-positive pivot; the message names
        ``name``, the shape, the smallest-eigenvalue estimate and ``jitter``, and says "overflow"
        when ``A`` holds non-finite entries.
    """
    xp = array_namespace(A)
    try:
        L = xp.linalg.cholesky(A)
        diagonal = xp.linalg.diagonal(L)
        ok = bool(xp.all(xp.isfinite(diagonal))) and bool(xp.all(diagonal > 0))
    except np.linalg.LinAlgError:
        ok = False
    if ok:
        return L
    if not bool(xp.all(xp.isfinite(A))):
        raise CholeskyError(
            f"Cholesky factorisation of {name} {tuple(A.shape)} failed: it holds non-finite entries "
            f"(overflow in the computation that formed it; rescale the inputs)"
        )
    lam = _smallest_eigenvalue(A, xp)
    advice = hint or "increase `jitter` or check the inputs for duplicates"
    raise CholeskyError(
        f"{name} {tuple(A.shape)} is not positive definite (Cholesky factorisation failed): smallest eigenvalue "
        f"estimate {lam:.6g}, jitter tried {jitter:.3g}; {advice}"
    )


def _blas_ready(*arrays) -> bool:
    """NumPy float32/float64 arrays of one dtype: the case handed to BLAS/LAPACK directly."""
    dtype = arrays[0].dtype
    return all(isinstance(a, np.ndarray) and a.dtype == dtype for a in arrays) and dtype in (np.float32, np.float64)


def _check_nonsingular(a, lower: bool) -> None:
    zero = np.flatnonzero(np.diagonal(a) == 0)
    if zero.size:
        raise np.linalg.LinAlgError(f"singular {'lower' if lower else 'upper'} triangular matrix: zero on the "
                                    f"diagonal at index {int(zero[0])}")


def solve_triangular(a, b, *, lower: bool = True, trans: int = 0):
    """Solve ``a x = b`` (``trans=1``: ``a^T x = b``) for triangular ``a`` on any supported backend.

    Only the triangle ``lower`` of ``a`` is read; a zero on its diagonal raises ``LinAlgError``.
    """
    xp = array_namespace(a, b)
    if is_numpy_namespace(xp):
        if b.ndim == 2 and _blas_ready(a, b) and trans in (0, 1):
            from scipy.linalg import get_blas_funcs

            _check_nonsingular(a, lower)
            trsm = get_blas_funcs("trsm", (a, b))
            # a C-ordered array is its transpose in Fortran order: op(a)^-1 b = (b^T op(a)^-T)^T, views only
            return trsm(1.0, a.T, b.T, side=1, lower=not lower, trans_a=int(trans)).T
        import scipy.linalg

        return scipy.linalg.solve_triangular(a, b, lower=lower, trans=trans, check_finite=False)
    if is_cupy_namespace(xp):
        import cupyx.scipy.linalg

        return cupyx.scipy.linalg.solve_triangular(a, b, lower=lower, trans=trans)
    import scipy.linalg

    return _numpy_roundtrip(scipy.linalg.solve_triangular, xp, a, b, lower=lower, trans=trans)


def triangular_matmul(t, b, *, lower: bool = True, trans: bool = False, right: bool = False):
    """op(t) @ b (``right=True``: b @ op(t)) for triangular ``t``, op(t) = t^T when ``trans``.

    Only the triangle ``lower`` of ``t`` is read.  On NumPy (float32/float64) this is BLAS trmm, which
    costs half a general matrix product; elsewhere a plain product of the triangle.
    """
    xp = array_namespace(t, b)
    if _blas_ready(t, b):
        from scipy.linalg import get_blas_funcs

        trmm = get_blas_funcs("trmm", (t, b))
        # a C-ordered array is its transpose in Fortran order: op(t) b = (b^T op(t)^T)^T, views only
        return trmm(1.0, t.T, b.T, side=0 if right else 1, lower=not lower, trans_a=int(trans)).T
    t = xp.tril(t) if lower else xp.triu(t)
    t = t.T if trans else t
    return b @ t if right else t @ b


def cho_solve(chol_lower, b):
    """Solve ``(L L^T) x = b`` given the lower Cholesky factor ``L``."""
    y = solve_triangular(chol_lower, b, lower=True)
    return solve_triangular(chol_lower, y, lower=True, trans=1)


def cho_inverse(F):
    """G^-1 for G = F F^T with F lower triangular (only the lower triangle of F is read)."""
    xp = array_namespace(F)
    if _blas_ready(F):
        from scipy.linalg import get_lapack_funcs

        _check_nonsingular(F, True)
        potri = get_lapack_funcs("potri", (F,))
        # F^T is G's upper Cholesky factor, and the Fortran-ordered view of F: potri fills the upper triangle
        inv, info = potri(F.T, lower=0)
        if info != 0:
            raise np.linalg.LinAlgError(f"potri failed (info = {info})")
        return np.triu(inv) + np.triu(inv, 1).T
    return inverse_from_factor(F)[0]


def inverse_from_factor(F):
    """(G^-1, F^-1) for G = F F^T with F lower triangular (explicit inverses: for gradients)."""
    xp = array_namespace(F)
    Finv = solve_triangular(F, xp.eye(F.shape[0], dtype=F.dtype, device=array_device(F)), lower=True)
    return Finv.T @ Finv, Finv


def logdet_from_factor(F) -> float:
    """log|F F^T| = 2 sum log|F_ii| for a triangular F (any signs on its diagonal)."""
    xp = array_namespace(F)
    return 2.0 * float(xp.sum(xp.log(xp.abs(xp.linalg.diagonal(F)))))


def inverse_and_logdet(A, name: str = "matrix", jitter: float = 0.0):
    """(A^-1, log|A|, chol(A)) for a symmetric positive definite ``A``."""
    L = cholesky(A, name, jitter)
    return cho_inverse(L), logdet_from_factor(L), L
