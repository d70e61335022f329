"""Priors over prompts (token sequences), each summing to <= 1 over all sequences, so that Occam applies.

Paper: Victor Akinwande, Yiding Jiang, Dylan Sam, J. Zico Kolter, "Understanding prompt engineering
may not require rethinking generalization", ICLR 2024, arXiv 2310.03957 (Section 4: the prior is a
pretrained language model's probability of the prompt; the posterior is a point mass, so KL = ln 1/pi(w)).

* :class:`LMPromptPrior`: ln pi(w) = sum_t ln P_LM(w_t | BOS, w_<t) + an end term, either ln P_LM(EOS | BOS, w)
  (``end="eos"``) or a uniform length prior -ln L_max (``end="length"``: the prefix probabilities of all
  sequences of one length sum to 1);
* :class:`UniformTokenPrior`: ln pi(w) = -ln L_max - L ln V;
* :class:`UnigramPrior`: ln pi(w) = -ln L_max + sum_t ln u(w_t).

Every prior derives from :class:`PromptPrior`: it writes ``log_prob(ids)``; ``kl(template)`` (rounded up) and
the length rule are written once there.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from kernels.validation import check_positive_int

__all__ = ["PromptPrior", "LMPromptPrior", "UniformTokenPrior", "UnigramPrior"]

_EPS = float(np.finfo(np.float64).eps)


class PromptPrior:
    """Base of the priors over token sequences of length 1..``max_length`` of the language model ``lm``.

    Subclasses implement :meth:`_log_prob_in_support`; :meth:`log_prob` returns -inf outside the support
    (the empty prompt, or longer than ``max_length``) and :meth:`kl` the point-mass KL ln 1/pi, rounded up.
    """

    def __init__(self, lm, max_length: int = 32):
        self.lm = lm
        self.max_length = check_positive_int(max_length, "max_length")

    def _in_support(self, ids: Sequence[int]) -> bool:
        return 1 <= len(ids) <= self.max_length

    def _log_prob_in_support(self, ids: list[int]) -> float:
        raise NotImplementedError

    def log_prob(self, ids: Sequence[int]) -> float:
        """ln pi(w) of the token ids ``ids`` (-inf outside the support)."""
        ids = [int(i) for i in ids]
        if not self._in_support(ids):
            return -math.inf
        return self._log_prob_in_support(ids)

    def kl(self, template) -> float:
        """KL = -ln pi of a :class:`~theory.pac_bayes.prompts.PromptTemplate`, rounded up (inf off the support).

        The float sum of a few dozen log-probabilities is off by far less than the 64 ulps added.
        """
        log_prob = self.log_prob(template.ids(self.lm))
        if not math.isfinite(log_prob):
            return math.inf
        return max(0.0, -log_prob) * (1 + 64 * _EPS)


class LMPromptPrior(PromptPrior):
    """ln pi(w) = sum_t ln P(w_t | BOS, w_<t) + end term; sums to <= 1 over all token sequences.

    ``end="eos"``: the end term is ln P(EOS | BOS, w) (sequences containing EOS get -inf).
    ``end="length"``: the end term is -ln(max_length).
    Either way sequences longer than ``max_length`` get -inf.
    """

    def __init__(self, lm, end: str = "eos", max_length: int = 32):
        if end not in ("eos", "length"):
            raise ValueError(f"end must be 'eos' or 'length', got {end!r}")
        super().__init__(lm, max_length)
        self.end = end

    def _in_support(self, ids) -> bool:
        return super()._in_support(ids) and not (self.end == "eos" and self.lm.eos_token_id in ids)

    def _log_prob_in_support(self, ids):
        # rows 0..L-1 score the tokens; row L (one more forward pass) only for the EOS term
        table = self.lm.log_prob_table(ids if self.end == "eos" else ids[:-1])
        total = math.fsum(float(table[t, w]) for t, w in enumerate(ids))
        if self.end == "eos":
            return total + float(table[len(ids), self.lm.eos_token_id])
        return total - math.log(self.max_length)


class UniformTokenPrior(PromptPrior):
    """ln pi(w) = -ln(max_length) - L ln V: uniform length in 1..max_length, then uniform tokens."""

    def _log_prob_in_support(self, ids):
        return -math.log(self.max_length) - len(ids) * math.log(self.lm.vocab_size)


class UnigramPrior(PromptPrior):
    """ln pi(w) = -ln(max_length) + sum_t ln u(w_t), u a token distribution (add-one smoothed counts)."""

    def __init__(self, lm, log_probs, max_length: int = 32):
        super().__init__(lm, max_length)
        self.log_probs = np.asarray(log_probs, dtype=np.float64)
        if self.log_probs.shape != (lm.vocab_size,) or np.logaddexp.reduce(self.log_probs) > 1e-12:
            raise ValueError("log_probs must be a (vocab_size,) array of log-probabilities summing to <= 1")

    @classmethod
    def from_corpus(cls, lm, texts: Sequence[str], max_length: int = 32) -> "UnigramPrior":
        """Add-one smoothed token frequencies of ``texts`` under ``lm``'s tokenizer."""
        counts = np.ones(lm.vocab_size)
        for text in texts:
            np.add.at(counts, np.asarray(lm.encode(text), dtype=np.int64), 1.0)
        return cls(lm, np.log(counts) - np.log(counts.sum()), max_length)

    def _log_prob_in_support(self, ids):
        return -math.log(self.max_length) + math.fsum(float(self.log_probs[i]) for i in ids)
