"""Prompts as hypotheses: zero-shot classification by cosine similarity, priors over prompts, greedy search.

Paper: Victor Akinwande, Yiding Jiang, Dylan Sam, J. Zico Kolter, "Understanding prompt engineering
may not require rethinking generalization", ICLR 2024, arXiv 2310.03957.

* Hypothesis: a prompt, i.e. a token sequence w = (w_1..w_L) of a causal language model.  Its text
  t = decode(w) is a template: the class name replaces ``{}`` when t contains it, else it follows t after
  a space.  The classifier is h_w(x) = argmax_k cos(e(x), e(t with class k)) for a sentence embedder e
  (the paper's Section 3 with CLIP's image/text encoders).
* Prior over prompts (a distribution over all token sequences, so the Occam bound applies to a prompt
  chosen on the training data): ln pi(w) = sum_t ln P_LM(w_t | BOS, w_<t) + an end-of-prompt term,
  either ln P_LM(EOS | BOS, w) (``end="eos"``) or a uniform length prior -ln L_max (``end="length"``;
  the prefix probabilities of all sequences of one length sum to 1).  Baselines: the uniform token prior
  ln pi(w) = -ln L_max - L ln V, and a unigram prior -ln L_max + sum_t ln u(w_t).
* Posterior: a point mass on the chosen prompt, so KL = ln 1/pi(w) (Section 4 of the paper).
* Greedy search (Section 5): starting from a prefix, append the token, among the LM's most probable
  next tokens, that gives the lowest training error.

The language model and the embedder sit behind the small protocols :class:`CausalLM` and :class:`Embedder`
so the search and the bounds are testable with fakes; :mod:`theory.pac_bayes.lm` provides the real ones.
The priors over prompts are in :mod:`theory.pac_bayes.priors`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from kernels.validation import HasMethods
from sklearn.utils.multiclass import check_classification_targets

from kernels.base import ClassifierMixin, Estimator, check_fitted
from kernels.numerics import unit_rows
from kernels.validation import check_in_open_interval, check_positive_int
from theory.pac_bayes.bounds import all_bounds
from theory.pac_bayes.priors import LMPromptPrior

__all__ = [
    "Embedder",
    "CausalLM",
    "PromptTemplate",
    "class_prompt_texts",
    "prompt_errors",
    "ZeroShotClassifier",
    "PromptReport",
    "evaluate_prompts",
    "GreedySearchResult",
    "greedy_prompt_search",
    "kendall_tau",
]

class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) array of embeddings."""


class CausalLM(Protocol):
    vocab_size: int
    bos_token_id: int
    eos_token_id: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def log_prob_table(self, ids: Sequence[int]) -> np.ndarray:
        """(len(ids) + 1, vocab_size): row t is ln P(. | BOS, ids[:t]), each row a distribution."""


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt: its text (``{}`` marks the class name, else the name is appended) and token ids."""

    text: str
    token_ids: tuple[int, ...] | None = None

    @classmethod
    def from_text(cls, text: str, lm: CausalLM | None = None) -> "PromptTemplate":
        return cls(text, tuple(lm.encode(text)) if lm is not None else None)

    @classmethod
    def from_tokens(cls, ids: Sequence[int], lm: CausalLM) -> "PromptTemplate":
        return cls(lm.decode(ids), tuple(int(i) for i in ids))

    def render(self, class_name: str) -> str:
        if "{}" in self.text:
            return self.text.replace("{}", class_name, 1)
        return f"{self.text} {class_name}".strip()

    def ids(self, lm: CausalLM) -> tuple[int, ...]:
        return self.token_ids if self.token_ids is not None else tuple(lm.encode(self.text))


def class_prompt_texts(templates: Sequence[PromptTemplate], class_names: Sequence[str]) -> list[str]:
    """All rendered prompts, template-major: templates[0] x classes, templates[1] x classes, ..."""
    return [t.render(name) for t in templates for name in class_names]


def prompt_errors(doc_embeddings: np.ndarray, labels: np.ndarray, class_embeddings: np.ndarray) -> np.ndarray:
    """Number of mistakes of each prompt: class_embeddings (P, K, d) against documents (n, d), labels (n,).

    Prediction: argmax_k cos(doc, class prompt k); ties go to the lowest class index.
    """
    docs = unit_rows(np.asarray(doc_embeddings, dtype=np.float64), name="doc_embeddings")
    classes = unit_rows(np.asarray(class_embeddings, dtype=np.float64), name="class_embeddings")
    if classes.ndim == 2:
        classes = classes[None]
    labels = np.asarray(labels)
    if docs.ndim != 2 or classes.shape[-1] != docs.shape[1] or labels.shape != (docs.shape[0],):
        raise ValueError(
            f"shapes do not match: documents {docs.shape}, labels {labels.shape}, class prompts {classes.shape}"
        )
    scores = np.einsum("nd,pkd->pnk", docs, classes)
    predictions = np.argmax(scores, axis=2)
    return np.sum(predictions != labels[None, :], axis=1)


def _as_texts(X):
    """``X`` as a list of strings when it is a sequence (or 1-D array) of strings, else None."""
    if isinstance(X, str):
        raise ValueError(f"X must be a sequence of documents, got a single string {X!r}")
    if isinstance(X, (list, tuple)) and X and all(isinstance(x, str) for x in X):
        return list(X)
    if isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype.kind in "UO" and X.size and all(isinstance(x, str) for x in X):
        return [str(x) for x in X]
    return None


class ZeroShotClassifier(ClassifierMixin, Estimator):
    """Zero-shot prompt classifier h(x) = argmax_k cos(e(x), e(template with class k)).

    Akinwande et al., ICLR 2024 (arXiv 2310.03957), Section 3: a prompt is a hypothesis; the classifier
    compares a document's embedding with the embeddings of the K class prompts.

    Parameters
    ----------
    embedder : object with ``embed(X) -> (n, d) array``, optional
        Embeds the documents X and the class prompts.  None: the package's all-MiniLM-L6-v2 embedder
        (:class:`theory.pac_bayes.lm.SentenceEmbedder`, extra ``lm``).
    template : str or PromptTemplate, default "{}"
        The prompt; ``{}`` marks the class name, else the name follows the text.
    class_names : sequence of str, optional
        Names of the classes 0..K-1.  None: the labels seen in ``y`` at fit are the names (``str`` of each).

    Attributes
    ----------
    classes_ : array (K,)
        The labels predicted: ``arange(K)`` with ``class_names``, else the sorted labels of ``y``.
    class_names_ : list of str
        The names rendered into the template.
    template_ : PromptTemplate
    class_embeddings_ : array (K, d)
        Unit-norm embeddings of the K class prompts.
    n_features_in_ : int
        Number of columns of a numeric X seen at fit (absent when X is text).

    Notes
    -----
    The model learns nothing from the data: ``fit`` validates X and y, fixes the classes and embeds the
    class prompts.  X is either a sequence of strings or a 2-D numeric array; both go to ``embedder``.
    """

    _parameter_constraints = {
        "embedder": [HasMethods(["embed"]), None],
        "template": [str, PromptTemplate],
        "class_names": ["array-like", None],
    }

    def __init__(self, embedder=None, template="{}", class_names=None):
        self.embedder = embedder
        self.template = template
        self.class_names = class_names

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self.class_names is None
        tags.classifier_tags.poor_score = True  # zero-shot: the score does not improve with training data
        tags.input_tags.string = True
        tags.array_api_support = False
        return tags

    def _embedder(self):
        if self.embedder is not None:
            return self.embedder
        from theory.pac_bayes.lm import SentenceEmbedder

        return SentenceEmbedder()

    def _documents(self, X, *, reset: bool):
        texts = _as_texts(X)
        return texts if texts is not None else self._validate_X(X, reset=reset)

    def _classes(self, X, y):
        """(X, classes_, names) from the validated inputs and ``class_names``."""
        if self.class_names is not None:
            names = [str(name) for name in self.class_names]
            if len(names) < 2:
                raise ValueError(f"class_names must hold at least 2 names, got {len(names)}")
            classes = np.arange(len(names))
            if y is not None:
                X, y = self._documents_and_labels(X, y)
                if not np.all(np.isin(y, classes)):
                    raise ValueError(f"y must take values in 0..{len(names) - 1} (indices of class_names), got {np.unique(y)!r}")
            else:
                X = self._documents(X, reset=True)
            return X, classes, names
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None "
                             "(or give class_names)")
        X, y = self._documents_and_labels(X, y)
        classes = np.unique(y)
        if classes.size < 2:
            raise ValueError(f"y holds {classes.size} class; a zero-shot classifier needs at least 2 class names")
        return X, classes, [str(c) for c in classes]

    def _documents_and_labels(self, X, y):
        texts = _as_texts(X)
        if texts is None:
            X, y = self._validate_Xy(X, y, y_numeric=False)
        else:
            y = np.asarray(y)
            if y.ndim != 1 or y.shape[0] != len(texts):
                raise ValueError(f"y must be 1-D with {len(texts)} entries (one per document), got shape {y.shape}")
            X = texts
        check_classification_targets(y)
        return X, y

    def fit(self, X, y=None):
        """Validate X (and y), fix ``classes_`` and embed the class prompts; returns self."""
        self._validate_params()
        X, classes, names = self._classes(X, y)
        template = self.template if isinstance(self.template, PromptTemplate) else PromptTemplate(str(self.template))
        embeddings = np.asarray(self._embedder().embed(class_prompt_texts([template], names)), dtype=np.float64)
        self.template_ = template
        self.classes_ = classes
        self.class_names_ = names
        self.class_embeddings_ = unit_rows(embeddings, name="class prompt embeddings")
        return self

    def predict_embedded(self, doc_embeddings) -> np.ndarray:
        """Predicted labels from precomputed document embeddings (n, d)."""
        check_fitted(self)
        docs = unit_rows(np.asarray(doc_embeddings, dtype=np.float64), name="doc_embeddings")
        if docs.ndim != 2 or docs.shape[1] != self.class_embeddings_.shape[1]:
            raise ValueError(f"doc_embeddings must have shape (n, {self.class_embeddings_.shape[1]}), got {docs.shape}")
        return self.classes_[np.argmax(docs @ self.class_embeddings_.T, axis=1)]

    def predict(self, X) -> np.ndarray:
        """Predicted labels of the documents X (strings or a numeric array for the embedder)."""
        check_fitted(self)
        X = self._documents(X, reset=False)
        return self.predict_embedded(self._embedder().embed(X))


# --- reports and search ---------------------------------------------------------------------------


@dataclass
class PromptReport:
    """One prompt's numbers: errors on the selection (train) and held-out (test) sets, KL per prior,
    and every bound per prior (all computed on the train set)."""

    text: str
    token_ids: tuple[int, ...]
    n_train: int
    train_errors: int
    n_test: int
    test_errors: int
    kl: dict[str, float] = field(default_factory=dict)
    bounds: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def train_error(self) -> float:
        return self.train_errors / self.n_train

    @property
    def test_error(self) -> float:
        return self.test_errors / self.n_test if self.n_test else math.nan

    def as_dict(self) -> dict:
        return {
            "text": self.text,
            "token_ids": list(self.token_ids),
            "n_train": self.n_train,
            "train_error": self.train_error,
            "n_test": self.n_test,
            "test_error": self.test_error,
            "kl": dict(self.kl),
            "bounds": {k: dict(v) for k, v in self.bounds.items()},
        }


def _embed_classes(embedder: Embedder, templates: Sequence[PromptTemplate], class_names: Sequence[str]) -> np.ndarray:
    flat = np.asarray(embedder.embed(class_prompt_texts(templates, class_names)), dtype=np.float64)
    return flat.reshape(len(templates), len(class_names), -1)


def evaluate_prompts(
    templates: Sequence[PromptTemplate],
    *,
    lm: CausalLM,
    embedder: Embedder,
    class_names: Sequence[str],
    train_embeddings: np.ndarray,
    train_labels: np.ndarray,
    test_embeddings: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    priors: dict | None = None,
    delta: float = 0.05,
) -> list[PromptReport]:
    """Train/test errors, KL under each prior (name -> prior with ``kl(template)``) and every bound."""
    delta = check_in_open_interval(delta, "delta", 0.0, 1.0)
    templates = [t if t.token_ids is not None else PromptTemplate.from_text(t.text, lm) for t in templates]
    priors = priors if priors is not None else {"lm": LMPromptPrior(lm)}
    class_emb = _embed_classes(embedder, templates, class_names)
    n_train = int(np.asarray(train_labels).shape[0])
    train_err = prompt_errors(train_embeddings, train_labels, class_emb)
    if test_embeddings is not None:
        n_test = int(np.asarray(test_labels).shape[0])
        test_err = prompt_errors(test_embeddings, test_labels, class_emb)
    else:
        n_test, test_err = 0, np.zeros(len(templates), dtype=np.int64)
    kls = {name: np.asarray([prior.kl(t) for t in templates]) for name, prior in priors.items()}
    # an infinite KL (a prompt outside a prior's support) gives the bound 1
    bounds = {name: all_bounds(train_err.astype(np.float64), n_train, kl, delta) for name, kl in kls.items()}
    return [
        PromptReport(
            text=t.text,
            token_ids=tuple(t.token_ids),
            n_train=n_train,
            train_errors=int(train_err[i]),
            n_test=n_test,
            test_errors=int(test_err[i]),
            kl={name: float(kl[i]) for name, kl in kls.items()},
            bounds={name: {b: float(v[i]) for b, v in bs.items()} for name, bs in bounds.items()},
        )
        for i, t in enumerate(templates)
    ]


@dataclass
class GreedySearchResult:
    best: PromptTemplate  # lowest training error along the path (ties: the shorter prompt)
    path: list[PromptTemplate]  # the prompt after each step
    path_train_errors: list[int]
    candidates: list[PromptTemplate]  # every prompt evaluated, in order, without repeats


def greedy_prompt_search(
    lm: CausalLM,
    embedder: Embedder,
    class_names: Sequence[str],
    train_embeddings: np.ndarray,
    train_labels: np.ndarray,
    *,
    prefix: Sequence[int] = (),
    n_steps: int = 4,
    n_candidates: int = 16,
) -> GreedySearchResult:
    """Greedy token-by-token prompt search on the training (selection) set.

    At each step the ``n_candidates`` most probable next tokens under the LM (after BOS + prompt so far;
    special tokens and tokens containing braces excluded) are each appended; the one with the lowest
    training error wins (ties: the more probable token).  The prompt text is the decoded tokens with the
    class name appended.  Uses only training data, so any prompt on the path is covered by the Occam bound.
    """
    n_steps = check_positive_int(n_steps, "n_steps")
    n_candidates = check_positive_int(n_candidates, "n_candidates")
    excluded = {int(lm.eos_token_id), int(lm.bos_token_id)}
    current = [int(i) for i in prefix]
    path, path_errors, seen, candidates = [], [], set(), []
    for _ in range(n_steps):
        row = np.asarray(lm.log_prob_table(current)[len(current)])
        order = np.argsort(-row, kind="stable")
        chosen = []
        for token in order:
            token = int(token)
            if token in excluded:
                continue
            piece = lm.decode([token])
            if not piece.strip() or "{" in piece or "}" in piece:
                continue
            chosen.append(token)
            if len(chosen) == n_candidates:
                break
        templates = [PromptTemplate.from_tokens(current + [t], lm) for t in chosen]
        if hasattr(lm, "prefetch"):  # batch the forward passes the priors will ask for
            lm.prefetch([t.token_ids for t in templates])
        errors = prompt_errors(train_embeddings, train_labels, _embed_classes(embedder, templates, class_names))
        for t in templates:
            if t.token_ids not in seen:
                seen.add(t.token_ids)
                candidates.append(t)
        winner = int(np.argmin(errors))  # first minimum = most probable among the best
        current = current + [chosen[winner]]
        path.append(templates[winner])
        path_errors.append(int(errors[winner]))
    best_step = int(np.argmin(path_errors))
    return GreedySearchResult(best=path[best_step], path=path, path_train_errors=path_errors, candidates=candidates)


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b between two rankings (scipy.stats.kendalltau)."""
    from scipy.stats import kendalltau

    return float(kendalltau(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)).statistic)
