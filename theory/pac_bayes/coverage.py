"""Monte Carlo coverage of every bound: how often each one fails on data sets with known true risks.

Paper: Victor Akinwande, Yiding Jiang, Dylan Sam, J. Zico Kolter, "Understanding prompt engineering
may not require rethinking generalization", ICLR 2024, arXiv 2310.03957 (the bounds of its Section 4).

A bound that holds with probability >= 1 - delta fails in at most a fraction delta of independent data
sets.  Over m repetitions the observed failure frequency of a valid bound exceeds delta + 3 sigma,
sigma = sqrt(delta (1 - delta) / m), with probability about 0.13% (normal approximation to the binomial):
that is the allowance a coverage check uses.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from kernels.validation import check_in_open_interval, check_positive_int
from theory._sweep import Task, map_tasks
from theory.pac_bayes.bounds import all_bounds, binomial_test_set_bound, occam_bound, test_set_kl_bound

__all__ = ["CoverageResult", "CoverageSetting", "coverage_allowance", "monte_carlo_coverage", "coverage_study"]

N_SIGMA = 3.0


def coverage_allowance(delta: float, repetitions: int, n_sigma: float = N_SIGMA) -> tuple[float, float]:
    """(sigma, allowance) for a failure frequency over ``repetitions`` data sets.

    .. math:: \\sigma = \\sqrt{\\delta (1 - \\delta) / m}, \\qquad \\text{allowance} = \\delta + n_\\sigma \\sigma
    """
    delta = check_in_open_interval(delta, "delta", 0.0, 1.0)
    repetitions = check_positive_int(repetitions, "repetitions")
    sigma = math.sqrt(delta * (1 - delta) / repetitions)
    return sigma, delta + n_sigma * sigma


@dataclass(frozen=True)
class CoverageResult:
    """Failure frequencies of every bound over ``repetitions`` synthetic data sets.

    Attributes
    ----------
    failure_rates : dict[str, float]
        Bound name -> fraction of repetitions in which the bound failed (``test_set_binomial``,
        ``test_set_kl`` for hypothesis 0; ``occam_*``, ``mcallester_1999``, ``sqrt``, ``maurer``,
        ``langford_seeger``, ``catoni`` uniformly over the class).
    delta, repetitions, n : float, int, int
        The confidence parameter, the number of data sets and the sample size of each.
    sigma : float
        sqrt(delta (1 - delta) / repetitions), the standard deviation of a failure frequency at delta.
    allowance : float
        delta + 3 sigma: a valid bound stays below it except with probability ~0.13%.
    mean_empirical_risk : float
        Mean of k_h / n over hypotheses and repetitions (a sanity check of the simulation).
    label : str
        The setting's name (empty for a single call).
    """

    failure_rates: dict
    delta: float
    repetitions: int
    n: int
    sigma: float
    allowance: float
    mean_empirical_risk: float
    label: str = ""

    @property
    def worst(self) -> tuple[str, float]:
        """(name, failure rate) of the bound that failed most often."""
        name = max(self.failure_rates, key=self.failure_rates.get)
        return name, self.failure_rates[name]

    @property
    def passed(self) -> bool:
        """True when every bound's failure rate is within the allowance."""
        return all(rate <= self.allowance for rate in self.failure_rates.values())


@dataclass(frozen=True)
class CoverageSetting:
    """One synthetic hypothesis class: ``n`` samples, true risks R_h, complexities ln 1/pi(h) (nats)."""

    label: str
    n: int
    true_risks: tuple
    complexity: tuple = field(default=())

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        risks = np.asarray(self.true_risks, dtype=np.float64)
        complexity = np.asarray(self.complexity, dtype=np.float64) if self.complexity else np.full(risks.size, math.log(risks.size))
        return risks, complexity


def _check_class(true_risks, complexity):
    risks = np.asarray(true_risks, dtype=np.float64)
    if risks.ndim != 1 or risks.size == 0 or np.any(~np.isfinite(risks)) or np.any((risks < 0) | (risks > 1)):
        raise ValueError(f"true_risks must be a non-empty 1-D array of values in [0, 1], got {true_risks!r}")
    try:
        complexity = np.broadcast_to(np.asarray(complexity, dtype=np.float64), risks.shape)
    except ValueError:
        raise ValueError(
            f"complexity must broadcast to true_risks' shape {risks.shape}, got shape {np.shape(complexity)}"
        ) from None
    if np.any(np.isnan(complexity)) or np.any(complexity < 0) or math.fsum(np.exp(-complexity)) > 1 + 1e-12:
        raise ValueError("complexity = ln(1/prior) must be >= 0 with prior weights exp(-complexity) summing to <= 1")
    return risks, complexity


def monte_carlo_coverage(n, true_risks, complexity, delta, repetitions, *, rng=None) -> CoverageResult:
    """Failure frequency of every bound over ``repetitions`` synthetic data sets (vectorised).

    A countable class of m hypotheses with known true risks R_h and prior weights pi(h) = exp(-complexity_h)
    (sum <= 1 required); each repetition draws k_h ~ Binomial(n, R_h) for all h.  The test-set bounds are
    applied to hypothesis 0 (fixed before the data), the Occam and PAC-Bayes bounds to every hypothesis at
    once (they hold uniformly, so a data-chosen prompt is covered): a repetition fails when some h has R_h
    above its bound.

    Parameters
    ----------
    n : int
        Samples per data set.
    true_risks : array (m,)
        R_h in [0, 1].
    complexity : float or array (m,)
        ln 1/pi(h) in nats.
    delta : float
        Confidence parameter in (0, 1).
    repetitions : int
        Number of data sets.
    rng : None, int, SeedSequence or Generator
        Anything :func:`numpy.random.default_rng` accepts.

    Returns
    -------
    CoverageResult
    """
    delta = check_in_open_interval(delta, "delta", 0.0, 1.0)
    n = check_positive_int(n, "n")
    repetitions = check_positive_int(repetitions, "repetitions")
    risks, complexity = _check_class(true_risks, complexity)
    errors = np.random.default_rng(rng).binomial(n, risks, size=(repetitions, risks.size)).astype(np.float64)
    kl = np.broadcast_to(complexity, errors.shape)
    failures = {
        "test_set_binomial": binomial_test_set_bound(errors[:, 0], n, delta) < risks[0],
        "test_set_kl": test_set_kl_bound(errors[:, 0], n, delta) < risks[0],
    }
    for name, value in all_bounds(errors, n, kl, delta).items():
        failures[name] = np.any(value < risks, axis=1)
    realizable = occam_bound(np.zeros_like(errors), n, kl, delta, "realizable")
    failures["occam_realizable"] = np.any((errors == 0) & (realizable < risks), axis=1)
    sigma, allowance = coverage_allowance(delta, repetitions)
    return CoverageResult(
        failure_rates={name: float(np.mean(f)) for name, f in failures.items()},
        delta=delta,
        repetitions=repetitions,
        n=n,
        sigma=sigma,
        allowance=allowance,
        mean_empirical_risk=float(np.mean(errors / n)),
    )


def _task_seed(base: int, setting: CoverageSetting, delta: float, repetitions: int) -> np.random.SeedSequence:
    """Seed of one setting, derived from the study's base seed and the setting's configuration only."""
    risks, complexity = setting.arrays()
    config = json.dumps([setting.n, risks.tolist(), complexity.tolist(), delta, repetitions]).encode()
    return np.random.SeedSequence([base, zlib.crc32(config)])


def _coverage_task(setting: CoverageSetting, delta: float, repetitions: int, seed) -> CoverageResult:
    risks, complexity = setting.arrays()
    result = monte_carlo_coverage(setting.n, risks, complexity, delta, repetitions, rng=seed)
    return CoverageResult(**{**result.__dict__, "label": setting.label})


def coverage_study(settings, delta, repetitions, *, rng=None, executor=None) -> list[CoverageResult]:
    """:func:`monte_carlo_coverage` for several independent settings, as one sweep.

    Parameters
    ----------
    settings : sequence of CoverageSetting
        The hypothesis classes (an empty ``complexity`` means the uniform prior, ln m each).
    delta, repetitions : float, int
        As :func:`monte_carlo_coverage`.
    rng : None, int, SeedSequence or Generator
        Base seed; each setting's stream is derived from it and the setting's configuration, so results do
        not depend on the order of the settings or on the executor.
    executor : concurrent.futures.Executor, optional
        Where the settings run (see :func:`theory._sweep.map_tasks`); None runs them here.

    Returns
    -------
    list of CoverageResult, in the order of ``settings``.
    """
    delta = check_in_open_interval(delta, "delta", 0.0, 1.0)
    repetitions = check_positive_int(repetitions, "repetitions")
    settings = list(settings)
    for s in settings:
        if not isinstance(s, CoverageSetting):
            raise TypeError(f"settings must hold CoverageSetting objects, got {s!r}")
        _check_class(*s.arrays())
    base = int(np.random.default_rng(rng).integers(0, 2**63))
    tasks = [
        Task((s.label,), _coverage_task, {"setting": s, "delta": delta, "repetitions": repetitions,
                                          "seed": _task_seed(base, s, delta, repetitions)})
        for s in settings
    ]
    return map_tasks(tasks, executor=executor, desc="coverage", progress=False)
