"""S-LLMR data preparation on Spark: candidate sets, score normalization and the pairwise
supervision, checked against plain-Python computations."""

from __future__ import annotations

import functools
from collections import defaultdict
from itertools import permutations

import pyarrow as pa
import pytest
from pyspark.sql import functions as F
from support.feature_fixtures import assert_contract, rows_of, synthetic

from schemas.tables import LLM_PAIRWISE_SUPERVISION, SLMR_CANDIDATES, SLMR_RAW_SCORES, SLMR_SCORES
from transforms.cleaning import deduplicate_items
from transforms.config import SLMRConfig
from transforms.item_features import item_features
from transforms.slmr import candidate_sets, normalized_scores, pairwise_supervision
from transforms.user_features import user_features

CFG = SLMRConfig(users=4, candidates=6, popular_pool=12, cold_users=3, tail_items=3, users_per_tail_item=2)


@functools.cache
def _features(spark):
    data = synthetic(spark)
    items = item_features(data.train, data.id_maps, deduplicate_items(data.raw_items), data.raw_reviews, 0.2)
    users = user_features(data.train, data.id_maps, cold_max_history=3)
    return data, items.localCheckpoint(), users.localCheckpoint()


@pytest.fixture(scope="module")
def features(spark):
    return _features(spark)


def test_candidate_sets_follow_their_rules_and_exclude_every_training_item(features):
    data, items, users = features
    sets = candidate_sets(data.splits, users, items, CFG)
    assert_contract(sets, SLMR_CANDIDATES)
    rows = rows_of(sets)
    item_rows = {r["item_idx"]: r for r in rows_of(items)}
    user_rows = {r["user_idx"]: r for r in rows_of(users)}
    seen = {(r["user_idx"], r["item_idx"]) for r in rows_of(data.splits) if r["split"] == "train"}
    popular = _popular_pool({i: r["popularity"] for i, r in item_rows.items()})
    by_popularity = sorted(item_rows, key=lambda i: (item_rows[i]["popularity"], item_rows[i]["item_id"]))
    tail = set(by_popularity[: int(len(by_popularity) * CFG.tail_quantile)])
    by_set = defaultdict(list)
    for row in rows:
        by_set[row["candidate_set"]].append(row)
        candidates = [int(c["id"]) for c in row["candidates"]]
        assert len(candidates) == len(set(candidates)) and 0 < len(candidates) <= CFG.candidates
        assert not any((row["user_idx"], item) in seen for item in candidates)
        assert 0 < len(row["history"]) <= CFG.history_length
    assert len(by_set["popular"]) == CFG.users
    assert all(set(int(c["id"]) for c in r["candidates"]) <= set(popular) for r in by_set["popular"])
    assert 0 < len(by_set["cold_diverse"]) <= CFG.cold_users
    for row in by_set["cold_diverse"]:
        assert user_rows[row["user_idx"]]["is_cold"]
        categories = [item_rows[int(c["id"])]["category"] for c in row["candidates"]]
        pool = defaultdict(list)
        for i in sorted(item_rows, key=lambda i: (-item_rows[i]["popularity"], i)):
            pool[item_rows[i]["category"]].append(i)
        available = {c for c, members in pool.items() if any((row["user_idx"], i) not in seen for i in members[:3])}
        # Round robin: no category repeats before every available category appeared once.
        assert len(set(categories)) == min(len(categories), len(available))
    tail_prompts = by_set["long_tail"]
    placed = [int(c["id"]) for r in tail_prompts for c in r["candidates"] if int(c["id"]) in tail]
    assert 0 < len(placed) <= CFG.tail_items * CFG.users_per_tail_item


def _popular_pool(popularity: dict[int, int]) -> set[int]:
    """The CFG.popular_pool most popular items and every item tied with the last of them."""
    cut = sorted(popularity.values(), reverse=True)[CFG.popular_pool - 1]
    return {i for i, p in popularity.items() if p >= cut}


def test_unchanged_users_keep_their_prompt_when_another_item_rises_into_the_pool(features):
    """The next night, another user's interaction has made an item outside the popular pool as
    popular as the pool's last members. A user whose data did not change keeps the same prompt
    unless the risen item is now among their candidates: no member left the pool for it."""
    data, items, users = features
    popularity = {r["item_idx"]: r["popularity"] for r in rows_of(items)}
    ranked = sorted(popularity, key=lambda i: (-popularity[i], i))
    cut = popularity[ranked[CFG.popular_pool - 1]]
    group = [i for i in ranked[: CFG.popular_pool] if popularity[i] == cut]
    # Below the cut with a smaller index than the group's last member, so ranked by (popularity,
    # index) it would take that member's place.
    riser = min(i for i in ranked[CFG.popular_pool :] if popularity[i] < cut)
    assert riser < group[-1]
    risen = items.withColumn(
        "popularity",
        F.when(F.col("item_idx") == riser, F.lit(cut).cast(items.schema["popularity"].dataType)).otherwise(
            F.col("popularity")
        ),
    )

    def popular_prompts(item_features):
        sets = candidate_sets(data.splits, users, item_features, CFG).where(F.col("candidate_set") == "popular")
        return {r["user_idx"]: r for r in rows_of(sets)}

    before, after = popular_prompts(items), popular_prompts(risen)
    assert before.keys() == after.keys()
    kept = [u for u in after if riser not in {int(c["id"]) for c in after[u]["candidates"]}]
    # The scenario matters: some of these users had the group's last member as a candidate.
    assert any(group[-1] in {int(c["id"]) for c in before[u]["candidates"]} for u in kept)
    assert all(before[u] == after[u] for u in kept)


def test_candidate_sets_are_identical_on_rerun_and_repartitioning(features):
    data, items, users = features
    first = rows_of(candidate_sets(data.splits, users, items, CFG).orderBy("user_idx", "candidate_set"))
    again = rows_of(
        candidate_sets(data.splits.repartition(4), users.repartition(3), items.repartition(2), CFG).orderBy(
            "user_idx", "candidate_set"
        )
    )
    assert first == again


RAW = [
    # One prompt with a missing score and a tie, one with all scores equal, one with a single item.
    (1, "popular", 10, 0.9),
    (1, "popular", 11, 0.3),
    (1, "popular", 12, None),
    (1, "popular", 13, 0.3),
    (2, "cold_diverse", 10, 0.7),
    (2, "cold_diverse", 14, 0.7),
    (3, "long_tail", 15, 0.2),
]


def _raw(spark):
    rows = [dict(zip(["user_idx", "candidate_set", "item_idx", "raw_score"], r)) for r in RAW]
    return spark.createDataFrame(pa.Table.from_pylist(rows, schema=SLMR_RAW_SCORES))


def _scores(spark, normalization):
    df = normalized_scores(_raw(spark), CFG.model_copy(update={"normalization": normalization}))
    assert_contract(df, SLMR_SCORES)
    return {(r["user_idx"], r["item_idx"]): r for r in rows_of(df)}


def test_missing_scores_are_filled_and_flagged(spark):
    scores = _scores(spark, "none")
    assert scores[(1, 12)]["is_missing"] and scores[(1, 12)]["score"] == CFG.missing_score
    assert sum(r["is_missing"] for r in scores.values()) == 1
    assert scores[(1, 10)]["score"] == 0.9


def test_minmax_normalization_per_prompt(spark):
    scores = _scores(spark, "minmax")
    assert scores[(1, 10)]["score"] == pytest.approx(1.0)
    assert scores[(1, 11)]["score"] == pytest.approx(0.0)
    assert scores[(1, 12)]["score"] == pytest.approx((0.5 - 0.3) / (0.9 - 0.3))
    assert scores[(2, 10)]["score"] == scores[(2, 14)]["score"] == 0.5
    assert scores[(3, 15)]["score"] == 0.5


def test_rank_normalization_averages_ties(spark):
    scores = _scores(spark, "rank")
    # Prompt 1 in order: 0.3, 0.3 (0-based ranks 0 and 1 -> 0.5 each), 0.5, 0.9; n - 1 = 3.
    assert scores[(1, 11)]["score"] == scores[(1, 13)]["score"] == pytest.approx(0.5 / 3)
    assert scores[(1, 12)]["score"] == pytest.approx(2 / 3)
    assert scores[(1, 10)]["score"] == pytest.approx(1.0)
    assert scores[(3, 15)]["score"] == 0.5


def test_pairs_keep_the_largest_gaps_with_gate_inputs(spark, features):
    data, items, users = features
    scores_df = normalized_scores(_raw(spark), CFG)
    scores = rows_of(scores_df)
    cfg = CFG.model_copy(update={"pairs_per_user": 3})
    item_idx = sorted(r["item_idx"] for r in rows_of(items))
    user_idx = sorted(r["user_idx"] for r in rows_of(users))
    # Map the hand-made ids onto real ones so the gate inputs can be joined.
    remap_items = {i: item_idx[i] for i in {r["item_idx"] for r in scores}}
    remap_users = {u: user_idx[u] for u in {r["user_idx"] for r in scores}}
    real_scores = [{**r, "item_idx": remap_items[r["item_idx"]], "user_idx": remap_users[r["user_idx"]]} for r in scores]
    pairs = pairwise_supervision(
        spark.createDataFrame(pa.Table.from_pylist(real_scores, schema=SLMR_SCORES)), users, items, cfg
    )
    assert_contract(pairs, LLM_PAIRWISE_SUPERVISION)
    got = rows_of(pairs)

    expected = []
    by_prompt = defaultdict(list)
    for r in real_scores:
        by_prompt[(r["user_idx"], r["candidate_set"])].append(r)
    for prompt, rows in by_prompt.items():
        given = [r for r in rows if not r["is_missing"]]
        candidates = [(a, b) for a, b in permutations(given, 2) if a["score"] > b["score"]]
        candidates.sort(key=lambda p: (-(p[0]["score"] - p[1]["score"]), p[0]["item_idx"], p[1]["item_idx"]))
        expected += [(*prompt, a["item_idx"], b["item_idx"]) for a, b in candidates[: cfg.pairs_per_user]]
    assert sorted((r["user_idx"], r["candidate_set"], r["item_i"], r["item_j"]) for r in got) == sorted(expected)
    # Prompt 1 has 2 ordered pairs once its missing score is left out; the others have none.
    assert len(got) == 2

    item_rows = {r["item_idx"]: r for r in rows_of(items)}
    user_rows = {r["user_idx"]: r for r in rows_of(users)}
    for r in got:
        assert r["s_i"] > r["s_j"] and r["gap"] == pytest.approx(r["s_i"] - r["s_j"])
        assert (r["hist_len"], r["is_cold"]) == (user_rows[r["user_idx"]]["history_len"], user_rows[r["user_idx"]]["is_cold"])
        assert (r["pop_i"], r["tail_i"]) == (item_rows[r["item_i"]]["popularity"], item_rows[r["item_i"]]["is_long_tail"])
        assert (r["pop_j"], r["tail_j"]) == (item_rows[r["item_j"]]["popularity"], item_rows[r["item_j"]]["is_long_tail"])


def test_long_tail_prompts_give_only_pairs_with_their_tail_item(spark, features):
    data, items, users = features
    item_rows = sorted(rows_of(items), key=lambda r: (r["popularity"], r["item_id"]))
    tail_item = item_rows[0]["item_idx"]  # the least popular item is in every bottom quantile
    popular = [r["item_idx"] for r in item_rows[-3:]]
    user = rows_of(users)[0]["user_idx"]
    raw = [(user, "long_tail", item, score) for item, score in zip([tail_item, *popular], [0.5, 0.9, 0.6, 0.1])]
    rows = [dict(zip(["user_idx", "candidate_set", "item_idx", "raw_score"], r)) for r in raw]
    scores = normalized_scores(spark.createDataFrame(pa.Table.from_pylist(rows, schema=SLMR_RAW_SCORES)), CFG)
    got = rows_of(pairwise_supervision(scores, users, items, CFG.model_copy(update={"pairs_per_user": 10})))
    # 6 ordered pairs have s_i > s_j; the 3 that involve the tail item are kept.
    assert len(got) == 3
    assert all(tail_item in (r["item_i"], r["item_j"]) for r in got)
