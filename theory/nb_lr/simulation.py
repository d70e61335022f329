"""The sample-complexity simulation of naive Bayes versus logistic regression, with exact Bayes errors.

Paper: Chenyu Zheng, Guoqiang Wu, Fan Bao, Yue Cao, Chongxuan Li, Jun Zhu, "Revisiting Discriminative vs.
Generative Classifiers: Theory and Implications", ICML 2023 (PMLR 202:42420-42477), arXiv 2302.02334.
Claim (abstract): multiclass naive Bayes needs O(log n) samples to approach its asymptotic error,
multiclass logistic regression O(n), n the feature dimension.

Generator, as the authors' code builds it (K classes, n features, equal class sizes):

* class means mu_k = c_k 1 with c_0 = -1 and c_k = 2^(k-1) for k >= 1;
* shared "easy" covariance diag(s), s_i = n for i < floor(n/2), s_i = 1 otherwise (naive Bayes' model
  is exactly right, so its asymptotic error is the Bayes error);
* training pool of floor(100 n / K) points per class; test set of floor(10^4 / K) points per class;
* for K > 2 every feature is mapped x -> (x - a) / a with a = 2^(K-3);
* training sizes m from 2K, each a fresh random subset of the pool, redrawn while a class is missing.

A random m-subset of an i.i.d. pool is an i.i.d. sample whose class counts are multivariate
hypergeometric; :func:`training_sample` draws exactly that (counts, then fresh points) instead of
materialising a pool of 100 n points (800 MB at n = 1000).  :func:`make_pool` builds the pool itself.

Bayes error.  With equal priors and a shared covariance the Bayes rule is the nearest mean in the
Mahalanobis metric.  The means lie on the line c 1, so only t = 1' S^{-1} x / sqrt(q) matters,
q = 1' S^{-1} 1 = floor(n/2)/n + (n - floor(n/2)); under class k, t ~ N(c_k sqrt(q), 1), and the Bayes
rule cuts the line at the midpoints of consecutive sorted c's.  Hence, exactly,

    err_Bayes = (1/K) sum_k [Phi(-g_k^- sqrt(q) / 2) + Phi(-g_k^+ sqrt(q) / 2)],

g_k^-/+ the gaps from c_k to its sorted neighbours (a missing neighbour contributes 0).  For K = 2 this
is Phi(-sqrt(q)) = Phi(-sqrt((n + 1) / 2)) for even n.  The affine preprocessing leaves it unchanged.

The experiment: for each (K, n) and each model, m* = the smallest m whose mean test error over the
trials is below err_Bayes + 0.01, found by doubling m from 2K and then narrowing the bracket down to
the paper's grid step ceil(ln n) (safeguarded interpolation, :func:`search_m_star`).  Every evaluated
(K, n, model, m) is appended to ``evaluations.jsonl`` and every m* to ``mstar.jsonl`` under the
results directory; a rerun reuses them.  The cache key is :meth:`SimulationConfig.key`.  It gained a
``solver`` entry with the Newton-CG solver, so results stored earlier (L-BFGS fits) are not mixed
with new ones; they still load under ``SimulationConfig(solver="lbfgs")``, whose key is the old one.
The search is not in the key: it changes which m are visited, not the numbers at a given m, so m*
records found by the earlier bisection load as they are.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from theory import _io
from kernels.backend import from_numpy, namespace_of, to_numpy
from kernels.validation import check_in_open_interval, check_positive, check_positive_int

from theory.nb_lr.logistic import fit_logistic
from theory.nb_lr.naive_bayes import fit_shared_variance_nb, linear_predict, nb_linear_classifier

__all__ = [
    "PAPER_CLASSES",
    "PAPER_DIMENSIONS",
    "MODELS",
    "class_mean_coefficients",
    "easy_covariance_diagonal",
    "preprocessing_shift_scale",
    "pool_size_per_class",
    "test_size_per_class",
    "sample_points",
    "make_pool",
    "make_test_set",
    "training_sample",
    "bayes_error",
    "SimulationConfig",
    "evaluate_errors",
    "search_m_star",
    "run_sample_complexity",
    "load_results",
]

PAPER_CLASSES = (2, 3, 5, 7)
PAPER_DIMENSIONS = (100, 200, 400, 1000)
MODELS = ("nb", "lr")


def _check_kn(K, n):
    return check_positive_int(K, "K (number of classes)", minimum=2), check_positive_int(n, "n (dimension)", minimum=1)


def class_mean_coefficients(K: int) -> np.ndarray:
    """c_k with mu_k = c_k 1: c_0 = -1, c_k = 2^(k-1) (k >= 1)."""
    K = check_positive_int(K, "K (number of classes)", minimum=2)
    return np.array([-1.0] + [2.0 ** (k - 1) for k in range(1, K)])


def easy_covariance_diagonal(n: int) -> np.ndarray:
    """Diagonal of the shared "easy" covariance: n on the first floor(n/2) coordinates, 1 on the rest."""
    n = check_positive_int(n, "n (dimension)")
    return np.where(np.arange(n) < n // 2, float(n), 1.0)


def preprocessing_shift_scale(K: int) -> tuple[float, float]:
    """(a, a) with x -> (x - a) / a, a = 2^(K-3), for K > 2; (0, 1) (identity) for K = 2."""
    K = check_positive_int(K, "K (number of classes)", minimum=2)
    if K == 2:
        return 0.0, 1.0
    a = 2.0 ** (K - 3)
    return a, a


def pool_size_per_class(K: int, n: int) -> int:
    K, n = _check_kn(K, n)
    return (100 * n) // K


def test_size_per_class(K: int) -> int:
    K = check_positive_int(K, "K (number of classes)", minimum=2)
    return 10_000 // K


def sample_points(rng: np.random.Generator, K: int, n: int, counts) -> tuple[np.ndarray, np.ndarray]:
    """``counts[k]`` i.i.d. points of class k (preprocessed); returns (X (sum counts, n), y), ordered by class."""
    K, n = _check_kn(K, n)
    counts = np.asarray(counts, dtype=np.int64)
    if counts.shape != (K,) or (counts < 0).any():
        raise ValueError(f"counts must be K={K} non-negative integers, got {counts.tolist()}")
    y = np.repeat(np.arange(K), counts)
    std = np.sqrt(easy_covariance_diagonal(n))
    X = rng.standard_normal((y.size, n))
    X *= std  # in place: the same numbers as (z * std + mean - shift) / scale, without temporaries
    X += class_mean_coefficients(K)[y][:, None]
    shift, scale = preprocessing_shift_scale(K)
    if K > 2:
        X -= shift
        X /= scale
    return X, y


def make_pool(rng: np.random.Generator, K: int, n: int, per_class: int | None = None):
    """The authors' training pool: floor(100 n / K) points per class (or ``per_class``)."""
    per_class = pool_size_per_class(K, n) if per_class is None else check_positive_int(per_class, "per_class")
    return sample_points(rng, K, n, [per_class] * K)


def make_test_set(rng: np.random.Generator, K: int, n: int, per_class: int | None = None):
    """The authors' test set: floor(10^4 / K) points per class (or ``per_class``)."""
    per_class = test_size_per_class(K) if per_class is None else check_positive_int(per_class, "per_class")
    return sample_points(rng, K, n, [per_class] * K)


def training_sample(rng: np.random.Generator, K: int, n: int, m: int, pool_per_class: int | None = None):
    """A uniformly random m-subset of a fresh pool, redrawn until every class is present.

    Equal in distribution to subsetting :func:`make_pool`: the class counts are multivariate
    hypergeometric and, given the counts, the points are i.i.d. from their classes.  Rows are shuffled.
    """
    K, n = _check_kn(K, n)
    pool = pool_size_per_class(K, n) if pool_per_class is None else pool_per_class
    m = check_positive_int(m, "m (training size)", minimum=K)
    if m > K * pool:
        raise ValueError(f"m (training size) must be at most the pool size {K * pool}, got {m}")
    while True:
        counts = rng.multivariate_hypergeometric([pool] * K, m)
        if (counts > 0).all():
            break
    X, y = sample_points(rng, K, n, counts)
    order = rng.permutation(m)
    return X[order], y[order]


def bayes_error(K: int, n: int) -> float:
    """Exact Bayes error of the generator (module docstring), evaluated in 50-digit arithmetic."""
    import mpmath

    K, n = _check_kn(K, n)
    with mpmath.workdps(50):
        q = mpmath.mpf(n // 2) / n + (n - n // 2)
        c = np.sort(class_mean_coefficients(K))
        # each gap between neighbouring means is crossed from both sides
        tails = [mpmath.ncdf(-mpmath.mpf(float(g)) * mpmath.sqrt(q) / 2) for g in np.diff(c)]
        return float(2 * mpmath.fsum(tails) / K)


@dataclass(frozen=True)
class SimulationConfig:
    """Settings of the experiment; everything that changes a number is part of the cache key."""

    trials: int = 5
    test_per_class: int | None = None  # None: floor(10^4 / K), as the authors
    margin: float = 0.01
    C: float = 1.0
    tol: float = 1e-4  # scikit-learn's default, as the authors ran it
    max_iter: int = 1000
    seed: int = 0
    solver: str = "newton-cg"  # fit_logistic's solver; "lbfgs" reproduces the earlier runs

    def key(self) -> dict:
        """Cache key.  Results stored before the solver was a setting came from L-BFGS and carry no
        ``solver`` entry, so an "lbfgs" configuration leaves it out and still finds them."""
        key = asdict(self)
        if key["solver"] == "lbfgs":
            del key["solver"]
        return key


def _seed(config: SimulationConfig, *parts) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([config.seed, *[int(p) for p in parts]]))


def _test_set(K, n, config, xp):
    per_class = test_size_per_class(K) if config.test_per_class is None else config.test_per_class
    X, y = make_test_set(_seed(config, 1, K, n), K, n, per_class)
    return from_numpy(X, xp), from_numpy(y, xp)


def evaluate_errors(K, n, m, model, config: SimulationConfig, *, test_set=None, xp=None, warm=None):
    """Test errors of ``model`` ('nb' or 'lr') trained on ``config.trials`` independent samples of size m.

    All trials are fitted in one batched call.  Returns (errors as a NumPy array (trials,), fit) where
    ``fit`` is the fitted (coef, intercept) batch (reusable as ``warm`` start for logistic regression).
    """
    K, n = _check_kn(K, n)
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    xp = namespace_of() if xp is None else xp
    X_test, y_test = _test_set(K, n, config, xp) if test_set is None else test_set
    Xs, ys = [], []
    for trial in range(config.trials):
        X, y = training_sample(_seed(config, 2, K, n, trial, m), K, n, m)
        Xs.append(X)
        ys.append(y)
    X = from_numpy(np.stack(Xs), xp)
    y = from_numpy(np.stack(ys), xp)
    if model == "nb":
        coef, intercept = nb_linear_classifier(fit_shared_variance_nb(X, y, K))
    else:
        fit = fit_logistic(X, y, K, C=config.C, tol=config.tol, max_iter=config.max_iter, init=warm,
                           solver=config.solver)
        coef, intercept = fit.coef, fit.intercept
    predictions = linear_predict(coef, intercept, X_test)  # (trials, N_test)
    errors = xp.mean(xp.astype(predictions != y_test, xp.float64), axis=-1)
    return to_numpy(errors), (coef, intercept)


def search_m_star(error_at: Callable[[int], float], target: float, m_min: int, m_max: int, resolution: int):
    """Smallest m (to ``resolution``) with error_at(m) < target on the search path.

    Doubling from m_min until an m passes (or m_max fails), then the bracket (lo fails, hi passes)
    is narrowed to width <= ``resolution`` by safeguarded interpolation: the next m is where the
    line through (lo, log e_lo) and (hi, log e_hi) crosses log target (errors floored at target/100),
    kept at least ``resolution`` from both ends, with a plain bisection step whenever the previous
    step failed to halve the bracket (a Dekker/Brent-style safeguard): at worst (a step-shaped
    curve) two steps per halving; on a smooth curve a few steps in all.  On the paper's grid (5
    trials) the bracket took 105 evaluations where bisection takes 132 (per cell from 6 fewer to
    1 more: near the crossing the noise of the curve makes interpolation no better than halving).
    m* is the final hi: the smallest passing m evaluated, with a failing m at most ``resolution``
    below it.  For a monotone error curve this is the first crossing to within ``resolution``, as
    with bisection or the exhaustive scan; on a noisy, non-monotone curve the three may stop at
    different crossings, since each only sees the m it evaluates.

    Returns (m_star or None when even m_max fails, list of the m evaluated in order).
    """
    m_min = check_positive_int(m_min, "m_min")
    resolution = check_positive_int(resolution, "resolution")
    visited = []
    floor = target / 100.0 if target > 0 else 1e-12

    def error(m):
        visited.append(m)
        return error_at(m)

    lo, hi = None, m_min
    e_hi = error(hi)
    while not e_hi < target:
        if hi >= m_max:
            return None, visited
        lo, e_lo = hi, e_hi
        hi = min(2 * hi, m_max)
        e_hi = error(hi)
    if lo is None:
        return hi, visited
    widths = [hi - lo]
    while hi - lo > resolution:
        width = hi - lo
        if len(widths) >= 2 and 2 * widths[-1] > widths[-2] + 1:
            mid = lo + width // 2  # safeguard: the last step did not halve the bracket, bisect
        else:
            u_lo, u_hi = math.log(max(e_lo, floor)), math.log(max(e_hi, floor))
            u_t = math.log(max(target, floor))
            fraction = (u_lo - u_t) / (u_lo - u_hi) if u_lo > u_hi else 0.5
            mid = lo + int(round(fraction * width))
        mid = min(max(mid, lo + resolution), hi - resolution) if width >= 2 * resolution else lo + width // 2
        e_mid = error(mid)
        if e_mid < target:
            hi, e_hi = mid, e_mid
        else:
            lo, e_lo = mid, e_mid
        widths.append(hi - lo)
    return hi, visited


def _warm_start(solved: dict, m: int, n: int, solver: str):
    """The fit of the nearest m solved so far, or None (start from zero).

    L-BFGS always takes it (as the earlier runs did).  Newton-CG takes it only from a neighbour
    within 25% of m and for m >= 2n, past Cover's count below which a sample in n dimensions is
    typically linearly separable: there the solution is stable from sample to sample and the warm
    start saves Newton iterations (measured: ~3x fewer Hessian products for K = 7, n = 400); nearer
    separability the neighbour's large weights are far off on fresh data and zero is the better
    start (measured: up to ~2x fewer products for K = 2 and for K = 3, n = 1000).
    """
    if not solved:
        return None
    nearest = min(solved, key=lambda mm: abs(mm - m))
    if solver == "lbfgs" or (m >= 2 * n and abs(nearest - m) <= 0.25 * m):
        return solved[nearest]
    return None


def run_sample_complexity(
    Ks=PAPER_CLASSES,
    ns=PAPER_DIMENSIONS,
    models=MODELS,
    *,
    config: SimulationConfig = SimulationConfig(),
    results_dir: str | Path | None = None,
    progress: bool | None = None,
    xp=None,
    store: bool = True,
) -> list[dict]:
    """m* and the evaluated error curve for every (K, n, model); streamed to disk, resumable.

    Returns one record per cell: K, n, model, bayes_error, target, m_star (None if not reached by
    the pool size 100 n), and ``curve``: sorted [m, mean error, errors per trial] of every m evaluated.
    ``progress=None`` shows a tqdm bar only on a terminal.  ``store=False`` keeps nothing on disk.
    """
    from tqdm.auto import tqdm

    check_in_open_interval(config.margin, "margin", 0.0, 1.0)
    check_positive(config.C, "C")
    if config.solver not in ("newton-cg", "lbfgs"):
        raise ValueError(f"solver must be 'newton-cg' or 'lbfgs', got {config.solver!r}")
    xp = namespace_of() if xp is None else xp
    out = _io.results_dir("nb_lr", results_dir)
    evaluations_path, mstar_path = out / "evaluations.jsonl", out / "mstar.jsonl"
    key = config.key()
    cache = {}
    summaries = {}
    if store:
        for r in _io.read_jsonl(evaluations_path):
            if r.get("config") == key:
                cache[(r["K"], r["n"], r["model"], r["m"])] = r["errors"]
        for r in _io.read_jsonl(mstar_path):
            if r.get("config") == key:
                summaries[(r["K"], r["n"], r["model"])] = r

    cells = [(K, n, model) for K in Ks for n in ns for model in models]
    records = []
    bar = tqdm(cells, desc="nb_lr m*", disable=None if progress is None else not progress, unit="cell")
    for K, n, model in bar:
        bar.set_postfix_str(f"K={K} n={n} {model}")
        if (K, n, model) in summaries:
            records.append(summaries[(K, n, model)])
            continue
        bayes = bayes_error(K, n)
        target = bayes + config.margin
        test_set = None
        warm = {}

        def error_at(m, K=K, n=n, model=model):
            nonlocal test_set
            if (K, n, model, m) not in cache:
                if test_set is None:
                    test_set = _test_set(K, n, config, xp)
                start = _warm_start(warm, m, n, config.solver) if model == "lr" else None
                errors, fit = evaluate_errors(K, n, m, model, config, test_set=test_set, xp=xp, warm=start)
                warm[m] = fit
                cache[(K, n, model, m)] = errors.tolist()
                if store:
                    _io.append_jsonl(
                        evaluations_path,
                        {"K": K, "n": n, "model": model, "m": m, "errors": errors.tolist(), "config": key},
                    )
            return float(np.mean(cache[(K, n, model, m)]))

        m_star, _ = search_m_star(error_at, target, 2 * K, K * pool_size_per_class(K, n), math.ceil(math.log(n)))
        curve = sorted(
            [mm, float(np.mean(e)), e] for (k2, n2, mod2, mm), e in cache.items() if (k2, n2, mod2) == (K, n, model)
        )
        record = {"K": K, "n": n, "model": model, "bayes_error": bayes, "target": target, "m_star": m_star,
                  "curve": curve, "config": key}
        if store:
            _io.append_jsonl(mstar_path, record)
        records.append(record)
    return records


def load_results(results_dir: str | Path | None = None, config: SimulationConfig | None = None) -> list[dict]:
    """The m* records stored by :func:`run_sample_complexity` (only those of ``config`` when given)."""
    out = _io.results_dir("nb_lr", results_dir)
    records = _io.read_jsonl(out / "mstar.jsonl")
    if config is not None:
        records = [r for r in records if r.get("config") == config.key()]
    return records
