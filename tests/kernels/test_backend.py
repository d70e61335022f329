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


# --- cupyx dispatch table and replacements (issue 16) -----------------------------------------------


def test_cupyx_table_names_exist_in_scipy_and_in_installed_cupyx():
    import importlib
    import importlib.util

    for module, name in backend.CUPYX_DISPATCH:
        scipy_module = importlib.import_module(module.replace("cupyx.", "", 1))
        assert hasattr(scipy_module, name), f"{module.replace('cupyx.', '', 1)} has no {name}"
    if importlib.util.find_spec("cupy") is None:
        pytest.skip("cupy is not installed: the table was checked against scipy only")
    missing = []
    for (module, name), replacement in backend.CUPYX_DISPATCH.items():
        if not _cupyx_has(module, name) and replacement is None:
            missing.append(f"{module}.{name}")
    assert not missing, f"the installed cupyx lacks {missing} and CUPYX_DISPATCH lists no replacement"


def _cupyx_has(module: str, name: str) -> bool:
    """Whether the installed cupyx module provides ``name``: imported where the CUDA libraries load, else
    read from the package's source (CuPy imports without a device, but some cupyx modules need libcublas)."""
    import ast
    import importlib
    import importlib.util

    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        pass
    origin = importlib.util.find_spec(module).origin
    tree = ast.parse(open(origin).read())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == name for a in node.names):
            return True
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(getattr(tg, "id", None) == name for tg in node.targets):
            return True
    return False


def test_cupyx_static_lookup_finds_known_names():
    import importlib.util

    if importlib.util.find_spec("cupy") is None:
        pytest.skip("cupy is not installed")
    assert _cupyx_has("cupyx.scipy.special", "erf") and _cupyx_has("cupyx.scipy.linalg", "solve_triangular")
    assert not _cupyx_has("cupyx.scipy.special", "no_such_function")


def test_betainccinv_replacement_matches_scipy(xp):
    import scipy.special

    rng = np.random.default_rng(1)
    a = np.concatenate([[29.0, 1.0, 5.0, 1.0, 300.0], rng.uniform(0.5, 500, 40)])
    b = np.concatenate([[972.0, 1000.0, 3.0, 1.0, 2.0], rng.uniform(0.5, 500, 40)])
    y = np.concatenate([[0.05, 1e-9, 0.7, 0.5, 1e-100], 10 ** rng.uniform(-30, 0, 40)])
    ours = backend.betainccinv_from_betaincinv(xp.asarray(a), xp.asarray(b), xp.asarray(y))
    assert array_namespace(ours) is xp
    expected = scipy.special.betainccinv(a, b, y)
    # accurate to a few ulps of max(x, 1 - x) (absolute near 0)
    np.testing.assert_allclose(to_numpy(ours), expected, rtol=1e-12, atol=1e-15)


def test_cupy_namespace_without_betainccinv_uses_the_replacement(monkeypatch):
    import sys
    import types

    import scipy.special

    fake = types.ModuleType("cupyx.scipy.special")
    fake.betaincinv = scipy.special.betaincinv  # a cupyx without betainccinv, as CuPy 14.2
    for name in ("cupyx", "cupyx.scipy"):
        monkeypatch.setitem(sys.modules, name, sys.modules.get(name, types.ModuleType(name)))
    monkeypatch.setitem(sys.modules, "cupyx.scipy.special", fake)
    assert backend._cupyx_function("cupyx.scipy.special", "betainccinv") is backend.betainccinv_from_betaincinv
    assert backend._cupyx_function("cupyx.scipy.special", "betaincinv") is scipy.special.betaincinv
    with pytest.raises(AttributeError, match="no 'gammaincc'"):
        backend._cupyx_function("cupyx.scipy.special", "gammaincc")


def test_to_numpy_is_explicit_for_strict_arrays(monkeypatch):
    import array_api_strict

    x = array_api_strict.asarray([1.0, 2.0])

    def refuse(self, *args, **kwargs):
        raise TypeError("implicit conversion")

    monkeypatch.setattr(type(x), "__array__", refuse)
    monkeypatch.setattr(type(x), "__buffer__", refuse, raising=False)
    with pytest.raises(TypeError):
        np.asarray(x)
    np.testing.assert_array_equal(to_numpy(x), [1.0, 2.0])
    assert_close(special(array_api_strict).erf(x), np.array([0.8427007929497149, 0.9953222650189527]), xp=array_api_strict)
