"""Assertion helpers: compare arrays across backends with dtype-keyed tolerances."""

from __future__ import annotations

import numpy as np
from array_api_compat import array_namespace

from kernels.backend import to_numpy

RTOL = {"float64": 1e-12, "float32": 5e-4}


def assert_close(actual, desired, *, rtol=None, atol=0.0, xp=None, check_dtype=True):
    """Values agree to ``rtol`` (default by dtype); namespace and shape (and dtype) match too."""
    if xp is not None:
        assert array_namespace(actual) is xp, f"result namespace {array_namespace(actual)} is not {xp}"
    dtype = str(getattr(actual, "dtype", "float64")).rsplit(".", 1)[-1]
    if check_dtype and hasattr(desired, "dtype"):
        assert dtype == str(desired.dtype).rsplit(".", 1)[-1], f"dtype {dtype} != {desired.dtype}"
    if rtol is None:
        rtol = RTOL.get(dtype, 1e-12)
    a, d = to_numpy(actual), to_numpy(desired)
    assert a.shape == d.shape, f"shape {a.shape} != {d.shape}"
    np.testing.assert_allclose(a, d, rtol=rtol, atol=atol)


def run_estimator_check(estimator, check):
    """One of scikit-learn's estimator checks; its CuPy array-API variant is skipped where CuPy imports but no
    CUDA device is usable (scikit-learn then fails inside its own set-up, before our code runs)."""
    import pytest

    from kernels.backend import gpu_available

    if getattr(check, "keywords", {}).get("array_namespace") == "cupy" and not gpu_available():
        pytest.skip("no usable CUDA device for the CuPy array-API check")
    check(estimator)
