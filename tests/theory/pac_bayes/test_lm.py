"""The real offline models of theory.pac_bayes.lm and the AG News data of theory.pac_bayes.ag_news (extra lm)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory.pac_bayes import priors as pp
from theory.pac_bayes import prompts as pr


@pytest.mark.lm
@pytest.mark.slow
def test_real_lm_prior_matches_reference_measurement(tmp_path_factory):
    from theory.pac_bayes.lm import SmolLM

    lm = SmolLM()
    prior = pp.LMPromptPrior(lm, end="length", max_length=16)
    ids = lm.encode("a news article about sports")
    # reference sheet: ln P("a news article about sports" | BOS) = -34.8 nats
    assert -prior.log_prob(ids) - math.log(16) == pytest.approx(34.8, abs=0.3)
    nonsense = lm.encode("zxq flarb orp quux vint")
    assert prior.log_prob(nonsense) < prior.log_prob(ids) - 20
    assert pp.UniformTokenPrior(lm, 16).kl(pr.PromptTemplate("x", tuple(ids))) > prior.kl(pr.PromptTemplate("x", tuple(ids)))


@pytest.mark.lm
@pytest.mark.slow
def test_real_zero_shot_pipeline_on_a_small_subset():
    from theory.pac_bayes.ag_news import AG_NEWS_CLASS_NAMES, load_ag_news, split_selection_heldout
    from theory.pac_bayes.lm import SentenceEmbedder

    texts, labels = load_ag_news()
    assert len(texts) == 7600 and np.array_equal(np.bincount(labels), [1900] * 4)
    selection, heldout = split_selection_heldout(len(texts), 0.7, rng=0)
    assert len(np.intersect1d(selection, heldout)) == 0 and len(selection) + len(heldout) == 7600
    idx = selection[:300]
    emb = SentenceEmbedder()
    doc_emb = emb.embed([texts[i] for i in idx])
    assert np.allclose(emb.embed([texts[i] for i in idx[:5]]), doc_emb[:5])  # served from the cache
    clf = pr.ZeroShotClassifier(emb, "This article is about {} news.", AG_NEWS_CLASS_NAMES).fit([texts[i] for i in idx])
    accuracy = float(np.mean(clf.predict_embedded(doc_emb) == labels[idx]))
    assert accuracy > 0.6  # reference sheet: 74.0% on the first 2,000 rows
