"""Shared test infrastructure: hypothesis profiles, the ``xp`` backend fixture, marker handling.

``strict_no_host``: the array_api_strict namespace with implicit conversion of its arrays to NumPy raising,
as CuPy's does, so a stray host round trip in a heavy path fails on a CPU machine too (explicit transfers
through ``kernels.backend.to_numpy`` still work).

Hypothesis profiles: ``ci`` (derandomised, loaded when CI=true) and ``dev`` (random, more examples);
select another with HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from kernels.backend import gpu_available

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=30,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_default_profile = "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default_profile))


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="no usable CUDA device (cupy.cuda.runtime.getDeviceCount() failed or is 0)")
    # In CI the oracle, lm and distributed extras are installed: a missing one must fail loudly, not skip.
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    for item in items:
        if "gpu" in item.keywords and not gpu_available():
            item.add_marker(skip_gpu)
        if not in_ci:
            if "oracle" in item.keywords and not _has("neural_tangents"):
                item.add_marker(pytest.mark.skip(reason="neural-tangents not installed (extra 'oracle')"))
            if "lm" in item.keywords and not (_has("torch") and _has("transformers")):
                item.add_marker(pytest.mark.skip(reason="language-model stack not installed (extra 'lm')"))
            if "distributed" in item.keywords and not _has("distributed"):
                item.add_marker(pytest.mark.skip(reason="dask.distributed not installed (extra 'distributed')"))


def _backends():
    params = [pytest.param("numpy", id="numpy"), pytest.param("array_api_strict", id="array_api_strict")]
    params.append(pytest.param("cupy", id="cupy", marks=pytest.mark.gpu))
    return params


@pytest.fixture(params=_backends())
def xp(request):
    """Array namespace to run backend-generic code on: numpy, array_api_strict, cupy (gpu)."""
    from kernels.backend import namespace_of

    return namespace_of(request.param)


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """One BLAS thread for the whole suite: the tests run many small factorisations and products, where a
    multi-threaded BLAS on a loaded machine mostly waits (one 200-point DKM fit: 13-49 s against 0.65 s)."""
    import scipy.linalg  # noqa: F401  (load scipy's BLAS first, so that the limit reaches it)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(autouse=True)
def _mpmath_default_precision():
    """Every test starts at mpmath's default 15 digits and leaves it so: a reference that needs more digits
    says so itself (``mpmath.workdps``), and no test's precision depends on which tests ran before it."""
    import mpmath

    mpmath.mp.dps = 15
    yield
    mpmath.mp.dps = 15


@pytest.fixture
def rng():
    return np.random.default_rng(20231127)


class ImplicitHostConversion(TypeError):
    pass


@pytest.fixture
def strict_no_host():
    """The array_api_strict namespace, with implicit conversion of its arrays to NumPy raising."""
    import array_api_strict

    array_type = type(array_api_strict.asarray(0.0))

    def refuse(self, *args, **kwargs):
        raise ImplicitHostConversion("implicit conversion of a device array to NumPy (CuPy refuses it)")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(array_type, "__array__", refuse)
        patch.setattr(array_type, "__buffer__", refuse, raising=False)
        yield array_api_strict
