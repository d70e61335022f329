"""High-precision references shared by the claims and the tests.

Each reference computes in mpmath at a precision it sets locally (``mpmath.workdps``), never through the
global ``mp.dps``, and is written independently of the code it checks (a different formula or algorithm
where one exists).
"""

from __future__ import annotations

import mpmath as mp

__all__ = ["binary_kl"]


def binary_kl(q, p, *, dps: int = 50):
    """kl(q || p) = q ln(q/p) + (1-q) ln((1-q)/(1-p)) as an mpf at ``dps`` digits (0 ln 0 = 0; inf off the support).

    ``q`` and ``p`` are taken exactly (floats convert without rounding).
    """
    with mp.workdps(dps):
        q, p = mp.mpf(q), mp.mpf(p)
        if (p <= 0 and q > 0) or (p >= 1 and q < 1):
            return mp.inf
        first = 0 if q == 0 else q * (mp.log(q) - mp.log(p))
        second = 0 if q == 1 else (1 - q) * (mp.log1p(-q) - mp.log1p(-p))
        return +(first + second)
