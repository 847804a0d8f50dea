"""Paired bootstrap over users against cases whose answer is known by hand."""

import math

import numpy as np
import pytest

from evaluation.intervals import mean_interval, paired_bootstrap


def test_identical_arms_have_zero_lift_and_a_zero_width_delta_interval():
    values = np.random.default_rng(0).random(50)
    c = paired_bootstrap(values, values)
    # Every resample draws the same users for both arms: a/a - 1 = 0 and a - a = 0 exactly.
    assert (c.lift, c.lift_lo, c.lift_hi) == (0.0, 0.0, 0.0)
    assert (c.delta, c.delta_lo, c.delta_hi) == (0.0, 0.0, 0.0)
    assert c.baseline == c.augmented and c.users == 50


def test_a_constant_shift_gives_that_delta_in_every_resample():
    baseline = np.random.default_rng(1).random(40)
    c = paired_bootstrap(baseline, baseline + 0.1)
    # mean(b + 0.1) - mean(b) = 0.1 for any resample of users.
    for value in (c.delta, c.delta_lo, c.delta_hi):
        assert value == pytest.approx(0.1, abs=1e-12)
    assert c.lift == pytest.approx(0.1 / baseline.mean())


def test_interval_contains_the_mean_and_narrows_with_more_users():
    rng = np.random.default_rng(2)
    small, large = rng.random(50), rng.random(5000)
    mean_s, lo_s, hi_s = mean_interval(small)
    mean_l, lo_l, hi_l = mean_interval(large)
    assert lo_s < mean_s < hi_s and lo_l < mean_l < hi_l
    # Width shrinks like 1/sqrt(n): 100x the users, about a tenth of the width.
    assert hi_l - lo_l < 0.2 * (hi_s - lo_s)


def test_two_users_resample_means_by_hand():
    # Resample means of [0, 1] are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4: the 2.5th and 97.5th
    # percentiles are 0 and 1; the 30th and 70th both fall in the middle half, 0.5.
    assert mean_interval(np.array([0.0, 1.0])) == (0.5, 0.0, 1.0)
    assert mean_interval(np.array([0.0, 1.0]), level=0.4) == (0.5, 0.5, 0.5)


def test_zero_baseline_resamples_drop_out_of_the_lift_interval():
    # Baseline [0, 1] vs augmented [1, 1]: lift 1 / 0.5 - 1 = 1. A resample of user 0 twice has
    # baseline mean 0 (no lift); the others give 1/0.5 - 1 = 1 or 1/1 - 1 = 0.
    c = paired_bootstrap(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    assert c.lift == 1.0
    assert (c.lift_lo, c.lift_hi) == (0.0, 1.0)
    assert c.delta == 0.5


def test_lift_over_a_zero_baseline_is_nan():
    c = paired_bootstrap(np.zeros(5), np.ones(5))
    assert math.isnan(c.lift) and math.isnan(c.lift_lo) and math.isnan(c.lift_hi)
    assert (c.delta, c.delta_lo, c.delta_hi) == (1.0, 1.0, 1.0)


def test_paired_arms_share_resamples_with_mean_interval_and_are_seeded():
    rng = np.random.default_rng(4)
    baseline, augmented = rng.random(300), rng.random(300)
    c = paired_bootstrap(baseline, augmented, seed=7)
    assert (c.baseline, c.baseline_lo, c.baseline_hi) == mean_interval(baseline, seed=7)
    assert (c.augmented, c.augmented_lo, c.augmented_hi) == mean_interval(augmented, seed=7)
    assert paired_bootstrap(baseline, augmented, seed=7) == c
    assert paired_bootstrap(baseline, augmented, seed=8).baseline_lo != c.baseline_lo


def test_arms_of_different_users_are_rejected():
    with pytest.raises(ValueError, match="same users"):
        paired_bootstrap(np.zeros(3), np.zeros(4))
