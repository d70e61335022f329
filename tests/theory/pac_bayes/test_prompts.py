"""theory.pac_bayes.prompts with a fake language model and embedder; ZeroShotClassifier under scikit-learn's checks."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from theory.pac_bayes import priors as pp
from theory.pac_bayes import prompts as pr

WORDS = ["<eos>", "<bos>", "news", "about", "the", "a", "story", "world", "sports", "business", "science"]
CLASSES = ["world", "sports", "business", "science"]


class FakeLM:
    """Bigram model over WORDS: ln P(next | last token) from a fixed random logit table."""

    def __init__(self, words=WORDS, seed=0):
        self.words = list(words)
        self.vocab_size = len(self.words)
        self.eos_token_id, self.bos_token_id = 0, 1
        logits = np.random.default_rng(seed).normal(size=(self.vocab_size, self.vocab_size)) * 2
        self.table = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        self.calls = 0

    def encode(self, text):
        return [self.words.index(w) for w in text.split()]

    def decode(self, ids):
        return " ".join(self.words[i] for i in ids)

    def log_prob_table(self, ids):
        self.calls += 1
        context = [self.bos_token_id, *ids]
        return np.stack([self.table[context[t]] for t in range(len(ids) + 1)])


class FakeEmbedder:
    """Sum of fixed random word vectors (unknown words get their own)."""

    def __init__(self, dim=24, seed=1):
        self.rng = np.random.default_rng(seed)
        self.dim = dim
        self.vectors = {}

    def vector(self, word):
        if word not in self.vectors:
            self.vectors[word] = self.rng.normal(size=self.dim)
        return self.vectors[word]

    def embed(self, texts):
        return np.stack([sum(self.vector(w) for w in t.split()) for t in texts])


def synthetic_documents(n, seed=2):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=n)
    filler = ["lorem", "ipsum", "dolor", "sit", "amet", "news", "the"]
    docs = []
    for y in labels:
        words = list(rng.choice(filler, size=4)) + [CLASSES[y]] * 2
        if rng.random() < 0.25:  # label noise through a distracting class word
            words.append(CLASSES[rng.integers(0, 4)])
            words.append(CLASSES[rng.integers(0, 4)])
        docs.append(" ".join(rng.permutation(words)))
    return docs, labels


def test_prompt_errors_match_a_loop_and_the_classifier():
    emb = FakeEmbedder()
    docs, labels = synthetic_documents(200)
    doc_emb = emb.embed(docs)
    templates = [pr.PromptTemplate("{}"), pr.PromptTemplate("news about {}"), pr.PromptTemplate("the story")]
    class_emb = np.stack([emb.embed([t.render(c) for c in CLASSES]) for t in templates])
    errors = pr.prompt_errors(doc_emb, labels, class_emb)
    for p, template in enumerate(templates):
        cos = np.array([[d @ c / np.linalg.norm(d) / np.linalg.norm(c) for c in class_emb[p]] for d in doc_emb])
        assert errors[p] == np.sum(np.argmax(cos, axis=1) != labels)
        clf = pr.ZeroShotClassifier(emb, template, CLASSES).fit(docs)
        assert clf.score(docs, labels) == pytest.approx(1 - errors[p] / len(docs))
    assert templates[2].render("sports") == "the story sports"
    assert pr.PromptTemplate("This is {} news.").render("world") == "This is world news."
    assert errors[0] < 0.5 * len(docs)  # the class names carry the signal


def test_greedy_search_takes_lm_candidates_and_minimises_training_error():
    lm, emb = FakeLM(), FakeEmbedder()
    docs, labels = synthetic_documents(300)
    doc_emb = emb.embed(docs)
    result = pr.greedy_prompt_search(lm, emb, CLASSES, doc_emb, labels, n_steps=3, n_candidates=4)
    row = lm.table[lm.bos_token_id].copy()
    row[[lm.eos_token_id, lm.bos_token_id]] = -np.inf
    expected_first = set(np.argsort(-row)[:4].tolist())
    first = [t for t in result.candidates if len(t.token_ids) == 1]
    assert {t.token_ids[0] for t in first} == expected_first
    first_errors = pr.prompt_errors(doc_emb, labels, np.stack([emb.embed([t.render(c) for c in CLASSES]) for t in first]))
    assert result.path_train_errors[0] == first_errors.min()
    assert result.path[1].token_ids[:1] == result.path[0].token_ids
    assert min(result.path_train_errors) == pr.prompt_errors(
        doc_emb, labels, emb.embed([result.best.render(c) for c in CLASSES])
    )[0]
    assert len(result.candidates) <= 3 * 4


def test_evaluate_prompts_reports_kl_and_bounds():
    lm, emb = FakeLM(), FakeEmbedder()
    docs, labels = synthetic_documents(400)
    doc_emb = emb.embed(docs)
    templates = [pr.PromptTemplate.from_text(t, lm) for t in ["news about", "the story", "a"]]
    priors = {"lm": pp.LMPromptPrior(lm, end="length", max_length=8), "uniform": pp.UniformTokenPrior(lm, max_length=8)}
    reports = pr.evaluate_prompts(
        templates, lm=lm, embedder=emb, class_names=CLASSES, train_embeddings=doc_emb[:300], train_labels=labels[:300],
        test_embeddings=doc_emb[300:], test_labels=labels[300:], priors=priors, delta=0.05,
    )
    for rep, template in zip(reports, templates):
        assert rep.kl["lm"] >= -priors["lm"].log_prob(template.token_ids)
        assert rep.kl["lm"] == pytest.approx(-priors["lm"].log_prob(template.token_ids), rel=1e-13, abs=0)
        for prior_bounds in rep.bounds.values():
            assert all(rep.train_error <= v <= 1.0 for v in prior_bounds.values())
            assert prior_bounds["occam_binomial"] <= prior_bounds["occam_kl"] + 1e-12
        assert rep.n_train == 300 and rep.n_test == 100
        d = rep.as_dict()
        assert set(d) >= {"text", "train_error", "test_error", "kl", "bounds"}
    assert pr.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="delta"):
        pr.evaluate_prompts(templates, lm=lm, embedder=emb, class_names=CLASSES, train_embeddings=doc_emb,
                            train_labels=labels, delta=1.5)


# --- ZeroShotClassifier under scikit-learn's estimator checks -----------------------------------------


class HashEmbedder:
    """Deterministic, stateless embedder for the estimator checks: texts to hashed Gaussian vectors; numeric
    rows x to sum_j x_j v_j + v_0 with fixed Gaussian v_j (any number of features)."""

    dim = 8

    def embed(self, X):
        if isinstance(X, (list, tuple)) and all(isinstance(t, str) for t in X):
            return np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim) for t in X])
        X = np.asarray(X, dtype=np.float64)
        basis = np.random.default_rng(0).normal(size=(X.shape[1] + 1, self.dim))
        return X @ basis[1:] + basis[0]


# With fixed class_names the classes are 0..K-1 whatever y holds, and y (if given) must hold such indices; the
# instance without class_names (names taken from y) passes every check.
CHECK_EXCEPTIONS = {
    "check_classifiers_classes": "classes are the indices of class_names: the check's string labels are refused as y",
    "check_dtype_object": "the check's 4 labels are not indices of the 3 class_names (refused with a clear error)",
    "check_classifiers_one_label": "classes come from class_names, not y: a one-label y does not make predictions constant",
}


@parametrize_with_checks([pr.ZeroShotClassifier(HashEmbedder()), pr.ZeroShotClassifier(HashEmbedder(), "a {} story", ["x", "y", "z"])],
                         expected_failed_checks=lambda est: CHECK_EXCEPTIONS if est.class_names is not None else {})
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_zero_shot_estimator_api():
    emb = HashEmbedder()
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.array(["b", "a"] * 10)
    clf = pr.ZeroShotClassifier(emb).fit(X, y)
    assert list(clf.classes_) == ["a", "b"] and clf.class_names_ == ["a", "b"]
    assert set(clf.predict(X)) <= {"a", "b"}
    clf.set_params(template="news about {}")
    assert clf.get_params()["template"] == "news about {}"
    with pytest.raises(ValueError, match="Invalid parameter 'bogus'"):
        clf.set_params(bogus=1)
    with pytest.raises(NotFittedError):
        pr.ZeroShotClassifier(emb).predict(X)
    with pytest.raises(ValueError, match="requires y"):
        pr.ZeroShotClassifier(emb).fit(X)
    with pytest.raises(ValueError, match="Unknown label type"):
        pr.ZeroShotClassifier(emb).fit(X, X[:, 0])  # a continuous target
    with pytest.raises(ValueError, match="y must take values in 0..2"):
        pr.ZeroShotClassifier(emb, class_names=["x", "y", "z"]).fit(X, np.arange(20))
    with pytest.raises(ValueError, match="class_names must hold at least 2"):
        pr.ZeroShotClassifier(emb, class_names=["x"]).fit(X)
    with pytest.raises(ValueError, match="single string"):
        pr.ZeroShotClassifier(emb, class_names=["x", "y"]).fit("one document")
    with pytest.raises(ValueError, match="'embedder' parameter"):
        pr.ZeroShotClassifier(embedder=object()).fit(X, y)
    with pytest.raises(ValueError, match="zero norm"):
        pr.ZeroShotClassifier(emb, class_names=["x", "y"]).fit(X).predict_embedded(np.zeros((2, HashEmbedder.dim)))
    # text documents go to the embedder as they are
    docs = ["a b", "c d"]
    texts_clf = pr.ZeroShotClassifier(emb, class_names=["x", "y"]).fit(docs)
    np.testing.assert_array_equal(texts_clf.predict(docs), texts_clf.predict_embedded(emb.embed(docs)))
    assert not hasattr(texts_clf, "n_features_in_")
