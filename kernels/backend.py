"""Array backend: the one place that chooses the array library and the dtype policy.

Every heavy routine in this package is written against the Python array API standard
(https://data-apis.org/array-api/) and obtains its namespace from its inputs with
:func:`array_namespace`, so the same code runs on NumPy, on CuPy (GPU) and on
``array_api_strict`` (which the test-suite uses to prove that no NumPy-only call slipped in).

Choosing the default library, for arrays that a function *creates* rather than receives:

* an explicit argument ``backend=`` where a function offers one, else
* :func:`set_backend` (also a context manager), else
* the environment variable ``LTL_BACKEND`` (``numpy``, ``cupy``, ``array_api_strict`` or ``auto``), else
* ``auto``: CuPy when a CUDA device is usable, otherwise NumPy.

Floating point: float64 unless a caller asks for float32 explicitly.

Special functions sit outside the standard. They are dispatched here, once (linear algebra beyond
the standard is in :mod:`kernels.linalg`): SciPy for NumPy, ``cupyx.scipy`` for CuPy, and for any other namespace a
documented round trip through NumPy (used only by the strict test namespace).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
from typing import Any

import numpy as np
from array_api_compat import array_namespace as _compat_namespace
from array_api_compat import is_array_api_obj, is_cupy_namespace, is_numpy_namespace

__all__ = [
    "BACKENDS",
    "ENV_VAR",
    "array_namespace",
    "asarray",
    "default_dtype",
    "get_backend",
    "gpu_available",
    "namespace_of",
    "set_backend",
    "special",
    "to_numpy",
    "from_numpy",
]

ENV_VAR = "LTL_BACKEND"
BACKENDS = ("auto", "numpy", "cupy", "array_api_strict")

_chosen: str | None = None


@functools.lru_cache(maxsize=1)
def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDARuntimeError, missing driver libraries
        return False


def _validate_backend_name(name: str) -> str:
    name = str(name).strip().lower().replace("-", "_")
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    return name


def get_backend() -> str:
    """Name of the library used for newly created arrays (``auto`` already resolved)."""
    name = _chosen or os.environ.get(ENV_VAR) or "auto"
    try:
        name = _validate_backend_name(name)
    except ValueError as err:
        raise ValueError(f"environment variable {ENV_VAR}: {err}") from None
    if name == "auto":
        return "cupy" if gpu_available() else "numpy"
    if name == "cupy" and not gpu_available():
        raise RuntimeError("backend 'cupy' requested but no usable CUDA device / cupy installation was found")
    return name


class set_backend(contextlib.ContextDecorator):
    """Set the default array library; usable as a plain call or as a context manager.

    >>> with set_backend("numpy"):
    ...     ...
    """

    def __init__(self, name: str):
        global _chosen
        self._previous = _chosen
        _chosen = _validate_backend_name(name)
        get_backend()  # fail now, not at first use, if cupy is unusable

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _chosen
        _chosen = self._previous
        return False


@functools.lru_cache(maxsize=None)
def _namespace_by_name(name: str):
    if name == "numpy":
        return _compat_namespace(np.empty(0))
    if name == "cupy":
        import array_api_compat.cupy as cp_compat

        return cp_compat
    if name == "array_api_strict":
        return importlib.import_module("array_api_strict")
    raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")


def namespace_of(backend: str | None = None):
    """The array namespace for ``backend`` (default: :func:`get_backend`)."""
    name = get_backend() if backend is None else _validate_backend_name(backend)
    if name == "auto":
        name = "cupy" if gpu_available() else "numpy"
    return _namespace_by_name(name)


def array_namespace(*arrays: Any):
    """Namespace of the given arrays; Python scalars and ``None`` are ignored.

    When no argument is an array the default backend's namespace is returned.
    """
    found = [a for a in arrays if a is not None and not isinstance(a, (int, float, complex, bool))]
    if not found:
        return namespace_of()
    return _compat_namespace(*found)


def default_dtype(xp, dtype=None):
    """float64 unless ``dtype`` says otherwise (``"float32"``, ``xp.float32``, ...)."""
    if dtype is None:
        return xp.float64
    if isinstance(dtype, str):
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        return getattr(xp, dtype)
    return dtype


def asarray(x, *, xp=None, dtype=None, name: str = "x"):
    """Convert ``x`` to a floating array of namespace ``xp`` (default: ``x``'s own, else the default backend).

    float32 inputs stay float32 unless ``dtype`` is given; everything else becomes float64.
    An array of another library is copied explicitly.  Non-finite values raise ``ValueError``
    naming ``name``.
    """
    is_array = is_array_api_obj(x)
    if xp is None:
        xp = _compat_namespace(x) if is_array else namespace_of()
    if is_array and _compat_namespace(x) is not xp:
        x = to_numpy(x)
    if dtype is None:
        dtype = "float32" if "float32" in str(getattr(x, "dtype", "")) else "float64"
    arr = xp.asarray(x, dtype=default_dtype(xp, dtype))
    if not bool(xp.all(xp.isfinite(arr))):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return arr


def to_numpy(x) -> np.ndarray:
    """Explicit host copy of any supported array (no-op for NumPy)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    return np.asarray(x)


def from_numpy(x: np.ndarray, xp):
    """Move a NumPy array into namespace ``xp`` (an explicit host-to-device copy for CuPy)."""
    return xp.asarray(x)


# --- operations outside the array API standard -------------------------------------------------


def _numpy_roundtrip(fn, xp, *arrays, **kwargs):
    out = fn(*[to_numpy(a) for a in arrays], **kwargs)
    return xp.asarray(out)


class _SpecialFunctions:
    """``special(xp).erf(x)`` etc.: scipy.special on NumPy, cupyx.scipy.special on CuPy."""

    def __init__(self, xp):
        self._xp = xp

    def __getattr__(self, name):
        xp = self._xp
        if is_numpy_namespace(xp):
            import scipy.special

            return getattr(scipy.special, name)
        if is_cupy_namespace(xp):
            import cupyx.scipy.special

            return getattr(cupyx.scipy.special, name)
        import scipy.special

        fn = getattr(scipy.special, name)
        return lambda *a, **k: _numpy_roundtrip(fn, xp, *a, **k)


def special(xp) -> _SpecialFunctions:
    """Special functions (erf, gammaln, xlogy, log_ndtr, ...) for namespace ``xp``."""
    return _SpecialFunctions(xp)
