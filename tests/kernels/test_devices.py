"""Arrays stay on the device they came on: array-api-strict's second device ("device1") refuses any operation
that mixes it with the default device, so a constant created without ``device=`` fails loudly here."""

from __future__ import annotations

import numpy as np
import pytest

from kernels.backend import to_numpy

xps = pytest.importorskip("array_api_strict")
DEVICE = xps.Device("device1")


def on_device(x):
    return xps.asarray(np.asarray(x), device=DEVICE)


def test_depth_table_on_a_second_device():
    from kernels.ntk.depth import tabulate_depth

    table = tabulate_depth("relu", 5)
    xi = np.linspace(-0.999, 0.999, 9)
    for numpy_part, device_part in zip(table(xi), table(on_device(xi))):
        assert device_part.device == DEVICE
        np.testing.assert_array_equal(to_numpy(device_part), numpy_part)


def test_sparse_deep_kernel_machine_on_a_second_device(rng):
    from kernels.dkm import DeepKernelMachine

    X, y = rng.standard_normal((40, 3)), rng.standard_normal(40)
    args = dict(depth=2, nu=3.0, n_inducing=8, learn_kernel=False, learn_noise=False, tol=1e-6, max_iter=300)
    host = DeepKernelMachine(**args).fit(X, y)
    device = DeepKernelMachine(**args).fit(on_device(X), on_device(y))
    assert all(g.device == DEVICE for g in device.grams_) and device.inducing_points_.device == DEVICE
    mean, std = device.predict(on_device(X[:5]), return_std=True)
    assert mean.device == DEVICE and std.device == DEVICE
    host_mean, host_std = host.predict(X[:5], return_std=True)
    np.testing.assert_allclose(to_numpy(mean), host_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(to_numpy(std), host_std, rtol=1e-9, atol=1e-12)


def test_ntk_classifier_labels_follow_x(rng):
    from kernels.ntk.dynamics import NTKClassifier

    X = rng.standard_normal((20, 3))
    codes = (X[:, 0] > 0).astype(int)
    numeric = NTKClassifier(depth=2).fit(on_device(X), on_device(codes)).predict(on_device(X))
    assert numeric.device == DEVICE and np.array_equal(to_numpy(numeric), codes)  # numeric labels: X's namespace
    names = NTKClassifier(depth=2).fit(on_device(X), np.array(["a", "b"])[codes]).predict(on_device(X))
    assert isinstance(names, np.ndarray) and np.array_equal(names, np.array(["a", "b"])[codes])  # strings: NumPy


@pytest.mark.parametrize("make", ["DeepKernelMachine", "NTKRegressor", "NTKClassifier",
                                  "MultinomialLogisticRegression"])
def test_predict_refuses_another_namespace_or_device(make, rng):
    """Nothing is moved between host and devices silently, with or without scikit-learn's array_api_dispatch."""
    import kernels
    import theory.nb_lr

    cls = getattr(kernels, make, None) or getattr(theory.nb_lr, make)
    X = rng.standard_normal((20, 3))
    y = (X[:, 0] > 0).astype(int)
    model = cls(max_iter=20) if make == "DeepKernelMachine" else cls()
    model.fit(xps.asarray(X), xps.asarray(y))
    for other, where in ((X, r"numpy \(cpu\)"), (on_device(X), "device1")):
        with pytest.raises(ValueError, match=rf"{make}\.predict\(\) must use the same namespace.*X is .*{where}"):
            model.predict(other)
