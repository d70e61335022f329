import numpy as np
import pytest

from kernels import backend
from kernels.backend import array_namespace, asarray, set_backend, special, to_numpy
from kernels.linalg import cho_solve
from tests.helpers import assert_close


def test_default_is_float64_and_namespace_follows_input(xp):
    x = asarray([[1, 2], [3, 4]], xp=xp)
    assert x.dtype == xp.float64
    assert array_namespace(x) is xp


def test_float32_is_kept_when_asked(xp):
    x = asarray(np.ones(3, dtype=np.float32), xp=xp)
    assert x.dtype == xp.float32
    assert asarray(np.ones(3, dtype=np.float32), xp=xp, dtype="float64").dtype == xp.float64


def test_asarray_rejects_non_finite(xp):
    with pytest.raises(ValueError, match="features must contain only finite values"):
        asarray([1.0, np.nan], xp=xp, name="features")


def test_special_and_cho_solve_stay_in_namespace(xp):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    k = a @ a.T + 6 * np.eye(6)
    b = rng.normal(size=(6, 2))
    kx, bx = xp.asarray(k), xp.asarray(b)
    chol = xp.linalg.cholesky(kx)
    x = cho_solve(chol, bx)
    assert array_namespace(x) is xp
    assert_close(x, np.linalg.solve(k, b), rtol=1e-10, check_dtype=False)
    e = special(xp).erf(xp.asarray([0.0, 0.5]))
    assert array_namespace(e) is xp
    np.testing.assert_allclose(to_numpy(e), [0.0, 0.5204998778130465], rtol=1e-14)


def test_set_backend_context_and_env(monkeypatch):
    with set_backend("array_api_strict"):
        import array_api_strict

        assert backend.namespace_of() is array_api_strict
        assert array_namespace() is array_api_strict
    monkeypatch.setenv(backend.ENV_VAR, "numpy")
    assert backend.get_backend() == "numpy"
    monkeypatch.setenv(backend.ENV_VAR, "tpu")
    with pytest.raises(ValueError, match="LTL_BACKEND"):
        backend.get_backend()


def test_auto_resolves_to_numpy_without_gpu(monkeypatch):
    monkeypatch.delenv(backend.ENV_VAR, raising=False)
    expected = "cupy" if backend.gpu_available() else "numpy"
    assert backend.get_backend() == expected


def test_unknown_backend_name():
    with pytest.raises(ValueError, match="backend must be one of"):
        set_backend("torch")


@pytest.mark.gpu
def test_cupy_roundtrip():
    import cupy

    x = asarray(np.arange(4.0), xp=backend.namespace_of("cupy"))
    assert isinstance(x, cupy.ndarray)
    np.testing.assert_array_equal(to_numpy(x), np.arange(4.0))
