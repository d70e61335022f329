"""kernels.linalg: the checked Cholesky and the solves, inverse and log-determinant built on it."""

import numpy as np
import pytest

from kernels.backend import to_numpy
from kernels.linalg import (CholeskyError, cho_inverse, cho_solve, cholesky, inverse_and_logdet, logdet_from_factor,
                            solve_triangular, triangular_matmul)


def _spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


def test_factor_solves_and_logdet_match_numpy(xp, rng):
    A = _spd(rng, 6)
    b = rng.standard_normal((6, 2))
    L = cholesky(xp.asarray(A), "A")
    np.testing.assert_allclose(to_numpy(L) @ to_numpy(L).T, A, rtol=1e-13)
    np.testing.assert_allclose(to_numpy(cho_solve(L, xp.asarray(b))), np.linalg.solve(A, b), rtol=1e-11)
    np.testing.assert_allclose(to_numpy(solve_triangular(L, xp.asarray(b), lower=True)),
                               np.linalg.solve(to_numpy(L), b), rtol=1e-11)
    inv, logdet, _ = inverse_and_logdet(xp.asarray(A), "A")
    np.testing.assert_allclose(to_numpy(inv), np.linalg.inv(A), rtol=1e-11)
    assert logdet == pytest.approx(np.linalg.slogdet(A)[1], rel=1e-13, abs=0)
    assert logdet_from_factor(-L) == pytest.approx(logdet, rel=1e-15, abs=0)  # any signs on the diagonal


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [False, True])
@pytest.mark.parametrize("right", [False, True])
def test_triangular_matmul_reads_one_triangle(xp, rng, dtype, lower, trans, right):
    """op(T) B and B op(T) against the dense product of the triangle; the other triangle is ignored."""
    T = rng.standard_normal((5, 5))
    B = rng.standard_normal((3, 5) if right else (5, 3))
    tri = np.tril(T) if lower else np.triu(T)
    op = tri.T if trans else tri
    expected = B @ op if right else op @ B
    got = triangular_matmul(xp.asarray(T.astype(dtype)), xp.asarray(B.astype(dtype)), lower=lower, trans=trans,
                            right=right)
    assert got.dtype == xp.asarray(T.astype(dtype)).dtype
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(to_numpy(got), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [0, 1])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_solve_triangular_reads_one_triangle(xp, rng, dtype, lower, trans, layout):
    """op(T)^-1 B against a dense solve with the triangle, for right-hand sides in any memory layout;
    the other triangle of T is ignored."""
    T = rng.standard_normal((6, 6)) + 6.0 * np.eye(6)
    tri = np.tril(T) if lower else np.triu(T)
    B = rng.standard_normal((6, 8))
    B = {"C": B, "F": np.asfortranarray(B), "strided": B[:, ::2]}[layout]
    expected = np.linalg.solve(tri.T if trans else tri, B)
    got = solve_triangular(xp.asarray(T.astype(dtype)), xp.asarray(B.astype(dtype)), lower=lower, trans=trans)
    assert got.dtype == xp.asarray(T.astype(dtype)).dtype and got.shape == B.shape
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(to_numpy(got), expected, rtol=tol, atol=tol)
    vector = solve_triangular(xp.asarray(T.astype(dtype)), xp.asarray(B[:, 0].astype(dtype)), lower=lower, trans=trans)
    np.testing.assert_allclose(to_numpy(vector), expected[:, 0], rtol=tol, atol=tol)


def test_solve_triangular_zero_pivot_raises():
    T = np.tril(np.ones((4, 4)))
    T[2, 2] = 0.0
    with pytest.raises(np.linalg.LinAlgError, match="singular lower triangular matrix: zero on the diagonal at "
                                                    "index 2"):
        solve_triangular(T, np.ones((4, 2)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cho_inverse_matches_inverse_and_reads_the_lower_triangle(xp, rng, dtype):
    A = _spd(rng, 7)
    L = np.linalg.cholesky(A)
    garbage = L + np.triu(rng.standard_normal((7, 7)), 1)  # the strict upper triangle must not be read
    got = to_numpy(cho_inverse(xp.asarray(garbage.astype(dtype))))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, np.linalg.inv(A), rtol=tol, atol=tol * float(np.abs(np.linalg.inv(A)).max()))
    assert np.array_equal(got, got.T)


def test_batched_factor(rng):
    A = np.stack([_spd(rng, 4) for _ in range(3)])
    L = cholesky(A, "batch")
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), A, rtol=1e-13)


def test_not_positive_definite_names_matrix_eigenvalue_and_jitter():
    A = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    with pytest.raises(CholeskyError, match=r"K_train \(2, 2\) is not positive definite.*smallest eigenvalue "
                                            r"estimate -1, jitter tried 1e-06; raise diag_reg"):
        cholesky(A, "K_train", 1e-6, hint="raise diag_reg")
    assert issubclass(CholeskyError, ValueError)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_input_is_reported_as_overflow(bad):
    A = np.eye(3)
    A[1, 1] = bad
    with pytest.raises(CholeskyError, match="G.*non-finite entries.*overflow"):
        cholesky(A, "G")
