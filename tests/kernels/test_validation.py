import numpy as np
import pytest

from kernels import validation


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5, float("nan")])
def test_open_interval(bad):
    with pytest.raises(ValueError, match=r"delta must lie in the open interval \(0, 1\)|delta must not be NaN"):
        validation.check_in_open_interval(bad, "delta", 0, 1)


def test_positive_int_and_psd():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        validation.check_positive_int(0, "n")
    with pytest.raises(TypeError, match="n must be an integer"):
        validation.check_positive_int(2.5, "n")
    with pytest.raises(ValueError, match="K must be positive semi-definite, smallest eigenvalue -1"):
        validation.check_symmetric_psd(np.array([[0.0, 1.0], [1.0, 0.0]]), "K")
    validation.check_symmetric_psd(np.eye(3), "K")
