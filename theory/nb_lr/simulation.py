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
the paper's grid step ceil(ln n) (safeguarded interpolation, :func:`search_m_star`).  Each cell
(K, n, model) is one task of :func:`theory._sweep.map_tasks`, run in this process or on any executor
(a process pool, a Dask cluster); every seed is derived from the configuration and the cell, so the
results do not depend on the number of workers or the order of completion.  Each finished cell is
appended to ``mstar.jsonl`` under :func:`theory._io.results_dir` ("nb_lr"); a rerun skips the stored
cells of the same :meth:`SimulationConfig.key`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from array_api_compat import is_cupy_namespace, is_numpy_namespace

from theory import _io
from theory._sweep import Task, map_tasks
from kernels.backend import from_numpy, namespace_of, to_numpy
from kernels.validation import check_in_open_interval, check_positive, check_positive_int

from theory.nb_lr.logistic import fit_logistic
from theory.nb_lr.naive_bayes import fit_shared_variance_nb, linear_predict, nb_linear_classifier

__all__ = [
    "PAPER_CLASSES",
    "PAPER_DIMENSIONS",
    "SIMULATION_MODELS",
    "MAX_CLASSES",
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
    "ErrorEvaluation",
    "evaluate_errors",
    "MStarSearch",
    "search_m_star",
    "MStarResult",
    "sample_complexity_cell",
    "run_sample_complexity",
    "load_sample_complexity_results",
]

PAPER_CLASSES = (2, 3, 5, 7)
PAPER_DIMENSIONS = (100, 200, 400, 1000)
SIMULATION_MODELS = ("nb", "lr")
MAX_CLASSES = 1024  # the class means 2^(K-1) are finite in float64 up to K = 1024
_STORE = "mstar.jsonl"


def _check_n_classes(n_classes):
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    if n_classes > MAX_CLASSES:
        raise ValueError(
            f"n_classes must be at most {MAX_CLASSES} (the class means 2^(n_classes-1) overflow float64), "
            f"got {n_classes}"
        )
    return n_classes


def _check_classes_and_dimension(n_classes, n):
    return _check_n_classes(n_classes), check_positive_int(n, "n (dimension)", minimum=1)


def class_mean_coefficients(n_classes: int) -> np.ndarray:
    """c_k with mu_k = c_k 1: c_0 = -1, c_k = 2^(k-1) (k >= 1), for k < n_classes."""
    n_classes = _check_n_classes(n_classes)
    return np.array([-1.0] + [2.0 ** (k - 1) for k in range(1, n_classes)])


def easy_covariance_diagonal(n: int) -> np.ndarray:
    """Diagonal of the shared "easy" covariance: n on the first floor(n/2) coordinates, 1 on the rest."""
    n = check_positive_int(n, "n (dimension)")
    return np.where(np.arange(n) < n // 2, float(n), 1.0)


def preprocessing_shift_scale(n_classes: int) -> tuple[float, float]:
    """(shift, scale) of the map x -> (x - shift) / scale: (a, a) with a = 2^(K-3) for K > 2, (0, 1) for K = 2."""
    n_classes = _check_n_classes(n_classes)
    if n_classes == 2:
        return 0.0, 1.0
    a = 2.0 ** (n_classes - 3)
    return a, a


def pool_size_per_class(n_classes: int, n: int) -> int:
    """floor(100 n / K): the authors' training pool per class."""
    n_classes, n = _check_classes_and_dimension(n_classes, n)
    return (100 * n) // n_classes


def test_size_per_class(n_classes: int) -> int:
    """floor(10^4 / K): the authors' test set per class."""
    return 10_000 // _check_n_classes(n_classes)


def sample_points(n_classes: int, n: int, counts, *, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """``counts[k]`` i.i.d. points of class k, preprocessed.

    Returns (X (sum counts, n), y), ordered by class; ``rng`` is anything ``numpy.random.default_rng`` accepts.
    """
    n_classes, n = _check_classes_and_dimension(n_classes, n)
    rng = np.random.default_rng(rng)
    counts = np.asarray(counts)
    if counts.shape != (n_classes,) or not np.issubdtype(counts.dtype, np.integer) or (counts < 0).any():
        raise ValueError(f"counts must be n_classes={n_classes} non-negative integers, got {counts.tolist()}")
    y = np.repeat(np.arange(n_classes), counts)
    std = np.sqrt(easy_covariance_diagonal(n))
    X = rng.standard_normal((y.size, n))
    X *= std  # on the fresh draw: the same numbers as (z * std + mean - shift) / scale, fewer temporaries
    X += class_mean_coefficients(n_classes)[y][:, None]
    shift, scale = preprocessing_shift_scale(n_classes)
    if n_classes > 2:
        X -= shift
        X /= scale
    return X, y


def make_pool(n_classes: int, n: int, per_class: int | None = None, *, rng=None):
    """The authors' training pool: floor(100 n / K) points per class (or ``per_class``); returns (X, y)."""
    n_classes, n = _check_classes_and_dimension(n_classes, n)
    per_class = pool_size_per_class(n_classes, n) if per_class is None else check_positive_int(per_class, "per_class")
    return sample_points(n_classes, n, [per_class] * n_classes, rng=rng)


def make_test_set(n_classes: int, n: int, per_class: int | None = None, *, rng=None):
    """The authors' test set: floor(10^4 / K) points per class (or ``per_class``); returns (X, y)."""
    n_classes, n = _check_classes_and_dimension(n_classes, n)
    per_class = test_size_per_class(n_classes) if per_class is None else check_positive_int(per_class, "per_class")
    return sample_points(n_classes, n, [per_class] * n_classes, rng=rng)


def training_sample(n_classes: int, n: int, m: int, pool_per_class: int | None = None, *, rng=None):
    """A uniformly random m-subset of a fresh pool, redrawn until every class is present; returns (X, y).

    Equal in distribution to subsetting :func:`make_pool`: the class counts are multivariate
    hypergeometric and, given the counts, the points are i.i.d. from their classes.  Rows are shuffled.
    """
    n_classes, n = _check_classes_and_dimension(n_classes, n)
    if pool_per_class is None:
        pool = pool_size_per_class(n_classes, n)
    else:
        pool = check_positive_int(pool_per_class, "pool_per_class", minimum=1)
    m = check_positive_int(m, "m (training size)", minimum=n_classes)
    if m > n_classes * pool:
        raise ValueError(f"m (training size) must be at most the pool size {n_classes * pool}, got {m}")
    rng = np.random.default_rng(rng)
    while True:
        counts = rng.multivariate_hypergeometric([pool] * n_classes, m)
        if (counts > 0).all():
            break
    X, y = sample_points(n_classes, n, counts, rng=rng)
    order = rng.permutation(m)
    return X[order], y[order]


def bayes_error(n_classes: int, n: int) -> float:
    """Exact Bayes error of the generator (module docstring), evaluated in 50-digit arithmetic."""
    import mpmath

    n_classes, n = _check_classes_and_dimension(n_classes, n)
    with mpmath.workdps(50):
        q = mpmath.mpf(n // 2) / n + (n - n // 2)
        c = np.sort(class_mean_coefficients(n_classes))
        # each gap between neighbouring means is crossed from both sides
        tails = [mpmath.ncdf(-mpmath.mpf(float(g)) * mpmath.sqrt(q) / 2) for g in np.diff(c)]
        return float(2 * mpmath.fsum(tails) / n_classes)


@dataclass(frozen=True)
class SimulationConfig:
    """Settings of the experiment; everything that changes a number is part of the cache key.

    Attributes
    ----------
    trials : int
        Independent training samples per m (the authors: 5).
    test_per_class : int or None
        Test points per class; None: floor(10^4 / K), as the authors.
    margin : float
        m* is the first m with mean error < Bayes error + margin, in (0, 1).
    C, tol, max_iter : float, float, int
        Logistic regression settings (scikit-learn's defaults, as the authors ran it: the solver stops
        at max |gradient| <= tol).
    seed : int
        Root of every seed of the experiment.
    """

    trials: int = 5
    test_per_class: int | None = None
    margin: float = 0.01
    C: float = 1.0
    tol: float = 1e-4
    max_iter: int = 1000
    seed: int = 0

    def __post_init__(self):
        check_positive_int(self.trials, "trials", minimum=1)
        if self.test_per_class is not None:
            check_positive_int(self.test_per_class, "test_per_class", minimum=1)
        check_in_open_interval(self.margin, "margin", 0.0, 1.0)
        check_positive(self.C, "C")
        check_positive(self.tol, "tol")
        check_positive_int(self.max_iter, "max_iter", minimum=1)
        check_positive_int(self.seed, "seed", minimum=0)

    def key(self) -> dict:
        """Cache key: the settings and the logistic solver (truncated Newton)."""
        return {**asdict(self), "solver": "newton-cg"}

    def rng(self, *parts: int) -> np.random.Generator:
        """The random stream ``SeedSequence([seed, *parts])``: (1, K, n) is the test set of a cell and
        (2, K, n, trial, m) a training sample, so every number depends only on the configuration."""
        return np.random.default_rng(np.random.SeedSequence([self.seed, *[int(p) for p in parts]]))


def _test_set(n_classes, n, config, xp):
    X, y = make_test_set(n_classes, n, config.test_per_class, rng=config.rng(1, n_classes, n))
    return from_numpy(X, xp), from_numpy(y, xp)


@dataclass(frozen=True)
class ErrorEvaluation:
    """Result of :func:`evaluate_errors`.

    Attributes
    ----------
    errors : numpy.ndarray, shape (trials,)
        Test error of each trial.
    coef, intercept : arrays, shapes (trials, K', n) and (trials, K')
        The fitted linear classifiers (a warm start for logistic regression at a nearby m).
    """

    errors: np.ndarray
    coef: Any
    intercept: Any


def evaluate_errors(n_classes, n, m, model, config: SimulationConfig, *, test_set=None, xp=None, warm=None):
    """Test errors of ``model`` ('nb' or 'lr') trained on ``config.trials`` independent samples of size m.

    All trials are fitted in one batched call; ``warm`` is an optional (coef, intercept) start for
    logistic regression.  Returns an :class:`ErrorEvaluation`.
    """
    n_classes, n = _check_classes_and_dimension(n_classes, n)
    if model not in SIMULATION_MODELS:
        raise ValueError(f"model must be one of {SIMULATION_MODELS}, got {model!r}")
    xp = namespace_of() if xp is None else xp
    X_test, y_test = _test_set(n_classes, n, config, xp) if test_set is None else test_set
    samples = [training_sample(n_classes, n, m, rng=config.rng(2, n_classes, n, trial, m))
               for trial in range(config.trials)]
    X = from_numpy(np.stack([s[0] for s in samples]), xp)
    y = from_numpy(np.stack([s[1] for s in samples]), xp)
    if model == "nb":
        linear = nb_linear_classifier(fit_shared_variance_nb(X, y, n_classes))
        coef, intercept = linear.coef, linear.intercept
    else:
        fit = fit_logistic(X, y, n_classes, C=config.C, tol=config.tol, rtol=None, max_iter=config.max_iter,
                           init=warm)
        coef, intercept = fit.coef, fit.intercept
    predictions = linear_predict(coef, intercept, X_test)  # (trials, N_test)
    errors = xp.mean(xp.astype(predictions != y_test, xp.float64), axis=-1)
    return ErrorEvaluation(to_numpy(errors), coef, intercept)


@dataclass(frozen=True)
class MStarSearch:
    """Result of :func:`search_m_star`: ``m_star`` (None when even m_max fails) and the m evaluated, in order."""

    m_star: int | None
    visited: list


def _interpolated_midpoint(lo, e_lo, hi, e_hi, target, floor, resolution, widths):
    """The next m inside the bracket (lo fails, hi passes) of :func:`search_m_star`."""
    width = hi - lo
    if len(widths) >= 2 and 2 * widths[-1] > widths[-2] + 1:
        mid = lo + width // 2  # safeguard: the last step did not halve the bracket, bisect
    else:
        u_lo, u_hi = math.log(max(e_lo, floor)), math.log(max(e_hi, floor))
        u_t = math.log(max(target, floor))
        fraction = (u_lo - u_t) / (u_lo - u_hi) if u_lo > u_hi else 0.5
        mid = lo + int(round(fraction * width))
    return min(max(mid, lo + resolution), hi - resolution) if width >= 2 * resolution else lo + width // 2


def search_m_star(error_at: Callable[[int], float], target: float, m_min: int, m_max: int, resolution: int):
    """Smallest m (to ``resolution``) with error_at(m) < target on the search path.

    Doubling from m_min until an m passes (or m_max fails), then the bracket (lo fails, hi passes)
    is narrowed to width <= ``resolution`` by safeguarded interpolation: the next m is where the
    line through (lo, log e_lo) and (hi, log e_hi) crosses log target (errors floored at target/100),
    kept at least ``resolution`` from both ends, with a plain bisection step whenever the previous
    step failed to halve the bracket (a Dekker/Brent-style safeguard): at worst (a step-shaped
    curve) two steps per halving; on a smooth curve a few steps in all.  m* is the final hi: the
    smallest passing m evaluated, with a failing m at most ``resolution`` below it.  For a monotone
    error curve this is the first crossing to within ``resolution``, as with bisection or the
    exhaustive scan; on a noisy, non-monotone curve the three may stop at different crossings, since
    each only sees the m it evaluates.

    Returns
    -------
    MStarSearch
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
            return MStarSearch(None, visited)
        lo, e_lo = hi, e_hi
        hi = min(2 * hi, m_max)
        e_hi = error(hi)
    if lo is None:
        return MStarSearch(hi, visited)
    widths = [hi - lo]
    while hi - lo > resolution:
        mid = _interpolated_midpoint(lo, e_lo, hi, e_hi, target, floor, resolution, widths)
        e_mid = error(mid)
        if e_mid < target:
            hi, e_hi = mid, e_mid
        else:
            lo, e_lo = mid, e_mid
        widths.append(hi - lo)
    return MStarSearch(hi, visited)


def _warm_start(solved: dict, m: int, n: int):
    """The fit of the nearest m solved so far, or None (start from zero).

    Taken only from a neighbour within 25% of m and for m >= 2n, past Cover's count below which a
    sample in n dimensions is typically linearly separable: there the solution is stable from sample
    to sample and the warm start saves Newton iterations; nearer separability the neighbour's large
    weights are far off on fresh data and zero is the better start.
    """
    if not solved:
        return None
    nearest = min(solved, key=lambda mm: abs(mm - m))
    if m >= 2 * n and abs(nearest - m) <= 0.25 * m:
        return solved[nearest]
    return None


@dataclass(frozen=True)
class MStarResult:
    """One cell (K, n, model) of the sample-complexity experiment.

    Attributes
    ----------
    n_classes, n, model : int, int, str
        The cell: class count K, dimension n, 'nb' or 'lr'.
    bayes_error, target : float
        Exact Bayes error and the target Bayes error + margin.
    m_star : int or None
        The smallest m found whose mean test error is below the target (None: not reached by 100 n).
    curve : list of [m, mean error, errors per trial]
        Every m evaluated, sorted by m.
    config : dict
        :meth:`SimulationConfig.key` of the run.
    """

    n_classes: int
    n: int
    model: str
    bayes_error: float
    target: float
    m_star: int | None
    curve: list = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def cell(self) -> tuple:
        return (self.n_classes, self.n, self.model)


def _backend_name(xp) -> str:
    if xp is None or is_numpy_namespace(xp):
        return "numpy"
    return "cupy" if is_cupy_namespace(xp) else "array_api_strict"


def sample_complexity_cell(n_classes: int, n: int, model: str, config: SimulationConfig, backend: str = "numpy"):
    """m* and the evaluated error curve of one cell (a picklable task of :func:`run_sample_complexity`)."""
    xp = namespace_of(backend)
    bayes = bayes_error(n_classes, n)
    target = bayes + config.margin
    test_set = _test_set(n_classes, n, config, xp)
    errors, fits = {}, {}

    def error_at(m):
        start = _warm_start(fits, m, n) if model == "lr" else None
        evaluation = evaluate_errors(n_classes, n, m, model, config, test_set=test_set, xp=xp, warm=start)
        fits[m] = (evaluation.coef, evaluation.intercept)
        errors[m] = evaluation.errors.tolist()
        return float(np.mean(errors[m]))

    search = search_m_star(error_at, target, 2 * n_classes, n_classes * pool_size_per_class(n_classes, n),
                           math.ceil(math.log(n)))
    curve = [[m, float(np.mean(e)), e] for m, e in sorted(errors.items())]
    return MStarResult(n_classes, n, model, bayes, target, search.m_star, curve, config.key())


def run_sample_complexity(
    n_classes=PAPER_CLASSES,
    ns=PAPER_DIMENSIONS,
    models=SIMULATION_MODELS,
    *,
    config: SimulationConfig = SimulationConfig(),
    results_dir: str | Path | None = None,
    progress: bool | None = None,
    xp=None,
    store: bool = True,
    executor=None,
) -> list[MStarResult]:
    """m* and the evaluated error curve for every cell (K, n, model); streamed to disk, resumable.

    Parameters
    ----------
    n_classes, ns, models : sequences
        The grid: class counts K, dimensions n, models ('nb', 'lr').
    config : SimulationConfig
    results_dir : path, optional
        Store folder (default :func:`theory._io.results_dir` ("nb_lr")); ``store=False`` keeps nothing.
    progress : bool, optional
        Progress bar of completed cells; None: only on a terminal.
    xp : array namespace, optional
        Where the batched fits run (NumPy, CuPy, array-api-strict); the default backend otherwise.
    executor : concurrent.futures.Executor, optional
        Runs the cells (a process pool, ``distributed.Client(...).get_executor()``); None: in this process.

    Returns
    -------
    list of MStarResult, in grid order.
    """
    if not isinstance(config, SimulationConfig):
        raise TypeError(f"config must be a SimulationConfig, got {type(config).__name__}")
    cells = [(_check_n_classes(k), check_positive_int(n, "n (dimension)"), model)
             for k in n_classes for n in ns for model in models]
    for _, _, model in cells:
        if model not in SIMULATION_MODELS:
            raise ValueError(f"models must be among {SIMULATION_MODELS}, got {model!r}")
    path = _io.results_dir("nb_lr", results_dir) / _STORE
    done = {r.cell(): r for r in load_sample_complexity_results(path.parent, config)} if store else {}
    backend = _backend_name(xp)
    tasks = [Task(cell, sample_complexity_cell, {"n_classes": cell[0], "n": cell[1], "model": cell[2],
                                                 "config": config, "backend": backend})
             for cell in cells if cell not in done]

    def keep(task, result):
        done[task.key] = result
        if store:
            _io.append_jsonl(path, asdict(result))

    map_tasks(tasks, executor=executor, on_result=keep, desc="nb_lr m*", progress=progress is not False)
    return [done[cell] for cell in cells]


def load_sample_complexity_results(results_dir: str | Path | None = None,
                                   config: SimulationConfig | None = None) -> list[MStarResult]:
    """The cells stored by :func:`run_sample_complexity` (only those of ``config`` when given), in file order."""
    records = _io.read_jsonl(_io.results_dir("nb_lr", results_dir) / _STORE)
    fields = set(MStarResult.__dataclass_fields__)
    results = [MStarResult(**{k: r[k] for k in fields if k in r}) for r in records if fields <= set(r)]
    if config is not None:
        results = [r for r in results if r.config == config.key()]
    return results
