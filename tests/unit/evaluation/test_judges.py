"""Judge quality measures against hand-computed cases."""

import math

import numpy as np
import pytest

from evaluation.judges import auc, calibrated_threshold, reliability_curve


def test_auc_counts_ties_as_half():
    # Pairs (pos, neg): (0.9, 0.5) 1, (0.9, 0.1) 1, (0.5, 0.5) 1/2, (0.5, 0.1) 1 -> 3.5 / 4.
    assert auc(np.array([0.9, 0.5]), np.array([0.5, 0.1])) == 0.875
    assert auc(np.array([0.3, 0.3]), np.array([0.3])) == 0.5
    assert auc(np.array([0.1]), np.array([0.2, 0.3])) == 0.0


def test_auc_matches_counting_pairs():
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 5, 30) / 4, rng.integers(0, 5, 20) / 4
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert auc(pos, neg) == pytest.approx(pairs / (30 * 20))


def test_auc_of_an_empty_side_is_nan():
    assert math.isnan(auc(np.array([]), np.array([0.5])))
    assert math.isnan(auc(np.array([0.5]), np.array([])))


def test_reliability_curve_by_hand():
    p = np.array([0.05, 0.15, 0.12, 0.95, 1.0])
    labels = np.array([False, True, False, True, True])
    curve = reliability_curve(p, labels, bins=10)
    # Bin 0: {0.05}; bin 1: {0.15, 0.12}, one positive; bin 9: {0.95, 1.0} (1.0 falls in the last bin).
    assert [(c["lo"], c["hi"], c["count"]) for c in curve] == [(0.0, 0.1, 1), (0.1, 0.2, 2), (0.9, 1.0, 2)]
    assert [c["mean_p"] for c in curve] == pytest.approx([0.05, 0.135, 0.975])
    assert [c["positive_rate"] for c in curve] == [0.0, 0.5, 1.0]


def test_calibrated_threshold_by_hand():
    p = np.array([0.95, 0.9, 0.8, 0.7, 0.6])
    labels = np.array([True, True, False, True, False])
    # Precision of {p >= t}: 0.95 -> 1/1, 0.9 -> 2/2, 0.8 -> 2/3, 0.7 -> 3/4, 0.6 -> 3/5.
    assert calibrated_threshold(p, labels, 0.75) == 0.7  # 0.8 misses the target, 0.7 reaches it
    assert calibrated_threshold(p, labels, 0.8) == 0.9
    assert calibrated_threshold(p, labels, 0.6) == 0.6


def test_calibrated_threshold_is_none_when_unreachable():
    # Top value is a negative (0/1), both together are 1/2: nothing reaches 0.6.
    assert calibrated_threshold(np.array([0.9, 0.5]), np.array([False, True]), 0.6) is None
    # No positives at all: even a zero target keeps no positive.
    assert calibrated_threshold(np.array([0.9, 0.5]), np.array([False, False]), 0.0) is None


def test_probabilities_outside_unit_interval_are_rejected():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        reliability_curve(np.array([1.2]), np.array([True]))
