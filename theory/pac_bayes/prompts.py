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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from kernels.validation import check_in_open_interval, check_positive_int

from theory.pac_bayes import bounds as pac_bounds

__all__ = [
    "Embedder",
    "CausalLM",
    "PromptTemplate",
    "class_prompt_texts",
    "prompt_errors",
    "ZeroShotClassifier",
    "LMPromptPrior",
    "UniformTokenPrior",
    "UnigramPrior",
    "PromptReport",
    "evaluate_prompts",
    "GreedySearchResult",
    "greedy_prompt_search",
    "kendall_tau",
]

_EPS = float(np.finfo(np.float64).eps)


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


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("an embedding has zero norm: cosine similarity is undefined")
    return x / norms


def prompt_errors(doc_embeddings: np.ndarray, labels: np.ndarray, class_embeddings: np.ndarray) -> np.ndarray:
    """Number of mistakes of each prompt: class_embeddings (P, K, d) against documents (n, d), labels (n,).

    Prediction: argmax_k cos(doc, class prompt k); ties go to the lowest class index.
    """
    docs = _unit_rows(np.asarray(doc_embeddings, dtype=np.float64))
    classes = _unit_rows(np.asarray(class_embeddings, dtype=np.float64))
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


class ZeroShotClassifier:
    """h(x) = argmax_k cos(e(x), e(template with class k)); scikit-learn style (fit, predict, score).

    ``fit`` needs no labels: it validates and embeds the K class prompts (``class_embeddings_``).
    """

    def __init__(self, embedder: Embedder, template: PromptTemplate | str, class_names: Sequence[str]):
        self.embedder = embedder
        self.template = template
        self.class_names = class_names

    def get_params(self, deep=True):
        return {"embedder": self.embedder, "template": self.template, "class_names": self.class_names}

    def fit(self, X=None, y=None):
        names = list(self.class_names)
        if len(names) < 2:
            raise ValueError(f"class_names must hold at least 2 classes, got {len(names)}")
        template = self.template if isinstance(self.template, PromptTemplate) else PromptTemplate(str(self.template))
        self.template_ = template
        self.classes_ = np.arange(len(names))
        self.class_embeddings_ = _unit_rows(np.asarray(self.embedder.embed(class_prompt_texts([template], names))))
        return self

    def predict_embedded(self, doc_embeddings: np.ndarray) -> np.ndarray:
        docs = _unit_rows(np.asarray(doc_embeddings, dtype=np.float64))
        return np.argmax(docs @ self.class_embeddings_.T, axis=1)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        return self.predict_embedded(self.embedder.embed(list(X)))

    def score(self, X: Sequence[str], y) -> float:
        return float(np.mean(self.predict(X) == np.asarray(y)))


# --- priors over prompts --------------------------------------------------------------------------


def _kl_up(log_prob: float) -> float:
    """KL = -ln pi rounded up: the float sum of a few dozen terms is off by far less than 64 ulps."""
    if not math.isfinite(log_prob):
        return math.inf
    return max(0.0, -log_prob) * (1 + 64 * _EPS)


class LMPromptPrior:
    """ln pi(w) = sum_t ln P(w_t | BOS, w_<t) + end term; sums to <= 1 over all token sequences.

    ``end="eos"``: the end term is ln P(EOS | BOS, w) (sequences containing EOS get -inf).
    ``end="length"``: the end term is -ln(max_length) for 1 <= L <= max_length, -inf beyond.
    """

    def __init__(self, lm: CausalLM, end: str = "eos", max_length: int = 32):
        if end not in ("eos", "length"):
            raise ValueError(f"end must be 'eos' or 'length', got {end!r}")
        self.lm = lm
        self.end = end
        self.max_length = check_positive_int(max_length, "max_length")

    def log_prob(self, ids: Sequence[int]) -> float:
        ids = [int(i) for i in ids]
        if not ids:
            return -math.inf  # an empty prompt is outside the class (L >= 1)
        if self.end == "length" and len(ids) > self.max_length:
            return -math.inf
        if self.end == "eos" and self.lm.eos_token_id in ids:
            return -math.inf
        # rows 0..L-1 score the tokens; row L (one more forward pass) only for the EOS term
        table = self.lm.log_prob_table(ids if self.end == "eos" else ids[:-1])
        total = math.fsum(float(table[t, w]) for t, w in enumerate(ids))
        if self.end == "eos":
            return total + float(table[len(ids), self.lm.eos_token_id])
        return total - math.log(self.max_length)

    def kl(self, template: PromptTemplate) -> float:
        return _kl_up(self.log_prob(template.ids(self.lm)))


class UniformTokenPrior:
    """ln pi(w) = -ln(max_length) - L ln V: uniform length in 1..max_length, then uniform tokens."""

    def __init__(self, lm: CausalLM, max_length: int = 32):
        self.lm = lm
        self.max_length = check_positive_int(max_length, "max_length")

    def log_prob(self, ids: Sequence[int]) -> float:
        length = len(ids)
        if length == 0 or length > self.max_length:
            return -math.inf
        return -math.log(self.max_length) - length * math.log(self.lm.vocab_size)

    def kl(self, template: PromptTemplate) -> float:
        return _kl_up(self.log_prob(template.ids(self.lm)))


class UnigramPrior:
    """ln pi(w) = -ln(max_length) + sum_t ln u(w_t), u a token distribution (add-one smoothed counts)."""

    def __init__(self, lm: CausalLM, log_probs: np.ndarray, max_length: int = 32):
        self.lm = lm
        self.log_probs = np.asarray(log_probs, dtype=np.float64)
        self.max_length = check_positive_int(max_length, "max_length")
        if self.log_probs.shape != (lm.vocab_size,) or np.logaddexp.reduce(self.log_probs) > 1e-12:
            raise ValueError("log_probs must be a (vocab_size,) array of log-probabilities summing to <= 1")

    @classmethod
    def from_corpus(cls, lm: CausalLM, texts: Sequence[str], max_length: int = 32) -> "UnigramPrior":
        counts = np.ones(lm.vocab_size)
        for text in texts:
            np.add.at(counts, np.asarray(lm.encode(text), dtype=np.int64), 1.0)
        return cls(lm, np.log(counts) - np.log(counts.sum()), max_length)

    def log_prob(self, ids: Sequence[int]) -> float:
        if len(ids) == 0 or len(ids) > self.max_length:
            return -math.inf
        return -math.log(self.max_length) + math.fsum(float(self.log_probs[int(i)]) for i in ids)

    def kl(self, template: PromptTemplate) -> float:
        return _kl_up(self.log_prob(template.ids(self.lm)))


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
    bounds = {}
    for name, kl in kls.items():
        finite = np.isfinite(kl)
        kl_safe = np.where(finite, kl, 0.0)
        values = pac_bounds.all_bounds(train_err.astype(np.float64), n_train, kl_safe, delta)
        bounds[name] = {b: np.where(finite, v, 1.0) for b, v in values.items()}
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
