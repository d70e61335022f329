"""The offline prompt-bound experiment on AG News: greedy prompt search, every bound, held-out check.

Paper: Victor Akinwande, Yiding Jiang, Dylan Sam, J. Zico Kolter, "Understanding prompt engineering
may not require rethinking generalization", ICLR 2024, arXiv 2310.03957 (Sections 4-5 on images; here
on text, fully offline).

* data: the AG News test split (7,600 documents, 4 classes) from ``data_dir()/ag_news``, split once with a
  fixed seed into a prompt-selection set (where prompts are chosen and bounds computed) and a held-out set
  (where the bounds are checked);
* models: :class:`theory.pac_bayes.lm.SentenceEmbedder` (all-MiniLM-L6-v2) and
  :class:`theory.pac_bayes.lm.SmolLM` (SmolLM2-135M), both cached on disk;
* priors: ``lm`` (SmolLM2 with a uniform length prior on 1..max_length), ``lm_eos`` (SmolLM2 with its
  end-of-sequence probability), ``uniform`` (uniform length, uniform tokens).

Needs the ``lm`` extra at call time only; importing this module is cheap.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kernels.validation import check_in_open_interval, check_positive_int
from theory import _io
from theory._io import data_path
from theory.pac_bayes.lm import EMBEDDER_NAME, LM_NAME, SentenceEmbedder, SmolLM
from theory.pac_bayes.priors import LMPromptPrior, UniformTokenPrior
from theory.pac_bayes.prompts import PromptTemplate, evaluate_prompts, greedy_prompt_search, kendall_tau

__all__ = [
    "AG_NEWS_CLASS_NAMES",
    "AG_NEWS_QUICK",
    "AG_NEWS_FULL",
    "HAND_WRITTEN_TEMPLATES",
    "AGNewsResult",
    "ag_news_prompt_experiment",
    "load_ag_news",
    "split_selection_heldout",
]

AG_NEWS_CLASS_NAMES = ("world", "sports", "business", "science and technology")
# Quick scale (CI: ~3,500 documents to embed) and the full run (all 7,600).
AG_NEWS_QUICK = {"n_selection": 2800, "n_heldout": 700, "n_steps": 3, "n_candidates": 10, "delta": 0.05, "max_length": 16}
AG_NEWS_FULL = {"n_selection": None, "n_heldout": None, "n_steps": 5, "n_candidates": 16, "delta": 0.05, "max_length": 16}

HAND_WRITTEN_TEMPLATES = (
    "{}",
    "{} news",
    "a news article about {}",
    "This article is about {} news.",
    "A story about {}.",
    "Topic: {}",
    "news about {}",
    "The topic of this news story is {}.",
    "This is a {} story.",
    "Category: {}",
    "{} headlines",
    "Latest {} news",
)


def load_ag_news(path: str | os.PathLike | None = None) -> tuple[list[str], np.ndarray]:
    """Texts (title + description) and labels in {0, 1, 2, 3} of the AG News test split.

    The CSV stores labels 1..4 (World, Sports, Business, Sci/Tech) and escapes line breaks as a
    backslash; those become spaces.
    """
    csv_path = Path(path) if path is not None else data_path("ag_news", "test.csv")
    texts, labels = [], []
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if len(row) != 3:
                raise ValueError(f"{csv_path}: expected 3 columns (label, title, description), got {row!r}")
            label, title, description = row
            texts.append(" ".join(f"{title}. {description}".replace("\\", " ").split()))
            labels.append(int(label) - 1)
    y = np.asarray(labels, dtype=np.int64)
    if y.size == 0 or y.min() < 0 or y.max() > 3:
        raise ValueError(f"{csv_path}: labels must lie in 1..4")
    return texts, y


def split_selection_heldout(n: int, selection_fraction: float = 0.7, *, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """A random split of ``range(n)`` into (selection, held-out) index arrays, each sorted.

    ``rng``: anything :func:`numpy.random.default_rng` accepts (an integer gives a fixed split).
    """
    n = check_positive_int(n, "n", minimum=2)
    selection_fraction = check_in_open_interval(selection_fraction, "selection_fraction", 0.0, 1.0)
    order = np.random.default_rng(rng).permutation(n)
    n_selection = min(max(int(round(selection_fraction * n)), 1), n - 1)
    return np.sort(order[:n_selection]), np.sort(order[n_selection:])


@dataclass(frozen=True)
class AGNewsResult:
    """The stored outcome of :func:`ag_news_prompt_experiment` (every field JSON-ready).

    Attributes
    ----------
    config : dict
        The configuration (its hash names the stored file).
    n_train, n_test : int
        Sizes of the selection and held-out sets used.
    greedy : dict
        :meth:`PromptReport.as_dict` of the greedy search's best prompt.
    greedy_path : list of dict
        The report of the prompt after each search step.
    prompts : list of dict
        The report of every prompt evaluated (greedy best first, then the path, hand-written templates,
        search candidates).
    kendall_tau : dict
        Per prior: ``n_prompts`` with a finite KL and Kendall's tau between their Occam (binomial) bounds and
        held-out errors.
    """

    config: dict
    n_train: int
    n_test: int
    greedy: dict
    greedy_path: list
    prompts: list
    kendall_tau: dict

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "AGNewsResult":
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def _experiment_config(**options) -> dict:
    """The stored configuration; ``format`` is bumped when the computation changes."""
    return {"format": 1, **options, "embedder": EMBEDDER_NAME, "lm": LM_NAME, "templates": list(HAND_WRITTEN_TEMPLATES)}


def _selection_and_heldout(config, embedder):
    """(train embeddings, train labels, test embeddings, test labels) of the configured split."""
    texts, labels = load_ag_news()
    selection, heldout = split_selection_heldout(len(texts), config["selection_fraction"], rng=config["seed"])
    selection = selection[: config["n_selection"] or len(selection)]
    heldout = heldout[: config["n_heldout"] or len(heldout)]
    train = embedder.embed([texts[i] for i in selection])
    test = embedder.embed([texts[i] for i in heldout])
    return train, labels[selection], test, labels[heldout]


def _priors(lm, max_length: int) -> dict:
    return {
        "lm": LMPromptPrior(lm, end="length", max_length=max_length),
        "lm_eos": LMPromptPrior(lm, end="eos"),
        "uniform": UniformTokenPrior(lm, max_length=max_length),
    }


def _rank_agreement(reports, priors) -> dict:
    """Kendall's tau between the Occam (binomial) bound and the held-out error, per prior (finite KL only)."""
    tau = {}
    for name in priors:
        usable = [r for r in reports if math.isfinite(r.kl[name])]
        tau[name] = {
            "n_prompts": len(usable),
            "kendall_tau": kendall_tau([r.bounds[name]["occam_binomial"] for r in usable], [r.test_error for r in usable]),
        }
    return tau


def _run(config, cache_dir, progress) -> AGNewsResult:
    embedder = SentenceEmbedder(cache_dir, progress=progress)
    train_emb, y_train, test_emb, y_test = _selection_and_heldout(config, embedder)
    lm = SmolLM(cache_dir)
    names = AG_NEWS_CLASS_NAMES
    search = greedy_prompt_search(lm, embedder, names, train_emb, y_train,
                                  n_steps=config["n_steps"], n_candidates=config["n_candidates"])
    priors = _priors(lm, config["max_length"])
    hand = [PromptTemplate.from_text(t, lm) for t in HAND_WRITTEN_TEMPLATES]
    pool = list(dict.fromkeys([search.best, *search.path, *hand, *search.candidates]))
    reports = evaluate_prompts(
        pool, lm=lm, embedder=embedder, class_names=names, train_embeddings=train_emb, train_labels=y_train,
        test_embeddings=test_emb, test_labels=y_test, priors=priors, delta=config["delta"],
    )
    by_ids = {r.token_ids: r for r in reports}
    return AGNewsResult(
        config=config,
        n_train=int(y_train.shape[0]),
        n_test=int(y_test.shape[0]),
        greedy=reports[0].as_dict(),
        greedy_path=[by_ids[t.token_ids].as_dict() for t in search.path],
        prompts=[r.as_dict() for r in reports],
        kendall_tau=_rank_agreement(reports, priors),
    )


def ag_news_prompt_experiment(
    n_selection: int | None = None,
    n_heldout: int | None = None,
    *,
    seed: int = 0,
    selection_fraction: float = 0.7,
    delta: float = 0.05,
    n_steps: int = 4,
    n_candidates: int = 16,
    max_length: int = 16,
    cache_dir: str | os.PathLike | None = None,
    results_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> AGNewsResult:
    """Greedy prompt search on the AG News selection set and every bound, checked on the held-out set.

    Parameters
    ----------
    n_selection, n_heldout : int, optional
        Take the first documents of each side of the split (None: all).
    seed : int
        Seed of the selection/held-out split; an integer, since it is part of the stored configuration.
    selection_fraction : float
        Fraction of the 7,600 documents on the selection side.
    delta : float
        Confidence parameter of every bound.
    n_steps, n_candidates : int
        Greedy search steps and LM candidates per step (:func:`greedy_prompt_search`).
    max_length : int
        Longest prompt (tokens) under the ``lm`` and ``uniform`` priors.
    cache_dir, results_dir : path, optional
        Model caches and the result store (default ``results/pac_bayes``, :func:`theory._io.results_dir`).

    Returns
    -------
    AGNewsResult
        Stored in ``results_dir`` keyed by the configuration and reused by a later call.
    """
    config = _experiment_config(
        n_selection=n_selection, n_heldout=n_heldout, seed=check_positive_int(seed, "seed", minimum=0),
        selection_fraction=selection_fraction, delta=check_in_open_interval(delta, "delta", 0.0, 1.0),
        n_steps=n_steps, n_candidates=n_candidates, max_length=max_length,
    )
    key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    store = _io.results_dir("pac_bayes", results_dir) / f"ag_news_{key}.json"
    stored = _io.read_json(store)
    if stored is not None:
        return AGNewsResult.from_dict(stored)
    result = _run(config, cache_dir, progress)
    _io.write_json(store, result.as_dict(), indent=1)
    return result
