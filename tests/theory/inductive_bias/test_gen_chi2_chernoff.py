"""The saddle point's Chernoff branch (K'' underflows at the saddle point) against its closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory.inductive_bias.gen_chi2 import GeneralizedChi2


@pytest.mark.parametrize("weights, dofs, x", [([1.0, 2.0], None, 1e-200), ([0.5, 1.5, 3.0], [1, 2, 3], 1e-180)])
def test_chernoff_branch_matches_closed_form(weights, dofs, x):
    # For x -> 0 the saddle point is s = -k/(2x) to O(1), so K(s) - s x = (k/2) log x - sum_j (k_j/2) log w_j
    # - (k/2) log k + k/2 + O(x / w_min).  The exact asymptote is log P = (k/2) log x - sum_j (k_j/2) log(2 w_j)
    # - lgamma(k/2 + 1); the Chernoff value exceeds it by (k/2)(1 - log(k/2)) + lgamma(k/2 + 1).
    g = GeneralizedChi2(weights, dofs=dofs)
    w, kj = np.asarray(weights, dtype=np.float64), np.asarray(dofs if dofs else [1.0] * len(weights), dtype=np.float64)
    k = float(np.sum(kj))
    exact = 0.5 * k * math.log(x) - float(np.sum(0.5 * kj * np.log(2.0 * w))) - math.lgamma(0.5 * k + 1.0)
    chernoff = 0.5 * k * math.log(x) - float(np.sum(0.5 * kj * np.log(w))) - 0.5 * k * math.log(k) + 0.5 * k
    assert chernoff - exact == pytest.approx(0.5 * k * (1.0 - math.log(0.5 * k)) + math.lgamma(0.5 * k + 1.0), rel=1e-12, abs=0)
    value = g.saddlepoint_logcdf(x)
    assert value == pytest.approx(chernoff, rel=1e-13, abs=0)
    assert value >= exact  # a Chernoff value bounds the probability from above
