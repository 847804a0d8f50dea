"""The published feature sets' LLM columns without a model: the pyarrow joins that give every
entity dense embeddings and masks, the contract checks on them, and who gets prompted."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llm_jobs.factor_embeddings import as_numpy
from llm_jobs.factor_sets import resolve_factor_set
from llm_jobs.tasks.reaseq_knowledge import KNOWLEDGE_FIELDS
from llm_jobs.tasks.reform import ReviewBudget, profile_task, review_packing
from schemas.registry import published_schema, table_schema
from schemas.tables import (
    AUGMENTED_USER_SEQUENCES,
    ID_MAPS,
    ITEM_FEATURES,
    REASEQ_USER_INTERESTS,
    REVIEW_BUNDLES,
    USER_FEATURES,
    USER_SEQUENCES,
    augmented_item_features,
    augmented_user_features,
    item_knowledge_schema,
    reform_profiles_schema,
)
from transforms.augmented_features import augment_item_features, augment_user_features, augment_user_sequences
from transforms.knowledge_inputs import ReviewPacking, interest_users, most_reviewed, profile_prompt_rows
from validation import validate_table

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
FACTORS = ("style", "quality")
D = 4


def _id_maps(users=3, items=3) -> pa.Table:
    rows = [("user", f"u{i}", i) for i in range(users)] + [("item", f"i{i}", i) for i in range(items)]
    kind, raw_id, idx = zip(*rows)
    return pa.table({"kind": kind, "raw_id": raw_id, "idx": idx}, schema=ID_MAPS)


def _user_features(n=3) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"user_idx": i, "user_id": f"u{i}", "history_len": 2, "is_cold": True, "rating_mean": 4.0,
             "rating_std": 0.0, "first_ts": T0, "last_ts": T0, "activity_span_days": 0.0}
            for i in range(n)
        ],
        schema=USER_FEATURES,
    )  # fmt: skip


def _item_features(n=3) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"item_idx": i, "item_id": f"i{i}", "popularity": 3 - i, "is_long_tail": False, "rating_mean": 4.0,
             "rating_count": 1, "review_count": 1, "has_metadata": True, "title": f"Item {i}",
             "title_is_fallback": False, "category": "Books", "price": 9.5}
            for i in range(n)
        ],
        schema=ITEM_FEATURES,
    )  # fmt: skip


def _profiles(key: str, rows: dict[int, dict[str, list[str]]]) -> pa.Table:
    """A profile table as the ReFORM assets write it: vectors are idx + 1 + factor / 10 where phrases exist."""
    records = []
    for idx, phrases in rows.items():
        vectors = [[idx + 1 + f / 10] * D if phrases[name] else [0.0] * D for f, name in enumerate(FACTORS)]
        records.append(
            {key: idx, **{f"profile_{n}": phrases[n] for n in FACTORS}, "factor_embeddings": vectors,
             "factor_mask": [bool(phrases[n]) for n in FACTORS]}
        )  # fmt: skip
    return pa.Table.from_pylist(records, schema=reform_profiles_schema(key, FACTORS, D))


def _knowledge(item_idx: int) -> pa.Table:
    row = {
        "item_idx": item_idx,
        **{field: [f"{field} phrase"] for field in KNOWLEDGE_FIELDS},
        "price_tier": "mid",
        "summary": "A sturdy item for daily use.",
        "claims_total": 7,
        "claims_dropped": 1,
        "claims_dropped_by_checks": 0,
        "knowledge_embedding": [0.5] * D,
    }
    return pa.Table.from_pylist([row], schema=item_knowledge_schema(D))


@pytest.fixture
def users() -> pa.Table:
    profiles = _profiles("user_idx", {1: {"style": ["minimalist", "compact"], "quality": []}})
    return augment_user_features(_user_features(), profiles, FACTORS, D)


@pytest.fixture
def items() -> pa.Table:
    profiles = _profiles("item_idx", {0: {"style": ["sleek"], "quality": ["sturdy"]}})
    return augment_item_features(_item_features(), profiles, _knowledge(2), FACTORS, D)


def test_every_user_gets_dense_embeddings_and_a_mask(users):
    assert users.schema == augmented_user_features(FACTORS, D)
    assert all(users[name].null_count == 0 for name in users.column_names if name.startswith(("profile_", "factor_")))
    vectors = as_numpy(users["factor_embeddings"])
    assert vectors.shape == (3, 2, D)
    assert users["factor_mask"].to_pylist() == [[False, False], [True, False], [False, False]]
    assert users["profile_style"].to_pylist() == [[], ["minimalist", "compact"], []]
    assert users["profile_quality"].to_pylist() == [[], [], []]
    np.testing.assert_allclose(vectors[1, 0], [2.0] * D)
    assert not vectors[[0, 2]].any() and not vectors[1, 1].any()
    assert users.select(USER_FEATURES.names).equals(_user_features())


def test_items_get_knowledge_and_profiles_or_empty_values(items):
    assert items.schema == augmented_item_features(FACTORS, D)
    rows = items.to_pylist()
    assert [r["has_knowledge"] for r in rows] == [False, False, True]
    assert [r["knowledge_price_tier"] for r in rows] == ["unknown", "unknown", "mid"]
    assert [r["knowledge_summary"] for r in rows] == ["", "", "A sturdy item for daily use."]
    assert rows[0]["knowledge_use_cases"] == [] and rows[2]["knowledge_use_cases"] == ["use_cases phrase"]
    assert [r["knowledge_embedding"] for r in rows] == [[0.0] * D, [0.0] * D, [0.5] * D]
    assert [r["factor_mask"] for r in rows] == [[True, True], [False, False], [False, False]]


def test_sequences_get_beyond_log_items_or_an_empty_list():
    sequences = pa.Table.from_pylist(
        [{"user_idx": u, "item_idx": [0], "ts": [T0]} for u in range(3)], schema=USER_SEQUENCES
    )
    interests = pa.Table.from_pylist(
        [{"user_idx": 2, "interests": ["hiking"], "beyond_log_item_idx": [2, 1]}], schema=REASEQ_USER_INTERESTS
    )
    table = augment_user_sequences(sequences, interests)
    assert table.schema == AUGMENTED_USER_SEQUENCES
    assert table["beyond_log_item_idx"].to_pylist() == [[], [], [2, 1]]
    assert table["beyond_log_item_idx"].null_count == 0


def test_nobody_profiled_still_gives_dense_columns():
    empty = reform_profiles_schema("user_idx", FACTORS, D).empty_table()
    table = augment_user_features(_user_features(), empty, FACTORS, D)
    assert not as_numpy(table["factor_embeddings"]).any()
    assert table["factor_mask"].to_pylist() == [[False, False]] * 3


def test_profiles_of_another_encoder_or_factor_set_are_refused():
    profiles = _profiles("user_idx", {0: {"style": ["x"], "quality": []}})
    with pytest.raises(ValueError, match="materialize llm/reform_user_profiles again"):
        augment_user_features(_user_features(), profiles, FACTORS, 8)
    with pytest.raises(ValueError, match="materialize llm/reform_user_profiles again"):
        augment_user_features(_user_features(), profiles, (*FACTORS, "service"), D)


def test_published_schemas_of_augmented_sets_need_factors_and_dimension():
    assert published_schema("user_features", FACTORS, D) == augmented_user_features(FACTORS, D)
    assert published_schema("user_sequences") == AUGMENTED_USER_SEQUENCES
    with pytest.raises(ValueError, match="factor names"):
        published_schema("item_features")
    with pytest.raises(ValueError, match="factor names"):
        table_schema("llm/reform_user_profiles")
    assert table_schema("llm/reform_item_profiles", FACTORS, D).names[0] == "item_idx"
    schema = augmented_item_features(FACTORS, D)
    assert schema.field("factor_embeddings").type == pa.list_(pa.list_(pa.float32(), D), 2)
    assert schema.field("factor_embeddings").metadata == {b"factors": b"style,quality"}


# --- the contract checks -------------------------------------------------------------------


def _validate(set_name: str, table: pa.Table):
    schema = published_schema(set_name, FACTORS, D) if set_name != "user_sequences" else None
    return validate_table(set_name, table, _id_maps(), None, schema=schema)


def _failures(report) -> set[tuple[str, str]]:
    return {(f.name, f.column) for f in report.failures()}


def _replaced(table: pa.Table, column: str, values: list) -> pa.Table:
    index = table.schema.get_field_index(column)
    return table.set_column(index, table.schema.field(column), pa.array(values, table.schema.field(column).type))


def test_augmented_sets_pass_their_contract(users, items, tmp_path):
    for set_name, table in (("user_features", users), ("item_features", items)):
        # As the publisher validates: the version read back from Parquet.
        pq.write_table(table, tmp_path / f"{set_name}.parquet")
        report = _validate(set_name, pq.read_table(tmp_path / f"{set_name}.parquet"))
        assert report.passed, report.failures()
        names = {r.name for r in report.results}
        assert {"embedding_shape", "embeddings_finite", "factor_mask_matches_profiles"} <= names


def test_a_mask_that_disagrees_with_the_phrases_fails(users):
    bad = _replaced(users, "factor_mask", [[False, False], [True, True], [False, False]])
    failures = _failures(_validate("user_features", bad))
    assert failures == {
        ("factor_mask_matches_profiles", "factor_mask"),
        ("masked_factor_embeddings_are_zero", "factor_embeddings"),
    }


def test_non_finite_or_unmasked_vectors_fail(users):
    vectors = as_numpy(users["factor_embeddings"]).copy()
    vectors[0, 0, 0] = np.nan
    nan_table = _replaced(users, "factor_embeddings", vectors.tolist())
    assert ("embeddings_finite", "factor_embeddings") in _failures(_validate("user_features", nan_table))
    vectors = as_numpy(users["factor_embeddings"]).copy()
    vectors[2, 1, 3] = 0.25  # a vector where the mask says the factor is empty
    report = _validate("user_features", _replaced(users, "factor_embeddings", vectors.tolist()))
    (failure,) = report.failures()
    assert (failure.name, failure.unexpected_count) == ("masked_factor_embeddings_are_zero", 1)
    assert failure.sample_rows[0]["user_idx"] == 2 and "factor_embeddings" not in failure.sample_rows[0]


def test_a_wrong_dimension_fails_the_shape_check(users):
    report = validate_table(
        "user_features", users, _id_maps(), None, schema=published_schema("user_features", FACTORS, 8)
    )
    assert ("embedding_shape", "factor_embeddings") in _failures(report)


@pytest.mark.parametrize(
    "style",
    [[[], ["a", "b", "c", "d", "e", "f"], []], [[], ["x" * 33, "compact"], []], [[], ["", "compact"], []]],
    ids=["six phrases", "a phrase too long", "an empty phrase"],
)
def test_long_phrase_lists_or_phrases_fail(users, style):
    report = _validate("user_features", _replaced(users, "profile_style", style))
    (failure,) = report.failures()
    assert (failure.name, failure.unexpected_count) == ("profile_phrases_are_short", 1)
    assert failure.sample_rows[0]["user_idx"] == 1


def test_knowledge_vectors_follow_the_flag(items):
    bad = _replaced(items, "has_knowledge", [True, False, True])
    assert _failures(_validate("item_features", bad)) == {("knowledge_embedding_matches_flag", "knowledge_embedding")}


def test_beyond_log_items_must_be_outside_the_sequence_and_in_id_maps():
    sequences = pa.Table.from_pylist(
        [
            {"user_idx": 0, "item_idx": [0, 1], "ts": [T0, T0], "beyond_log_item_idx": [2]},
            {"user_idx": 1, "item_idx": [0], "ts": [T0], "beyond_log_item_idx": [0, 9]},
        ],
        schema=AUGMENTED_USER_SEQUENCES,
    )
    assert _failures(_validate("user_sequences", sequences)) == {
        ("beyond_log_items_outside_history", "beyond_log_item_idx"),
        ("ids_present_in_id_maps", "beyond_log_item_idx"),
    }


# --- who is prompted -----------------------------------------------------------------------


def _review(user_idx: int, item_idx: int, text: str) -> dict:
    return {"user_idx": user_idx, "item_idx": item_idx, "rating": 4.0, "ts": T0, "summary": "ok", "review_text": text}


def _entities(df) -> list[int]:
    return [row["entity_idx"] for row in df.collect()]


def test_the_most_reviewed_entities_are_profiled_first(spark):
    bundles = _spark_table(
        spark,
        pa.Table.from_pylist(
            [
                {"entity_kind": "user", "entity_idx": 3, "reviews": [_review(3, 0, "a")], "n_reviews_total": 1},
                {"entity_kind": "user", "entity_idx": 1, "reviews": [_review(1, 0, "b")], "n_reviews_total": 5},
                {"entity_kind": "user", "entity_idx": 0, "reviews": [_review(0, 0, "c")], "n_reviews_total": 1},
                {"entity_kind": "item", "entity_idx": 0, "reviews": [_review(3, 0, "a")], "n_reviews_total": 9},
            ],
            schema=REVIEW_BUNDLES,
        ),
    )
    assert _entities(most_reviewed(bundles, "user", 2)) == [1, 0]
    assert _entities(most_reviewed(bundles, "user", None)) == [1, 0, 3]
    assert most_reviewed(bundles, "user", 0).count() == 0
    assert _entities(most_reviewed(bundles, "item", 5)) == [0]


def test_max_review_tokens_trims_the_reviews_of_a_prompt(spark):
    task = profile_task(resolve_factor_set(), "user")
    reviews = [_review(0, i, "word " * 150) for i in range(20)]
    bundles = _spark_table(
        spark,
        pa.Table.from_pylist(
            [{"entity_kind": "user", "entity_idx": 0, "reviews": reviews, "n_reviews_total": 20}], schema=REVIEW_BUNDLES
        ),
    )

    def prompt(budget: ReviewBudget) -> dict:
        (row,) = profile_prompt_rows(bundles, "user", None, ReviewPacking(**review_packing(task, budget))).collect()
        return row.asDict()

    full, capped = prompt(ReviewBudget()), prompt(ReviewBudget(max_review_tokens=600))
    assert len(capped["review"]) < len(full["review"]) and capped["review"] == full["review"][: len(capped["review"])]
    with pytest.raises(ValueError, match="max_review_tokens 100"):
        review_packing(task, ReviewBudget(max_review_tokens=100))


def _spark_table(spark, table: pa.Table):
    return spark.createDataFrame(table)


def _users(df) -> list[int]:
    return [row["user_idx"] for row in df.collect()]


def test_interest_users_have_known_recent_items_and_room_for_beyond_log_ones(spark):
    sequences = _spark_table(
        spark,
        pa.Table.from_pylist(
            [
                {"user_idx": 0, "item_idx": [5, 6], "ts": [T0, T0]},  # no item with knowledge
                {"user_idx": 1, "item_idx": [1, 5], "ts": [T0, T0]},  # one, three known items left
                {"user_idx": 2, "item_idx": [1, 2], "ts": [T0, T0]},  # two, two left
                {"user_idx": 3, "item_idx": [1, 2, 3, 4], "ts": [T0] * 4},  # every known item: nothing to map to
                {"user_idx": 4, "item_idx": [], "ts": []},
                {"user_idx": 5, "item_idx": [7, 2], "ts": [T0, T0]},  # as user 1, so after it
            ],
            schema=USER_SEQUENCES,
        ),
    )
    known = spark.createDataFrame([(i,) for i in [1, 2, 3, 4]], "item_idx int")
    assert _users(interest_users(sequences, known, 10, 4, None)) == [1, 5, 2, 0]
    assert _users(interest_users(sequences, known, 10, 4, 2)) == [1, 5]
    # Wanting only two beyond-log items, room beyond two does not count: the most covered first.
    assert _users(interest_users(sequences, known, 10, 2, None)) == [2, 1, 5, 0]
    # Only the last `history_length` items are shown: user 1's known item falls out of its prompt.
    assert _users(interest_users(sequences, known, 1, 4, None)) == [5, 2, 0, 1]
    assert _users(interest_users(sequences, known.limit(0), 10, 4, None)) == []
