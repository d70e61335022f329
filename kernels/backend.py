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
documented round trip through NumPy (used only by the strict test namespace; :func:`to_numpy` is the one
explicit host transfer).  :data:`CUPYX_DISPATCH` lists every function the package takes from ``cupyx``, with a
device-side replacement for those an installed CuPy may lack (CuPy 14 has no ``betainccinv``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
from typing import Any

import numpy as np
from array_api_compat import array_namespace as _compat_namespace
from array_api_compat import device as array_device
from array_api_compat import is_array_api_obj, is_cupy_namespace, is_numpy_namespace

__all__ = [
    "BACKENDS",
    "ENV_VAR",
    "array_device",
    "array_namespace",
    "as_array_like",
    "asarray",
    "default_dtype",
    "get_backend",
    "gpu_available",
    "namespace_of",
    "set_backend",
    "special",
    "to_numpy",
    "from_numpy",
    "CUPYX_DISPATCH",
    "betainccinv_from_betaincinv",
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
    """Explicit host copy of any supported array (no-op for NumPy): ``.get()`` for CuPy, DLPack otherwise.

    The one place where an array leaves its device; implicit conversion (``np.asarray``) is never relied on,
    since CuPy refuses it.
    """
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, np.generic):
        return np.asarray(x)
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    if is_array_api_obj(x):
        return np.from_dlpack(x)
    return np.asarray(x)


def from_numpy(x: np.ndarray, xp, device=None):
    """Move a NumPy array into namespace ``xp`` on ``device`` (an explicit host-to-device copy for CuPy)."""
    return xp.asarray(x, device=device)


def as_array_like(x, like):
    """``x`` in the namespace and on the device of the array ``like`` (unchanged when it is there already);
    any other array, or a list, goes through the host."""
    xp = array_namespace(like)
    if is_array_api_obj(x) and array_namespace(x) is xp and array_device(x) == array_device(like):
        return x
    return from_numpy(to_numpy(x) if is_array_api_obj(x) else np.asarray(x), xp, array_device(like))


# --- operations outside the array API standard -------------------------------------------------


def _numpy_roundtrip(fn, xp, *arrays, **kwargs):
    out = fn(*[to_numpy(a) for a in arrays], **kwargs)
    return xp.asarray(out, device=array_device(arrays[0]) if arrays else None)


def betainccinv_from_betaincinv(a, b, y, *, xp=None):
    """Inverse of the complemented regularised incomplete beta, from ``betaincinv`` alone.

    .. math:: x = \\mathrm{betainccinv}(a, b, y) \\iff 1 - I_x(a, b) = y \\iff I_{1-x}(b, a) = y,

    so x = 1 - betaincinv(b, a, y) where y < 1/2 (no cancellation in forming y) and x = betaincinv(a, b, 1 - y)
    otherwise (1 - y is then exact to one rounding).  Accurate to a few ulps of max(x, 1 - x), i.e. absolutely
    rather than relatively for x near 0; callers that need a certified value follow it with their own check
    (as :mod:`theory.pac_bayes.bounds` does with ``bdtr``).  Runs in ``xp`` on the device.
    """
    xp = array_namespace(a, b, y) if xp is None else xp
    sp = special(xp)
    small = y < 0.5
    from_upper = 1 - sp.betaincinv(b, a, xp.where(small, y, xp.zeros_like(y)))
    from_lower = sp.betaincinv(a, b, xp.where(small, xp.ones_like(y), 1 - y))
    return xp.where(small, from_upper, from_lower)


# Every function the package takes from cupyx on CuPy, keyed by (cupyx module, SciPy name); the value is the
# device-side replacement used when the installed cupyx lacks the name (None: it must exist).  The same names
# come from scipy.special / scipy.linalg on NumPy.  tests/kernels/test_backend.py checks this table against
# the installed SciPy and, when CuPy imports, against cupyx.
CUPYX_DISPATCH = {
    ("cupyx.scipy.special", "erf"): None,  # kernels.ntk.activations (erf and GELU)
    ("cupyx.scipy.special", "log_softmax"): None,  # kernels.numerics.log_softmax
    ("cupyx.scipy.special", "bdtr"): None,  # theory.pac_bayes.bounds: certification of the binomial bounds
    ("cupyx.scipy.special", "betaincinv"): None,  # the replacement of betainccinv
    ("cupyx.scipy.special", "betainccinv"): betainccinv_from_betaincinv,  # theory.pac_bayes.bounds
    ("cupyx.scipy.linalg", "solve_triangular"): None,  # kernels.linalg
}


def _cupyx_function(module: str, name: str):
    """``module.name`` from the installed cupyx, else its replacement from :data:`CUPYX_DISPATCH`."""
    mod = importlib.import_module(module)
    fn = getattr(mod, name, None)
    if fn is not None:
        return fn
    replacement = CUPYX_DISPATCH.get((module, name))
    if replacement is None:
        raise AttributeError(f"{module} has no {name!r} and kernels.backend.CUPYX_DISPATCH lists no replacement")
    return replacement


class _SpecialFunctions:
    """``special(xp).erf(x)`` etc.: scipy.special on NumPy, cupyx.scipy.special on CuPy (with the
    replacements of :data:`CUPYX_DISPATCH` for names it lacks), a NumPy round trip otherwise."""

    def __init__(self, xp):
        self._xp = xp

    def __getattr__(self, name):
        xp = self._xp
        if is_numpy_namespace(xp):
            import scipy.special

            return getattr(scipy.special, name)
        if is_cupy_namespace(xp):
            return _cupyx_function("cupyx.scipy.special", name)
        import scipy.special

        fn = getattr(scipy.special, name)
        return lambda *a, **k: _numpy_roundtrip(fn, xp, *a, **k)


def special(xp) -> _SpecialFunctions:
    """Special functions (erf, gammaln, xlogy, log_ndtr, ...) for namespace ``xp``."""
    return _SpecialFunctions(xp)
