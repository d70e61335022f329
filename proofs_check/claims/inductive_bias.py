"""Claims of Boopathy et al., "Towards Exact Computation of Inductive Bias" (IJCAI 2024; arXiv 2406.15941).

* ``inductive_bias.exact_cdf_vs_monte_carlo``: the exact law (Ruben's series / Bromwich inversion, with error bounds) of the GP test
  loss agrees with >= 1e6 sampled GP-posterior interpolants within 4 standard errors.
* ``inductive_bias.ncx2_estimator_convergence``: the paper's sampled ncx2 estimator approaches the
  exact inductive bias as the number of sampled hypotheses grows (error against sample count).
  Measured not to hold: the error plateaus at the ncx2 family's bias (known failure, numbers there).
* ``inductive_bias.dimension_monotone``: higher-dimensional tasks need more inductive bias
  (kernel hypothesis space, exact values, >= 4 input dimensions).
* ``inductive_bias.nn_vs_kernel_digits``: on digits, trained ReLU networks need fewer bits than the
  RBF-kernel interpolants to reach the same test loss ("neural networks encode large amounts of
  inductive bias relative to other model classes").
"""

from __future__ import annotations

import math

import numpy as np

from kernels.backend import to_numpy
from theory.inductive_bias.gen_chi2 import LN2
from theory.inductive_bias.gp_hypotheses import gp_posterior, loss_distribution, sample_losses
from theory.inductive_bias.tasks import digits_task, synthetic_classification
from theory.inductive_bias.estimators import exact_inductive_bias, fit_ncx2
from theory.inductive_bias.nn_hypotheses import nn_test_losses

from proofs_check.papers import INDUCTIVE_BIAS
from proofs_check.registry import Outcome, claim


def _posterior(task, xp):
    post = gp_posterior(xp.asarray(task.x_train), xp.asarray(task.y_train), xp.asarray(task.x_test))
    return post, xp.asarray(task.y_test)


@claim(
    "inductive_bias.exact_cdf_vs_monte_carlo",
    paper=INDUCTIVE_BIAS,
    statement=(
        "The test loss of a noise-free GP-posterior interpolant is a generalised chi-squared variable; its "
        "exact CDF (Ruben's series, Bromwich inversion; each with an error bound) matches the empirical CDF of sampled "
        "interpolants' losses at several eps."
    ),
    stated="|exact - MC| <= 4 standard errors at every eps (>= 1e6 samples)",
    quick={"dim": 16, "n_train": 100, "n_test": 50, "n_samples": 1_000_000, "quantiles": [0.001, 0.01, 0.1, 0.5, 0.9]},
    full={"n_samples": 4_000_000},
)
def exact_cdf_vs_monte_carlo(params, xp):
    task = synthetic_classification(params["dim"], n_train=params["n_train"], n_test=params["n_test"], rng=0)
    post, y_test = _posterior(task, xp)
    dist = loss_distribution(post, y_test)
    losses = np.sort(to_numpy(sample_losses(post, y_test, params["n_samples"], rng=1, batch_size=50_000)))
    n = losses.size
    z_scores, exact_values = [], []
    for q in params["quantiles"]:
        eps = float(losses[int(q * n)])
        empirical = np.searchsorted(losses, eps, side="right") / n
        exact = dist.cdf(eps)
        exact_values.append(exact)
        z_scores.append((exact - empirical) / math.sqrt(exact * (1.0 - exact) / n))
    worst = max(abs(z) for z in z_scores)
    return Outcome(
        measured={"max_abs_z": worst, "z_scores": z_scores, "exact_cdf": exact_values, "n_samples": n},
        threshold=4.0,
        passed=worst <= 4.0,
    )


@claim(
    "inductive_bias.ncx2_estimator_convergence",
    paper=INDUCTIVE_BIAS,
    statement=(
        "The paper's estimator (ncx2 fitted by maximum likelihood to sampled losses, -log CDF at eps) "
        "approaches the exact inductive bias as the number of sampled hypotheses grows."
    ),
    stated="RMS error non-increasing in N and <= 5% of the exact bits at N = 10,000",
    known_failure=(
        "the ncx2 family is biased for the generalised chi-squared loss law, so the error plateaus instead of "
        "converging: RMS error 0.68 -> 0.14 -> 0.22 bits (eps 0.45, exact 7.74 bits) and 1.47 -> 0.67 -> 0.78 bits "
        "(eps 0.35, exact 15.84 bits) for N = 100, 1000, 10000; mean error at N = 10000: -0.20 and -0.76 bits "
        "(the fitted ncx2 underestimates the bias, more so further in the tail)"
    ),
    quick={"dim": 16, "n_train": 100, "n_test": 50, "eps": [0.45, 0.35], "sample_counts": [100, 1000, 10_000],
           "repeats": 3},
    full={"sample_counts": [100, 300, 1000, 3000, 10_000, 30_000], "repeats": 10},
)
def ncx2_estimator_convergence(params, xp):
    task = synthetic_classification(params["dim"], n_train=params["n_train"], n_test=params["n_test"], rng=0)
    post, y_test = _posterior(task, xp)
    dist = loss_distribution(post, y_test)
    exact = {eps: dist.bits(eps).bits for eps in params["eps"]}
    rms = {eps: [] for eps in params["eps"]}
    mean_error = {eps: [] for eps in params["eps"]}
    for count in params["sample_counts"]:
        errors = {eps: [] for eps in params["eps"]}
        for rep in range(params["repeats"]):
            fit = fit_ncx2(to_numpy(sample_losses(post, y_test, count, rng=1000 * rep + count)))
            for eps in params["eps"]:
                errors[eps].append(-fit.log_cdf(eps)[0] / LN2 - exact[eps])
        for eps in params["eps"]:
            rms[eps].append(float(np.sqrt(np.mean(np.square(errors[eps])))))
            mean_error[eps].append(float(np.mean(errors[eps])))
    largest = params["sample_counts"][-1]
    relative = {eps: rms[eps][-1] / exact[eps] for eps in params["eps"]}
    decreasing = all(b <= a for eps in params["eps"] for a, b in zip(rms[eps][:-1], rms[eps][1:]))
    return Outcome(
        measured={
            "exact_bits": {str(e): v for e, v in exact.items()},
            "sample_counts": params["sample_counts"],
            "rms_error_bits": {str(e): v for e, v in rms.items()},
            "mean_error_bits": {str(e): v for e, v in mean_error.items()},
            f"relative_rms_at_{largest}": {str(e): v for e, v in relative.items()},
        },
        threshold={"relative_rms": 0.05, "non_increasing": True},
        passed=decreasing and all(r <= 0.05 for r in relative.values()),
    )


@claim(
    "inductive_bias.dimension_monotone",
    paper=INDUCTIVE_BIAS,
    statement=(
        "Higher-dimensional tasks need more inductive bias: for the RBF-kernel hypothesis space, the exact "
        "I(eps) on synthetic classification tasks grows with the input dimension."
    ),
    stated="mean exact bits over task seeds strictly increasing over >= 4 dimensions",
    quick={"dims": [8, 16, 32, 64, 128], "seeds": 3, "n_train": 100, "n_test": 50, "eps": 0.4},
    full={"dims": [8, 16, 32, 64, 128, 256], "seeds": 10},
)
def dimension_monotone(params, xp):
    bits = []
    for dim in params["dims"]:
        per_seed = []
        for seed in range(params["seeds"]):
            task = synthetic_classification(dim, n_train=params["n_train"], n_test=params["n_test"], rng=seed)
            per_seed.append(exact_inductive_bias(
                xp.asarray(task.x_train), xp.asarray(task.y_train), xp.asarray(task.x_test),
                xp.asarray(task.y_test), params["eps"]).bits)
        bits.append(float(np.mean(per_seed)))
    increasing = all(b > a for a, b in zip(bits[:-1], bits[1:]))
    return Outcome(
        measured={"dims": params["dims"], "mean_bits": bits},
        threshold="strictly increasing",
        passed=increasing and len(bits) >= 4,
    )


@claim(
    "inductive_bias.nn_vs_kernel_digits",
    paper=INDUCTIVE_BIAS,
    statement=(
        "Neural networks encode large amounts of inductive bias relative to other model classes: on digits, "
        "ReLU MLPs trained to fit the training set need fewer bits to reach test loss eps than RBF-kernel "
        "interpolants (kernel: exact; MLP: the ncx2 estimator), at every level eps where the kernel needs "
        "at least one bit (a level above a model class's typical test loss asks for no inductive bias)."
    ),
    stated="bits(MLP) < bits(kernel, exact) at each eps with bits(kernel) >= 1 (at least one such eps)",
    quick={"n_train": 100, "n_test": 200, "eps": [0.25], "n_networks": 24, "width": 64, "depth": 2, "lr": 1e-2,
           "max_epochs": 2000, "kernel_samples": 10_000},
    # n_train = 500: the mean test losses fall to about 0.18 (kernel) and 0.10 (MLP), below 0.25
    full={"n_train": 500, "n_test": 500, "eps": [0.05, 0.1, 0.15, 0.25], "n_networks": 200, "width": 256,
          "lr": 1e-3, "max_epochs": 20_000},
    requires=("sklearn",),
)
def nn_vs_kernel_digits(params, xp):
    task = digits_task(n_train=params["n_train"], n_test=params["n_test"], rng=0)
    arrays = [xp.asarray(a) for a in (task.x_train, task.y_train, task.x_test, task.y_test)]
    post, y_test = _posterior(task, xp)
    kernel_fit = fit_ncx2(to_numpy(sample_losses(post, y_test, params["kernel_samples"], rng=0)))
    nn_losses, nets = nn_test_losses(
        *arrays, n_networks=params["n_networks"], width=params["width"], depth=params["depth"], lr=params["lr"],
        max_epochs=params["max_epochs"], target_loss=1e-3, rng=0,
    )
    nn_losses = to_numpy(nn_losses)
    nn_fit = fit_ncx2(nn_losses)
    kernel_bits, kernel_bits_ncx2, mlp_bits = {}, {}, {}
    for eps in params["eps"]:
        key = f"{eps:g}"
        kernel = exact_inductive_bias(*arrays, eps)
        kernel_bits[key] = kernel.bits
        kernel_bits_ncx2[key] = -kernel_fit.log_cdf(eps)[0] / LN2
        mlp_bits[key] = -nn_fit.log_cdf(eps)[0] / LN2
    judged = [k for k, bits in kernel_bits.items() if bits >= 1.0]
    return Outcome(
        measured={
            "kernel_bits_exact": kernel_bits,
            "kernel_bits_ncx2": kernel_bits_ncx2,
            "mlp_bits_ncx2": mlp_bits,
            "judged_eps": judged,
            "kernel_mean_loss": kernel.mean_loss,
            "mlp_mean_loss": float(nn_losses.mean()),
            "mlp_fraction_below_eps": {f"{eps:g}": float(np.mean(nn_losses <= eps)) for eps in params["eps"]},
            "mlp_train_loss_max": float(nets.train_losses.max()),
            "mlp_epochs": nets.epochs,
        },
        threshold="mlp_bits < kernel_bits_exact where kernel_bits_exact >= 1",
        passed=bool(judged) and all(mlp_bits[k] < kernel_bits[k] for k in judged),
    )
