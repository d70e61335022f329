"""Bad input to the NTK topic (fc_kernel, depth tables, duals, NTKRegressor/NTKClassifier): a clear error
naming the argument, or a correct result."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels.ntk.depth import nngp_ntk, tabulate_depth
from kernels.ntk.duals import get_dual, sine_dual
from kernels.ntk.dynamics import NTKClassifier, NTKRegressor, SingularKernelWarning
from kernels.ntk.fc import fc_kernel

X = np.random.default_rng(0).normal(size=(6, 3))


@pytest.mark.parametrize("method", ["auto", "direct", "table"])
@given(scale=st.floats(1e155, 1e307))
def test_huge_inputs_overflow_naming_x1(method, scale):
    with pytest.raises(FloatingPointError, match=r"x1 overflows"):
        fc_kernel(X * scale, depth=6, activation="relu", method=method)


def test_reproducer_of_issue_13_raises_overflow():
    with pytest.raises(FloatingPointError, match="x1 overflows"):
        fc_kernel(X * 1e300, depth=6, activation="relu")
    with pytest.raises(FloatingPointError, match="x2 overflows"):
        fc_kernel(X, X[:2] * 1e300, depth=6, activation="relu")


@given(scale=st.floats(1e-150, 1e150))
def test_large_but_representable_inputs_are_exactly_homogeneous(scale):
    base = fc_kernel(X, depth=6, activation="relu")
    scaled = fc_kernel(X * scale, depth=6, activation="relu")
    np.testing.assert_allclose(scaled.ntk, base.ntk * scale**2, rtol=1e-12)


@pytest.mark.parametrize("bad", [[["a", "b"], ["c", "d"]], np.array([["1", "2"]]), np.ones((2, 2)) * 1j,
                                 np.array([[object(), 1.0]], dtype=object)])
def test_non_real_inputs_raise_type_error_naming_x(bad):
    with pytest.raises(TypeError, match="x1 must be an array of real numbers"):
        fc_kernel(bad, depth=2, activation="relu")
    with pytest.raises(TypeError, match="x2 must be an array of real numbers"):
        fc_kernel(np.ones((2, 2)), bad, depth=2, activation="relu")


@given(row=st.integers(0, 5), col=st.integers(0, 2), value=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_non_finite_entries_are_refused(row, col, value):
    x = X.copy()
    x[row, col] = value
    with pytest.raises(ValueError, match="x1 must contain only finite"):
        fc_kernel(x, depth=2, activation="erf")
    with pytest.raises(ValueError, match="x2 must contain only finite"):
        fc_kernel(X, x, depth=2, activation="erf")


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (4,), (2, 2, 2)])
def test_wrong_shapes_name_the_argument(shape):
    with pytest.raises(ValueError, match="x1 must"):
        fc_kernel(np.ones(shape), depth=2, activation="relu")


@given(depth=st.one_of(st.integers(-10**6, -1), st.floats(0.5, 3.5).filter(lambda v: not float(v).is_integer())))
def test_bad_depth(depth):
    with pytest.raises((ValueError, TypeError), match="depth"):
        fc_kernel(X, depth=depth, activation="relu")
    with pytest.raises((ValueError, TypeError), match="depth"):
        tabulate_depth("relu", depth)


@given(w=st.one_of(st.floats(max_value=0.0), st.just(math.inf), st.just(math.nan)))
def test_bad_W_std(w):
    with pytest.raises(ValueError, match="W_std"):
        fc_kernel(X, depth=2, activation="relu", W_std=w)


@given(b=st.one_of(st.floats(max_value=-1e-300), st.just(math.inf), st.just(math.nan)))
def test_bad_b_std(b):
    with pytest.raises(ValueError, match="b_std"):
        fc_kernel(X, depth=2, activation="relu", b_std=b)


def test_bad_names_and_options():
    with pytest.raises(ValueError, match="activation must be one of"):
        fc_kernel(X, depth=2, activation="tanhh")
    with pytest.raises(ValueError, match="dual must be one of"):
        get_dual("tanhh")
    with pytest.raises(ValueError, match="a must lie in"):
        sine_dual(-1.0)
    with pytest.raises(ValueError, match="grid_size"):
        tabulate_depth("relu", 3, grid_size=4)
    with pytest.raises(ValueError, match="xi must contain only finite"):
        nngp_ntk(np.array([0.2, np.inf]), "relu", 2)


def test_one_sample_and_duplicated_points_give_correct_kernels():
    one = fc_kernel(X[:1], depth=3, activation="relu")
    np.testing.assert_allclose(one.ntk, fc_kernel(X, depth=3, activation="relu").ntk[:1, :1], rtol=1e-14)
    dup = np.concatenate([X[:2], X[:2]])
    k = fc_kernel(dup, depth=3, activation="erf").ntk
    np.testing.assert_array_equal(k[:2, :2], k[2:, 2:])


# --- estimators ---------------------------------------------------------------------------------


@given(factor=st.integers(2, 50))
def test_parallel_integer_training_points_fit_with_the_defaults(factor):
    """b_std = 0: rows x and c x give proportional kernel rows; the default relative diag_reg keeps it solvable."""
    x = np.array([[1, 2, 0], [factor, 2 * factor, 0], [0, 1, 3], [2, 0, 1]])
    y = np.array([0, 1, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = NTKClassifier().fit(x, y)
        reg = NTKRegressor().fit(x, y.astype(float))
    assert clf.predict(x[2:]).tolist() == [1, 0]
    assert np.all(np.isfinite(reg.predict(x)))


def test_singular_gram_falls_back_with_a_warning():
    x = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0]])
    with pytest.warns(SingularKernelWarning, match="diag_reg=0 .*fitted with diag_reg=1e-10"):
        reg = NTKRegressor(diag_reg=0.0).fit(x, [1.0, -1.0, 2.0])
    assert reg.diag_reg_ == 1e-10
    np.testing.assert_allclose(reg.predict(x[:1]), [0.0], atol=1e-6)  # duplicated point: the average


@given(y=st.lists(st.floats(-10, 10, allow_nan=False).filter(lambda v: not float(v).is_integer()),
                  min_size=6, max_size=6, unique=True))
def test_classifier_refuses_continuous_targets(y):
    with pytest.raises(ValueError, match="Unknown label type"):
        NTKClassifier().fit(X, y)


def test_classifier_labels_and_errors():
    with pytest.raises(ValueError, match="at least two classes"):
        NTKClassifier().fit(X, np.zeros(6))
    with pytest.raises(ValueError, match="Input y contains NaN"):
        NTKClassifier().fit(X, [0, 1, np.nan, 1, 0, 1])
    clf = NTKClassifier().fit(X.tolist(), ["b", "a", "b", "a", "c", "c"])  # lists accepted
    assert clf.classes_.tolist() == ["a", "b", "c"]
    with pytest.raises(ValueError, match="depth"):
        NTKClassifier(depth=-1).fit(X, [0, 1] * 3)
    with pytest.raises(ValueError, match="W_std"):
        NTKRegressor(W_std=0.0).fit(X, np.ones(6))
    with pytest.raises(ValueError, match="(?i)complex"):
        NTKRegressor().fit(X * 1j, np.ones(6))
    with pytest.raises(ValueError, match="0 sample"):  # scikit-learn's wording (validate_data)
        NTKRegressor().fit(X[:0], np.ones(0))
