"""Fixtures of the pac_bayes tests: array-api-strict arrays that refuse implicit conversion to NumPy.

CuPy raises on ``np.asarray(cupy_array)``; array-api-strict 2.6 converts silently (through ``__buffer__`` on
Python >= 3.12, ``__array__`` before).  ``strict_no_host`` makes both raise, so a stray host round trip in
the kl inverse or the bounds fails on a CPU machine too.  Explicit transfers (``kernels.backend.to_numpy``,
through DLPack) still work.
"""

from __future__ import annotations

import pytest


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
