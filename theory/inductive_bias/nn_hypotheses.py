"""Neural-network hypothesis space: ReLU MLPs trained from independent initialisations to fit the training set.

Paper: Akhilan Boopathy, William Yue, Jaedong Hwang, Abhiram Iyer, Ila Fiete, "Towards Exact
Computation of Inductive Bias", IJCAI 2024 (arXiv 2406.15941).  The paper's neural hypothesis
space: fully-connected ReLU networks of a given width and depth, each trained from its own random
initialisation by Adam on the squared loss against one-hot targets until it fits the training set;
the test losses of many such networks are then fed to the ncx2 estimator
(theory.inductive_bias.estimators.ncx2_inductive_bias).  There is no exact law here.

Implementation: B networks are trained at once as a batch of weight tensors (B, fan_in, fan_out),
full batch, with hand-written backpropagation in the array API (numpy, cupy, array_api_strict):

    a_1 = x W_1 + b_1,  h_l = relu(a_l),  a_{l+1} = h_l W_{l+1} + b_{l+1},  out = a_{L+1},
    loss = (1/n) sum_{i,c} (out_ic - y_ic)^2                       (summed over outputs, as in the GP space),
    d out = 2 (out - y) / n,  dW_l = h_{l-1}^T d a_l,  db_l = sum_i d a_l,  d a_{l-1} = (d a_l W_l^T) * [a_{l-1} > 0].

Initialisation: He normal (variance 2 / fan_in) for hidden layers, 1 / fan_in for the read-out,
zero biases.  Optimiser: Adam (Kingma and Ba 2015; beta = (0.9, 0.999), eps = 1e-8) or plain
gradient descent.  Training stops when every network's training loss is below ``target_loss`` or
after ``max_epochs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels.backend import array_namespace, asarray, to_numpy
from kernels.validation import check_matrix, check_positive, check_positive_int, check_same_length

from theory.inductive_bias.gp_hypotheses import standard_normal, test_loss

__all__ = ["MLPEnsemble", "init_mlps", "mlp_forward", "train_mlps", "nn_test_losses"]


@dataclass
class MLPEnsemble:
    """B networks: ``weights[l]`` (B, fan_in, fan_out), ``biases[l]`` (B, 1, fan_out); training record."""

    weights: list
    biases: list
    train_losses: Any = None
    epochs: int = 0

    @property
    def n_networks(self) -> int:
        return int(self.weights[0].shape[0])


def init_mlps(n_networks, input_dim, n_outputs, *, width=64, depth=2, rng=None, xp=None, dtype=None) -> MLPEnsemble:
    """He-normal initialisation of ``n_networks`` ReLU MLPs with ``depth`` hidden layers of ``width`` units."""
    n_networks = check_positive_int(n_networks, "n_networks")
    width = check_positive_int(width, "width")
    depth = check_positive_int(depth, "depth")
    rng = np.random.default_rng(rng)
    if xp is None:
        xp = array_namespace()
    dtype = xp.float64 if dtype is None else dtype
    sizes = [input_dim] + [width] * depth + [n_outputs]
    weights, biases = [], []
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        gain = 2.0 if layer < depth else 1.0
        z = standard_normal((n_networks, fan_in, fan_out), xp, dtype, rng=rng)
        weights.append(z * float(np.sqrt(gain / fan_in)))
        biases.append(xp.zeros((n_networks, 1, fan_out), dtype=dtype))
    return MLPEnsemble(weights, biases)


def _forward(nets: MLPEnsemble, x):
    """Pre-activations of every layer (the last is the output)."""
    xp = array_namespace(x)
    pre = []
    h = x
    for layer, (w, b) in enumerate(zip(nets.weights, nets.biases)):
        a = xp.matmul(h, w) + b
        pre.append(a)
        h = xp.maximum(a, 0.0) if layer < len(nets.weights) - 1 else a
    return pre


def mlp_forward(nets: MLPEnsemble, x):
    """Outputs of every network at inputs x (n, d): shape (B, n, n_outputs)."""
    return _forward(nets, x)[-1]


def _gradients(nets: MLPEnsemble, x, y):
    xp = array_namespace(x)
    pre = _forward(nets, x)
    out = pre[-1]
    diff = out - y
    n = x.shape[0]
    loss = xp.sum(diff * diff, axis=(1, 2)) / n
    delta = diff * (2.0 / n)
    grads_w, grads_b = [None] * len(nets.weights), [None] * len(nets.weights)
    for layer in range(len(nets.weights) - 1, -1, -1):
        if layer == 0:
            grads_w[layer] = xp.matmul(x.T, delta)
        else:
            h_prev = xp.maximum(pre[layer - 1], 0.0)
            grads_w[layer] = xp.matmul(xp.permute_dims(h_prev, (0, 2, 1)), delta)
        grads_b[layer] = xp.sum(delta, axis=1, keepdims=True)
        if layer > 0:
            upstream = xp.matmul(delta, xp.permute_dims(nets.weights[layer], (0, 2, 1)))
            delta = upstream * xp.astype(pre[layer - 1] > 0, upstream.dtype)
    return loss, grads_w, grads_b


def train_mlps(x_train, y_train, *, n_networks=32, width=64, depth=2, optimizer="adam", lr=1e-3,
               max_epochs=5000, target_loss=1e-3, rng=None, nets: MLPEnsemble | None = None) -> MLPEnsemble:
    """Train ``n_networks`` MLPs from independent inits, full batch, until all fit (loss < ``target_loss``).

    ``train_losses`` of the result holds each network's final training loss (numpy); ``epochs`` the
    number of steps taken.
    """
    if optimizer not in ("adam", "gd"):
        raise ValueError(f"optimizer must be 'adam' or 'gd', got {optimizer!r}")
    lr = check_positive(lr, "lr")
    max_epochs = check_positive_int(max_epochs, "max_epochs")
    target_loss = check_positive(target_loss, "target_loss")
    xp = array_namespace(x_train)
    x_train = check_matrix(asarray(x_train, xp=xp, name="x_train"), "x_train")
    y_train = asarray(y_train, xp=xp, dtype=x_train.dtype, name="y_train")
    if y_train.ndim == 1:
        y_train = y_train[:, None]
    check_same_length(x_train, y_train, "x_train", "y_train")
    if nets is None:
        nets = init_mlps(n_networks, x_train.shape[1], y_train.shape[1], width=width, depth=depth, rng=rng,
                         xp=xp, dtype=x_train.dtype)
    params = nets.weights + nets.biases
    m1 = [xp.zeros_like(p) for p in params]
    m2 = [xp.zeros_like(p) for p in params]
    beta1, beta2, adam_eps = 0.9, 0.999, 1e-8
    loss = None
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        loss, gw, gb = _gradients(nets, x_train, y_train)
        if float(xp.max(loss)) < target_loss:
            epoch -= 1
            break
        grads = gw + gb
        if optimizer == "adam":
            c1 = 1.0 - beta1**epoch
            c2 = 1.0 - beta2**epoch
            for i, g in enumerate(grads):
                m1[i] = beta1 * m1[i] + (1.0 - beta1) * g
                m2[i] = beta2 * m2[i] + (1.0 - beta2) * (g * g)
                params[i] = params[i] - lr * (m1[i] / c1) / (xp.sqrt(m2[i] / c2) + adam_eps)
        else:
            params = [p - lr * g for p, g in zip(params, grads)]
        n_layers = len(nets.weights)
        nets.weights, nets.biases = params[:n_layers], params[n_layers:]
    else:
        loss = _gradients(nets, x_train, y_train)[0]
    nets.train_losses = to_numpy(loss).astype(np.float64)
    nets.epochs = epoch
    return nets


def nn_test_losses(x_train, y_train, x_test, y_test, **train_options) -> tuple[Any, MLPEnsemble]:
    """Test losses (sum over outputs, mean over points) of independently trained MLPs, and the ensemble."""
    xp = array_namespace(x_train, x_test)
    x_test = check_matrix(asarray(x_test, xp=xp, name="x_test"), "x_test")
    y_test = asarray(y_test, xp=xp, dtype=x_test.dtype, name="y_test")
    if y_test.ndim == 1:
        y_test = y_test[:, None]
    nets = train_mlps(x_train, y_train, **train_options)
    return test_loss(mlp_forward(nets, x_test), y_test), nets
