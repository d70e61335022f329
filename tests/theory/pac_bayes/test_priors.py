"""theory.pac_bayes.priors: every prior sums to <= 1 over all token sequences (exact enumeration, fake LM)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from theory.pac_bayes import priors as pp
from theory.pac_bayes.prompts import PromptTemplate
from tests.theory.pac_bayes.test_prompts import WORDS, FakeLM


def test_lm_prior_with_length_term_sums_to_one_and_eos_prior_below_one():
    lm = FakeLM()
    vocab = range(lm.vocab_size)
    length_prior = pp.LMPromptPrior(lm, end="length", max_length=3)
    total = math.fsum(math.exp(length_prior.log_prob(seq)) for L in (1, 2, 3) for seq in itertools.product(vocab, repeat=L))
    assert abs(total - 1.0) < 1e-12
    assert length_prior.log_prob([2, 3, 4, 5]) == -math.inf
    eos_prior = pp.LMPromptPrior(lm, end="eos")
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
    uniform = pp.UniformTokenPrior(lm, max_length=3)
    total = math.fsum(math.exp(uniform.log_prob(s)) for L in (1, 2, 3) for s in itertools.product(range(5), repeat=L))
    assert abs(total - 1.0) < 1e-12
    assert uniform.kl(PromptTemplate("a b", (2, 3))) >= math.log(3) + 2 * math.log(5)
    unigram = pp.UnigramPrior.from_corpus(lm, ["news about the", "news news"], max_length=2)
    total = math.fsum(math.exp(unigram.log_prob(s)) for L in (1, 2) for s in itertools.product(range(5), repeat=L))
    assert abs(total - 1.0) < 1e-12




def test_one_base_class_and_its_rules():
    lm = FakeLM()
    priors = [pp.LMPromptPrior(lm, end="length", max_length=3), pp.LMPromptPrior(lm, end="eos", max_length=3),
              pp.UniformTokenPrior(lm, max_length=3), pp.UnigramPrior.from_corpus(lm, ["news about"], max_length=3)]
    for prior in priors:
        assert isinstance(prior, pp.PromptPrior)
        assert prior.log_prob([]) == -math.inf  # the empty prompt is outside every class
        assert prior.log_prob([2, 3, 4, 5]) == -math.inf  # longer than max_length
        assert prior.kl(PromptTemplate("x", (2, 3, 4, 5))) == math.inf
        lp = prior.log_prob([2, 3])
        kl = prior.kl(PromptTemplate("x", (2, 3)))
        assert kl >= -lp and kl == pytest.approx(-lp, rel=1e-13, abs=0)
    assert priors[1].log_prob([2, lm.eos_token_id]) == -math.inf  # EOS inside the prompt
    # closed form of the uniform prior: -ln 3 - 2 ln V
    assert priors[2].log_prob([2, 3]) == pytest.approx(-math.log(3) - 2 * math.log(lm.vocab_size), rel=1e-15, abs=0)
    # the LM prior with the length term: ln P(w1 | BOS) + ln P(w2 | w1) - ln 3
    expected = lm.table[lm.bos_token_id, 2] + lm.table[2, 3] - math.log(3)
    assert priors[0].log_prob([2, 3]) == pytest.approx(expected, rel=1e-14, abs=0)


def test_bad_prior_arguments():
    lm = FakeLM()
    with pytest.raises(ValueError, match="end must be"):
        pp.LMPromptPrior(lm, end="none")
    with pytest.raises(ValueError, match="max_length"):
        pp.UniformTokenPrior(lm, max_length=0)
    with pytest.raises(ValueError, match="log_probs"):
        pp.UnigramPrior(lm, np.zeros(lm.vocab_size))
