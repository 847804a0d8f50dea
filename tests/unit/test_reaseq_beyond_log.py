"""beyond_log_items: nearest catalog items per interest, on constructed vectors with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from llm_jobs.tasks.reaseq_interests import beyond_log_items

ITEM_IDS = np.array([10, 11, 12, 13, 14])
ITEM_VECTORS = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.0]])
INTERESTS = np.array([[1.0, 0.0], [0.0, 1.0]])


def test_nearest_per_interest_outside_the_history_each_item_once():
    picks = beyond_log_items(INTERESTS, ITEM_VECTORS, ITEM_IDS, history_item_ids=[10], per_interest=2)

    # Interest 0: 10 is in the history, then 11 (cos 0.99), 13 (0.11). Interest 1: 12 (1.0), then
    # 13 and 11 are taken, then 10 and 14 tie at 0.0 and 10 is in the history.
    assert picks.tolist() == [11, 13, 12, 14]
    assert picks.dtype == np.int64


def test_cosine_ignores_vector_length():
    scaled = ITEM_VECTORS * np.array([[1.0], [50.0], [0.01], [3.0], [7.0]])

    picks = beyond_log_items(INTERESTS * 9.0, scaled, ITEM_IDS, history_item_ids=[10], per_interest=2)

    assert picks.tolist() == [11, 13, 12, 14]


def test_equal_similarity_goes_to_the_smaller_id_whatever_the_order():
    ids = np.array([7, 3, 5])
    vectors = np.array([[0.0, 1.0], [0.0, 2.0], [1.0, 0.0]])

    assert beyond_log_items(np.array([[0.0, 1.0]]), vectors, ids, [], per_interest=2).tolist() == [3, 7]
    # A zero interest is at similarity 0 to every item: smallest ids first.
    assert beyond_log_items(np.zeros((1, 2)), vectors, ids, [], per_interest=3).tolist() == [3, 5, 7]


def test_fewer_come_back_when_the_catalog_outside_the_history_runs_out():
    picks = beyond_log_items(INTERESTS, ITEM_VECTORS, ITEM_IDS, history_item_ids=[10, 11, 12, 13], per_interest=2)

    assert picks.tolist() == [14]
    assert beyond_log_items(np.empty((0, 2)), ITEM_VECTORS, ITEM_IDS, [], per_interest=2).tolist() == []


def test_repeated_item_ids_are_refused():
    with pytest.raises(ValueError, match="distinct"):
        beyond_log_items(INTERESTS, ITEM_VECTORS, np.array([1, 1, 2, 3, 4]), [], per_interest=1)
