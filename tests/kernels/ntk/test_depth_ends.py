"""Depth tables at the exact ends xi = 1 and, for odd duals, at xi = 0: values fixed in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from kernels.ntk.depth import tabulate_depth


@pytest.mark.parametrize("name, depth", [("relu", 5), ("erf", 7), ("hermite_2", 6), ("relu", 200)])
def test_log_at_xi_one_is_exactly_zero(name, depth):
    # Sigma^L(1) = 1 and K^L(1) / K^L(1) = 1 for every dual and depth: logs 0, signs +1, exactly.
    table = tabulate_depth(name, depth, grid_size=64, refine=False)
    log_s, sign_s, log_n, sign_n = table.log(np.array([1.0]))
    assert log_s.tolist() == [0.0] and sign_s.tolist() == [1.0]
    assert log_n.tolist() == [0.0] and sign_n.tolist() == [1.0]
    sigma, ntk = table(np.array([1.0]), normalized=True)
    assert sigma.tolist() == [1.0] and ntk.tolist() == [1.0]


@pytest.mark.parametrize("depth", [1, 4])
def test_odd_dual_at_xi_zero_has_sign_zero(depth):
    # An odd dual keeps xi = 0: Sigma^L(0) = 0 and K^L(0) = phĭ'(0) K^(L-1)(0) = 0, so both signs are 0.
    table = tabulate_depth("erf", depth, grid_size=64, refine=False)
    _, sign_s, _, sign_n = table.log(np.array([0.0, -0.0]))
    assert sign_s.tolist() == [0.0, 0.0] and sign_n.tolist() == [0.0, 0.0]
    sigma, ntk = table(np.array([0.0]), normalized=True)
    assert sigma.tolist() == [0.0] and ntk.tolist() == [0.0]
