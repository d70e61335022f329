"""theory.pac_bayes.prompts with a fake language model and embedder; the real offline pipeline under the lm marker."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

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


def test_lm_prior_with_length_term_sums_to_one_and_eos_prior_below_one():
    lm = FakeLM()
    vocab = range(lm.vocab_size)
    length_prior = pr.LMPromptPrior(lm, end="length", max_length=3)
    total = math.fsum(math.exp(length_prior.log_prob(seq)) for L in (1, 2, 3) for seq in itertools.product(vocab, repeat=L))
    assert abs(total - 1.0) < 1e-12
    assert length_prior.log_prob([2, 3, 4, 5]) == -math.inf
    eos_prior = pr.LMPromptPrior(lm, end="eos")
    partial = [
        math.fsum(math.exp(eos_prior.log_prob(seq)) for L in range(1, top + 1) for seq in itertools.product(vocab, repeat=L))
        for top in (1, 2, 3)
    ]
    assert partial[0] < partial[1] < partial[2] <= 1.0
    # the mass of prompts of length <= 3 is P(EOS at positions 2..4) exactly
    p_eos_first = math.exp(lm.table[lm.bos_token_id, 0])
    assert partial[2] < 1.0 - p_eos_first + 1e-12


def test_uniform_and_unigram_priors_sum_to_one():
    lm = FakeLM(words=WORDS[:5])
    uniform = pr.UniformTokenPrior(lm, max_length=3)
    total = math.fsum(math.exp(uniform.log_prob(s)) for L in (1, 2, 3) for s in itertools.product(range(5), repeat=L))
    assert abs(total - 1.0) < 1e-12
    assert uniform.kl(pr.PromptTemplate("a b", (2, 3))) >= math.log(3) + 2 * math.log(5)
    unigram = pr.UnigramPrior.from_corpus(lm, ["news about the", "news news"], max_length=2)
    total = math.fsum(math.exp(unigram.log_prob(s)) for L in (1, 2) for s in itertools.product(range(5), repeat=L))
    assert abs(total - 1.0) < 1e-12


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
        clf = pr.ZeroShotClassifier(emb, template, CLASSES).fit()
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
    priors = {"lm": pr.LMPromptPrior(lm, end="length", max_length=8), "uniform": pr.UniformTokenPrior(lm, max_length=8)}
    reports = pr.evaluate_prompts(
        templates, lm=lm, embedder=emb, class_names=CLASSES, train_embeddings=doc_emb[:300], train_labels=labels[:300],
        test_embeddings=doc_emb[300:], test_labels=labels[300:], priors=priors, delta=0.05,
    )
    for rep, template in zip(reports, templates):
        assert rep.kl["lm"] >= -priors["lm"].log_prob(template.token_ids)
        assert rep.kl["lm"] == pytest.approx(-priors["lm"].log_prob(template.token_ids), rel=1e-13)
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


# --- the real offline pipeline (extra lm) ---------------------------------------------------------


@pytest.mark.lm
@pytest.mark.slow
def test_real_lm_prior_matches_reference_measurement(tmp_path_factory):
    from theory.pac_bayes.lm import SmolLM

    lm = SmolLM()
    prior = pr.LMPromptPrior(lm, end="length", max_length=16)
    ids = lm.encode("a news article about sports")
    # reference sheet: ln P("a news article about sports" | BOS) = -34.8 nats
    assert -prior.log_prob(ids) - math.log(16) == pytest.approx(34.8, abs=0.3)
    nonsense = lm.encode("zxq flarb orp quux vint")
    assert prior.log_prob(nonsense) < prior.log_prob(ids) - 20
    assert pr.UniformTokenPrior(lm, 16).kl(pr.PromptTemplate("x", tuple(ids))) > prior.kl(pr.PromptTemplate("x", tuple(ids)))


@pytest.mark.lm
@pytest.mark.slow
def test_real_zero_shot_pipeline_on_a_small_subset():
    from theory.pac_bayes.lm import AG_NEWS_CLASS_NAMES, SentenceEmbedder, load_ag_news, split_selection_heldout

    texts, labels = load_ag_news()
    assert len(texts) == 7600 and np.array_equal(np.bincount(labels), [1900] * 4)
    selection, heldout = split_selection_heldout(len(texts), 0.7, seed=0)
    assert len(np.intersect1d(selection, heldout)) == 0 and len(selection) + len(heldout) == 7600
    idx = selection[:300]
    emb = SentenceEmbedder()
    doc_emb = emb.embed([texts[i] for i in idx])
    assert np.allclose(emb.embed([texts[i] for i in idx[:5]]), doc_emb[:5])  # served from the cache
    clf = pr.ZeroShotClassifier(emb, "This article is about {} news.", AG_NEWS_CLASS_NAMES).fit()
    accuracy = float(np.mean(clf.predict_embedded(doc_emb) == labels[idx]))
    assert accuracy > 0.6  # reference sheet: 74.0% on the first 2,000 rows
