"""Judge quality: how well an LLM judge's scores separate real positives from negatives, how well
its P(yes) is calibrated, and which keep threshold reaches a target precision."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def auc(positive_scores: np.ndarray, negative_scores: np.ndarray) -> float:
    """The Mann-Whitney AUC: the share of (positive, negative) pairs in which the positive scores
    higher, a tie counting 1/2; NaN when either side is empty."""
    positive, negative = _finite(positive_scores), _finite(negative_scores)
    if not len(positive) or not len(negative):
        return float("nan")
    ranks = rankdata(np.concatenate([positive, negative]))  # ties share their average rank
    n_pos = len(positive)
    wins = ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(wins / (n_pos * len(negative)))


def reliability_curve(p: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per non-empty bin of `bins` equal-width bins over [0, 1] (the last one closed): its bounds
    "lo" and "hi", "count", the bin's "mean_p" and the share of positive labels, "positive_rate"."""
    p, labels = _judged(p, labels)
    if bins < 1:
        raise ValueError("bins must be at least 1")
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    p_sums = np.bincount(which, weights=p, minlength=bins)
    positives = np.bincount(which, weights=labels, minlength=bins)
    return [
        {
            "lo": b / bins,
            "hi": (b + 1) / bins,
            "count": int(counts[b]),
            "mean_p": float(p_sums[b] / counts[b]),
            "positive_rate": float(positives[b] / counts[b]),
        }
        for b in np.flatnonzero(counts).tolist()
    ]


def calibrated_threshold(p: np.ndarray, labels: np.ndarray, precision_target: float) -> float | None:
    """The smallest observed P(yes) t whose keep set {p >= t} has precision >= precision_target and
    keeps at least one positive; None when no observed value reaches the target.

    Precision is measured on the judged sample, so it holds for that sample's class balance: if
    positives are rarer among the pairs the threshold is applied to, precision there is lower.
    """
    p, labels = _judged(p, labels)
    thresholds, group = np.unique(p, return_inverse=True)
    # Keep-set sizes at each threshold: counts of values at or above it (reverse cumulative sums).
    kept = np.cumsum(np.bincount(group, minlength=len(thresholds))[::-1])[::-1]
    kept_positive = np.cumsum(np.bincount(group, weights=labels, minlength=len(thresholds))[::-1])[::-1]
    reached = (kept_positive >= 1) & (kept_positive / kept >= precision_target)
    return float(thresholds[reached][0]) if reached.any() else None


def _finite(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite")
    return scores


def _judged(p: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities in [0, 1] and their boolean labels, as float arrays of the same length."""
    p = _finite(p)
    labels = np.asarray(labels, dtype=bool).ravel()
    if p.shape != labels.shape:
        raise ValueError(f"p and labels must have one entry each: {p.shape} vs {labels.shape}")
    if len(p) and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("p must lie in [0, 1]")
    return p, labels.astype(np.float64)
