"""Uncertainty of per-user metric means: percentile bootstrap over users, paired across arms.

Users are the unit of resampling: the per-user values of one arm are one number per user (with
several training seeds, the caller averages each user's values over seeds first), and the paired
bootstrap draws the same users for baseline and augmented, so the interval of their difference
reflects only the difference, not the spread between users that both arms share.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

_DRAW_CHUNK = 1 << 21
"""Resampled indices drawn at once (16 MiB of int64): bounds memory for any n_boot x users."""


@dataclass(frozen=True)
class Estimates:
    """Baseline against augmented: the means, the relative lift (augmented / baseline - 1) and the
    difference (augmented - baseline), each with its bootstrap percentile interval [lo, hi]."""

    baseline: float
    baseline_lo: float
    baseline_hi: float
    augmented: float
    augmented_lo: float
    augmented_hi: float
    lift: float
    lift_lo: float
    lift_hi: float
    delta: float
    delta_lo: float
    delta_hi: float


@dataclass(frozen=True)
class Comparison(Estimates):
    """The estimates of one paired bootstrap; `users` is how many users were resampled."""

    users: int


def paired_bootstrap(
    baseline: np.ndarray, augmented: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> Comparison:
    """Compares two arms whose i-th entries are the same user's value.

    A resample whose baseline mean is 0 has no relative lift (NaN) and is left out of the lift
    interval; when the baseline mean itself is 0 the lift is NaN. Deterministic for a given seed
    and number of users.
    """
    baseline, augmented = _values(baseline), _values(augmented)
    if baseline.shape != augmented.shape:
        raise ValueError(f"paired arms need the same users: {baseline.shape} vs {augmented.shape}")
    base_means, aug_means = _resampled_means((baseline, augmented), n_boot, seed)
    base, aug = _mean(baseline), _mean(augmented)
    return Comparison(
        base,
        *_interval(base_means, level),
        aug,
        *_interval(aug_means, level),
        float(_lift(np.float64(aug), np.float64(base))),
        *_interval(_lift(aug_means, base_means), level),
        aug - base,
        *_interval(aug_means - base_means, level),
        users=len(baseline),
    )


def mean_interval(
    values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """(mean, lo, hi) of one arm's per-user values; with the same seed and users its interval is
    the one paired_bootstrap gives that arm."""
    values = _values(values)
    (means,) = _resampled_means((values,), n_boot, seed)
    return (_mean(values), *_interval(means, level))


def _values(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or not np.isfinite(values).all():
        raise ValueError("per-user values must be a 1-D array of finite numbers")
    return values


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def _resampled_means(arrays: tuple[np.ndarray, ...], n_boot: int, seed: int) -> list[np.ndarray]:
    """Means of each array over the same n_boot resamples of its users (NaN with no users)."""
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    n = len(arrays[0])
    means = [np.full(n_boot, np.nan) for _ in arrays]
    if n == 0:
        return means
    rng = np.random.default_rng(seed)
    rows = max(1, _DRAW_CHUNK // n)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        index = rng.integers(0, n, size=(stop - start, n))
        for values, out in zip(arrays, means):
            out[start:stop] = values[index].mean(axis=1)
    return means


def _lift(augmented: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """augmented / baseline - 1, NaN where baseline is 0."""
    ratio = np.divide(augmented, baseline, out=np.full(np.shape(baseline), np.nan), where=baseline != 0)
    return ratio - 1.0


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """The central `level` percentile interval of the non-NaN samples (NaN, NaN if none)."""
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    tail = 100.0 * (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN samples: the interval is NaN
        lo, hi = np.nanpercentile(samples, [tail, 100.0 - tail])
    return float(lo), float(hi)
