"""Full-ranking recall@K / NDCG@K against hand-computed cases."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from evaluation.data import Interactions, Segments
from evaluation.metrics import NO_ITEM, per_user_metrics, ranked_top_k, segment_metrics

# 2 users x 6 items. User 0 trained on item 0 and holds out item 2; user 1 trained on item 5 and
# holds out items 1 and 4.
SCORES = np.array(
    [
        [0.9, 0.1, 0.5, 0.8, 0.2, 0.3],  # without item 0: 3, 2, 5, 4, 1 -> held-out 2 ranks 2nd
        [0.0, 0.7, 0.6, 0.5, 0.4, 1.0],  # without item 5: 1, 2, 3, 4, 0 -> held-out 1st and 4th
    ]
)
TRAIN = Interactions([0, 1], [0, 5]).matrix(2, 6)
HELDOUT = Interactions([0, 1, 1], [2, 1, 4])


def score(users: np.ndarray) -> np.ndarray:
    return SCORES[users]


def test_ranking_excludes_training_items_and_pads_short_lists():
    top = ranked_top_k(SCORES, TRAIN, 7)
    assert top.tolist() == [[3, 2, 5, 4, 1, NO_ITEM, NO_ITEM], [1, 2, 3, 4, 0, NO_ITEM, NO_ITEM]]


def test_ties_rank_the_lower_item_first_also_at_the_cut():
    # Scores 0.2 at items 0, 2, 3: with k=3 the cut falls inside the tie, so 0 is kept, 2 and 3 not.
    assert ranked_top_k(np.array([[0.2, 0.5, 0.2, 0.2, 0.9]]), sp.csr_matrix((1, 5)), 3).tolist() == [[4, 1, 0]]
    # All equal, item 0 excluded: index order.
    assert ranked_top_k(np.zeros((1, 5)), sp.csr_matrix(np.array([[1, 0, 0, 0, 0]])), 3).tolist() == [[1, 2, 3]]


def test_nan_and_minus_inf_scores_are_never_ranked():
    top = ranked_top_k(np.array([[np.nan, -np.inf, 0.0, 1.0]]), sp.csr_matrix((1, 4)), 4)
    assert top.tolist() == [[3, 2, NO_ITEM, NO_ITEM]]


def test_ranking_matches_a_sort_by_score_then_index_with_many_ties():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, size=(30, 40)).astype(np.float64)  # few distinct values: many ties
    exclude = sp.csr_matrix(rng.random((30, 40)) < 0.3)
    top = ranked_top_k(scores, exclude, 12)
    for row in range(30):
        candidates = [i for i in range(40) if not exclude[row, i]]
        expected = sorted(candidates, key=lambda i: (-scores[row, i], i))[:12]
        assert top[row].tolist() == expected + [NO_ITEM] * (12 - len(expected))


def test_recall_and_ndcg_by_hand():
    m = per_user_metrics(score, np.array([0, 1]), HELDOUT, TRAIN, ks=(1, 2, 4))
    assert m["users"].tolist() == [0, 1]
    # User 0: |H| = 1, hit at rank 2.  User 1: |H| = 2, hits at ranks 1 and 4.
    assert m["recall@1"].tolist() == [0.0, 0.5]
    assert m["recall@2"].tolist() == [1.0, 0.5]
    assert m["recall@4"].tolist() == [1.0, 1.0]
    # ndcg@2: user 0 (1/log2(3)) / 1; user 1: 1 / (1 + 1/log2(3)), IDCG over min(2, 2) items.
    assert m["ndcg@2"] == pytest.approx([1 / math.log2(3), 1 / (1 + 1 / math.log2(3))])
    # ndcg@4 of user 1: (1 + 1/log2(5)) / (1 + 1/log2(3)).
    assert m["ndcg@4"][1] == pytest.approx((1 + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    # ndcg@1 of user 1: IDCG over min(2, 1) = 1 item, so a hit at rank 1 is 1.
    assert m["ndcg@1"].tolist() == [0.0, 1.0]


def test_batching_does_not_change_results_and_users_without_heldout_are_skipped():
    heldout = Interactions([1, 1], [1, 4])  # user 0 holds nothing out
    calls = []

    def counting(users):
        calls.append(users.tolist())
        return SCORES[users]

    m = per_user_metrics(counting, np.array([0, 1]), heldout, TRAIN, ks=(2,), batch_size=1)
    assert calls == [[1]]
    assert m["users"].tolist() == [1] and m["recall@2"].tolist() == [0.5]


def test_long_tail_restriction_still_ranks_over_all_items():
    tail = np.array([False, False, False, False, True, False])
    m = per_user_metrics(score, np.array([0, 1]), HELDOUT, TRAIN, ks=(1, 4), item_mask=tail)
    # Only user 1 holds out a tail item (4). It ranks 4th among all untrained items (behind the
    # non-tail 1, 2, 3); a ranking over tail items only would put it 1st.
    assert m["users"].tolist() == [1]
    assert m["recall@1"].tolist() == [0.0]
    assert m["recall@4"].tolist() == [1.0]
    assert m["ndcg@4"] == pytest.approx([1 / math.log2(5)])


def test_a_heldout_item_also_trained_on_is_a_miss():
    heldout = Interactions([0, 0], [0, 3])  # item 0 is user 0's training item, 3 ranks 1st
    m = per_user_metrics(score, np.array([0]), heldout, TRAIN, ks=(5,))
    assert m["recall@5"].tolist() == [0.5]  # 1 of 2 held-out items can be ranked


def test_segments_score_each_user_once():
    calls = []

    def counting(users):
        calls.append(users.tolist())
        return SCORES[users]

    segments = Segments(
        long_tail_items=np.array([False, False, False, False, True, False]), cold_users=np.array([True, False])
    )
    result = segment_metrics(counting, HELDOUT, TRAIN, segments, ks=(2, 4))
    assert calls == [[0, 1]]
    assert list(result) == ["overall", "long_tail", "cold_users"]
    assert result["overall"]["recall@2"].tolist() == [1.0, 0.5]
    assert result["long_tail"]["users"].tolist() == [1]
    assert result["long_tail"]["ndcg@4"] == pytest.approx([1 / math.log2(5)])
    assert result["cold_users"]["users"].tolist() == [0]
    assert result["cold_users"]["ndcg@2"] == pytest.approx([1 / math.log2(3)])


def test_wrong_score_shape_is_rejected():
    with pytest.raises(ValueError, match="score_fn returned shape"):
        per_user_metrics(lambda users: SCORES[users, :5], np.array([0]), HELDOUT, TRAIN)
