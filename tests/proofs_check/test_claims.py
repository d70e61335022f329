"""Every registered claim, at quick scale: this is the ``pytest`` verification of the papers' bounds."""

import pytest

from proofs_check.registry import registry

CLAIMS = registry()


def _param(c):
    marks = []
    if c.requires:
        marks.append(pytest.mark.lm if "torch" in c.requires else pytest.mark.slow)
    return pytest.param(c, id=c.id, marks=marks)


@pytest.mark.parametrize("claim", [_param(c) for c in CLAIMS.values()])
def test_claim_at_quick_scale(claim):
    missing = claim.missing_requirements()
    if missing:
        pytest.skip(f"needs {missing}")
    outcome = claim.run(full=False)
    if claim.known_failure:
        assert not outcome.passed, f"{claim.id} now passes; remove known_failure ({outcome.summary})"
        pytest.xfail(f"{claim.known_failure}: {outcome.summary}")
    assert outcome.passed, f"{claim.id}: stated {claim.stated}; measured {outcome.summary}"
