"""LLM-I2I data preparation on Spark: prompts, synthetic timestamps, fusion and SFT examples,
checked against plain-Python readings of the same seeded tables."""

from __future__ import annotations

import functools
from collections import defaultdict

import pyarrow as pa
import pytest
from support.feature_fixtures import assert_contract, rows_of, synthetic

from schemas.tables import I2I_DISCRIMINATOR_INPUTS, I2I_GENERATOR_INPUTS, I2I_JUDGEMENTS, I2I_TRAIN_INTERACTIONS
from transforms.cleaning import deduplicate_items
from transforms.config import I2IConfig, I2ISynthesisConfig
from transforms.i2i import i2i_pairs
from transforms.i2i_synthesis import (
    discriminator_inputs,
    fused_interactions,
    generator_inputs,
    sft_examples,
    synthetic_interactions,
)
from transforms.item_features import item_features

CFG = I2ISynthesisConfig(
    users=8, from_neighbourhood=2, from_categories=2, random_candidates=2, real_pairs_judged=5, negative_pairs_judged=4
)


@functools.cache
def _features(spark):
    data = synthetic(spark)
    items = item_features(data.train, data.id_maps, deduplicate_items(data.raw_items), data.raw_reviews, 0.3).localCheckpoint()
    pairs = i2i_pairs(data.train, I2IConfig(top_k=10)).localCheckpoint()
    return data, items, pairs


@pytest.fixture(scope="module")
def features(spark):
    return _features(spark)


def _by_user(rows, split=None):
    out = defaultdict(list)
    for r in rows:
        if split is None or r["split"] == split:
            out[r["user_idx"]].append(r)
    return out


def test_generator_prompts_hold_recent_train_history_and_unseen_long_tail_candidates(features):
    data, items, pairs = features
    prompts = generator_inputs(data.splits, items, pairs, CFG)
    assert_contract(prompts, I2I_GENERATOR_INPUTS)
    rows = rows_of(prompts)
    splits = rows_of(data.splits)
    tail = {r["item_idx"] for r in rows_of(items) if r["is_long_tail"]}
    seen = {(r["user_idx"], r["item_idx"]) for r in splits if r["split"] == "train"}
    train = _by_user(splits, "train")
    assert len(rows) == CFG.users
    for row in rows:
        user = row["user_idx"]
        recent = sorted(train[user], key=lambda r: (r["ts"], r["item_idx"]))[-CFG.history_length :]
        assert [int(h["id"]) for h in row["history"]] == [r["item_idx"] for r in recent]
        candidates = [int(c["id"]) for c in row["candidates"]]
        assert 0 < len(candidates) <= CFG.candidates and len(set(candidates)) == len(candidates)
        assert set(candidates) <= tail
        assert not any((user, item) in seen for item in candidates)


def test_generator_prompts_are_identical_on_rerun_and_repartitioning(features):
    data, items, pairs = features
    first = rows_of(generator_inputs(data.splits, items, pairs, CFG).orderBy("user_idx"))
    again = rows_of(generator_inputs(data.splits.repartition(5), items.repartition(3), pairs, CFG).orderBy("user_idx"))
    assert first == again
    reseeded = rows_of(generator_inputs(data.splits, items, pairs, CFG.model_copy(update={"seed": 1})).orderBy("user_idx"))
    assert reseeded != first


def test_user_selection_rules(features):
    data, items, pairs = features
    train = _by_user(rows_of(data.splits), "train")
    active = rows_of(generator_inputs(data.splits, items, pairs, CFG.model_copy(update={"user_selection": "active", "users": 3})))
    longest = sorted(train, key=lambda u: (-len(train[u]), u))[:3]
    assert sorted(r["user_idx"] for r in active) == sorted(longest)


def _picks(spark, prompts):
    """The first candidate of each prompt, as a generator would have picked it."""
    rows = [
        {"user_idx": r["user_idx"], "item_idx": int(r["candidates"][0]["id"]), "pick_rank": 1, "reason": "x"}
        for r in prompts
    ]
    schema = pa.schema([("user_idx", pa.int32()), ("item_idx", pa.int32()), ("pick_rank", pa.int32()), ("reason", pa.string())])
    return spark.createDataFrame(pa.Table.from_pylist(rows, schema=schema))


def test_synthetic_picks_follow_the_training_history_and_precede_the_heldout_window(spark, features):
    data, items, pairs = features
    prompts = rows_of(generator_inputs(data.splits, items, pairs, CFG))
    synthetic_rows = rows_of(synthetic_interactions(_picks(spark, prompts), data.splits))
    by_user = _by_user(rows_of(data.splits))
    assert len(synthetic_rows) == len(prompts)
    for row in synthetic_rows:
        train = [r["ts"] for r in by_user[row["user_idx"]] if r["split"] == "train"]
        heldout = [r["ts"] for r in by_user[row["user_idx"]] if r["split"] != "train"]
        assert row["ts"] == max(train)
        assert all(row["ts"] <= ts for ts in heldout)


def test_discriminator_judges_synthetic_real_and_negative_pairs_with_only_their_past(spark, features):
    data, items, pairs = features
    prompts = rows_of(generator_inputs(data.splits, items, pairs, CFG))
    synthetic_df = synthetic_interactions(_picks(spark, prompts), data.splits)
    judged = discriminator_inputs(synthetic_df, data.splits, items, CFG)
    assert_contract(judged, I2I_DISCRIMINATOR_INPUTS)
    rows = rows_of(judged)
    train = _by_user(rows_of(data.splits), "train")
    train_pairs = {(u, r["item_idx"]) for u, rs in train.items() for r in rs}
    assert sum(r["source"] == "synthetic" for r in rows) == len(prompts)
    real = [r for r in rows if r["source"] == "real"]
    assert len(real) == CFG.real_pairs_judged
    order = lambda r: (r["ts"], r["item_idx"])  # noqa: E731
    for row in real:
        assert (row["user_idx"], row["item_idx"]) in train_pairs
        # The judge sees the user's latest training items before the judged one, never after it.
        judged = next(r for r in train[row["user_idx"]] if r["item_idx"] == row["item_idx"])
        before = sorted((r for r in train[row["user_idx"]] if order(r) < order(judged)), key=order)
        assert [int(h["id"]) for h in row["history"]] == [r["item_idx"] for r in before][-CFG.judge_history_length :]
    negatives = [r for r in rows if r["source"] == "negative"]
    assert len(negatives) == CFG.negative_pairs_judged
    for row in negatives:
        assert (row["user_idx"], row["item_idx"]) not in train_pairs
        recent = sorted(train[row["user_idx"]], key=order)[-CFG.judge_history_length :]
        assert [int(h["id"]) for h in row["history"]] == [r["item_idx"] for r in recent]


def _judgements(spark, rows):
    return spark.createDataFrame(pa.Table.from_pylist(rows, schema=I2I_JUDGEMENTS))


def test_fusion_keeps_judged_synthetic_pairs_and_no_heldout_row(spark, features):
    data, items, pairs = features
    prompts = rows_of(generator_inputs(data.splits, items, pairs, CFG))
    synthetic_df = synthetic_interactions(_picks(spark, prompts), data.splits)
    synthetic_rows = rows_of(synthetic_df)
    train_rows = [r for r in rows_of(data.splits) if r["split"] == "train"]
    dropped_real, judged_real = train_rows[0], train_rows[1]
    verdict = lambda r, source, p, kept: {  # noqa: E731
        "user_idx": r["user_idx"], "item_idx": r["item_idx"], "source": source,
        "answer": "yes" if p >= 0.5 else "no", "p_yes": p, "p_yes_from": "logprobs", "kept": kept,
    }
    kept_synthetic, rejected_synthetic = synthetic_rows[0], synthetic_rows[1]
    judgements = _judgements(
        spark,
        [
            verdict(kept_synthetic, "synthetic", 0.95, True),
            verdict(rejected_synthetic, "synthetic", 0.4, False),
            verdict(dropped_real, "real", 0.01, False),
            verdict(judged_real, "real", 0.7, True),
        ],
    )
    fused = fused_interactions(data.splits, synthetic_df, judgements)
    assert_contract(fused, I2I_TRAIN_INTERACTIONS)
    rows = {(r["user_idx"], r["item_idx"]): r for r in rows_of(fused)}
    heldout = {(r["user_idx"], r["item_idx"], r["ts"]) for r in rows_of(data.splits) if r["split"] != "train"}
    assert not heldout & {(u, i, r["ts"]) for (u, i), r in rows.items() if r["source"] == "real"}
    assert len(rows) == len(train_rows) - 1 + 1
    key = lambda r: (r["user_idx"], r["item_idx"])  # noqa: E731
    assert rows[key(kept_synthetic)]["source"] == "synthetic" and rows[key(kept_synthetic)]["judge_p_yes"] == 0.95
    assert rows[key(kept_synthetic)]["ts"] == kept_synthetic["ts"] and rows[key(kept_synthetic)]["rating"] is None
    assert key(rejected_synthetic) not in rows and key(dropped_real) not in rows
    assert rows[key(judged_real)]["judge_p_yes"] == 0.7
    assert rows[key(train_rows[2])]["judge_p_yes"] is None and rows[key(train_rows[2])]["source"] == "real"


def test_sft_examples_target_the_last_training_item_and_weight_long_tail_targets(features):
    data, items, pairs = features
    generator, discriminator = sft_examples(data.splits, items, CFG)
    tail = {r["item_idx"] for r in rows_of(items) if r["is_long_tail"]}
    seen = {(r["user_idx"], r["item_idx"]) for r in rows_of(data.splits) if r["split"] == "train"}
    train = _by_user(rows_of(data.splits), "train")
    rows = rows_of(generator)
    assert len(rows) == sum(len(v) >= 2 for v in train.values())
    for row in rows:
        ordered = sorted(train[row["user_idx"]], key=lambda r: (r["ts"], r["item_idx"]))
        assert row["target_idx"] == ordered[-1]["item_idx"]
        assert [int(h["id"]) for h in row["history"]] == [r["item_idx"] for r in ordered[:-1]][-CFG.history_length :]
        candidates = [int(c["id"]) for c in row["candidates"]]
        assert row["target_idx"] in candidates and len(candidates) == CFG.candidates
        assert row["weight"] == (CFG.long_tail_target_weight if row["target_idx"] in tail else 1.0)
    answers = rows_of(discriminator)
    assert sum(a["answer"] == "yes" for a in answers) == len(rows)
    assert sum(a["answer"] == "no" for a in answers) == len(rows) * CFG.sft_negatives_per_positive
    assert all((a["user_idx"], a["item_idx"]) not in seen for a in answers if a["answer"] == "no")


def test_sft_users_caps_the_export_to_a_seeded_sample_of_the_same_examples(features):
    data, items, _ = features
    full, _ = sft_examples(data.splits, items, CFG)
    capped, judged = sft_examples(data.splits, items, CFG.model_copy(update={"sft_users": 5}))

    rows = {r["user_idx"]: r for r in rows_of(capped)}
    every = {r["user_idx"]: r for r in rows_of(full)}
    assert len(rows) == 5 and len(every) > 5
    assert all(rows[u]["history"] == every[u]["history"] and rows[u]["target_idx"] == every[u]["target_idx"] for u in rows)
    assert {r["user_idx"] for r in rows_of(judged)} == set(rows)
