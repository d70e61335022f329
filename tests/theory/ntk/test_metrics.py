"""Tests for theory/ntk/metrics.py: accuracy and agreement."""

from __future__ import annotations

import numpy as np
import pytest

from theory.ntk.metrics import accuracy, agreement


def test_agreement_and_accuracy():
    a, b = np.array([1.0, -1.0, 1.0, 1.0]), np.array([1.0, 1.0, 1.0, -1.0])
    assert agreement(a, b) == accuracy(a, b) == 0.5


def test_metrics_refuse_mismatched_or_empty():
    with pytest.raises(ValueError, match="y_pred and y_true"):
        accuracy(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="must not be empty"):
        agreement(np.ones(0), np.ones(0))
