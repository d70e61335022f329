"""One BLAS thread for the DKM tests: many small factorisations and products, where a multi-threaded
BLAS on a loaded machine spends most of its time waiting (measured: 13-49 s against 0.65 s for one
200-point fit on two busy cores)."""

import pytest


@pytest.fixture(autouse=True)
def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # then BLAS runs as configured
        yield
        return
    import scipy.linalg  # noqa: F401  (load scipy's BLAS so that the limit reaches it)

    with threadpool_limits(1):
        yield
