"""The ReFORM and ReaSeq prompt rows built with Spark (transforms.knowledge_inputs): the texts, caps
and budgets the tasks render, on small tables whose expected rows were those of the Python builders
the Spark jobs replaced."""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pytest

from llm_jobs.factor_sets import resolve_factor_set
from llm_jobs.tasks.reaseq_agents import ITEM_TEXT_CHARS, MAX_REVIEWS, REVIEW_CHARS, item_text
from llm_jobs.tasks.reform import ReviewBudget, profile_rows, profile_task, review_packing
from schemas.tables import REVIEW_BUNDLES, SPLITS
from transforms.knowledge_inputs import (
    ReviewPacking,
    analyst_rows,
    interest_prompt_rows,
    profile_prompt_rows,
    training_items,
)

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _review(user_idx, rating, summary, text) -> dict:
    return {"user_idx": user_idx, "item_idx": 0, "rating": rating, "ts": T0, "summary": summary, "review_text": text}


def _bundles() -> pa.Table:
    """Ratings missing and fractional, whitespace of every kind, reviews without words, long texts."""
    user_reviews = [
        _review(0, 5.0, " Great\u00a0", "Crisp sound.\n"),
        _review(0, None, None, "no rating"),
        _review(0, 4.5, "\t\n", " \u2003 "),
        _review(0, 1.0, "", "x" * 1200),
        *(_review(0, 3.0, f"summary {n}", "word " * (40 + n)) for n in range(12)),
    ]
    rows = [
        {"entity_kind": "user", "entity_idx": 0, "reviews": user_reviews, "n_reviews_total": 16},
        {"entity_kind": "user", "entity_idx": 1, "reviews": [_review(1, 2.0, " ", "\x1c")], "n_reviews_total": 1},
        {"entity_kind": "user", "entity_idx": 2, "reviews": [_review(2, 2.0, "Fine", "ok")], "n_reviews_total": 1},
        {"entity_kind": "item", "entity_idx": 0, "reviews": user_reviews[:3], "n_reviews_total": 3},
    ]
    return pa.Table.from_pylist(rows, schema=REVIEW_BUNDLES)


@pytest.mark.parametrize("kind", ["user", "item"])
@pytest.mark.parametrize(
    "budget",
    [ReviewBudget(), ReviewBudget(max_review_tokens=300), ReviewBudget(context_tokens=1200)],
    ids=["context", "capped", "small-context"],
)
def test_profile_prompts_trim_reviews_to_the_budget_as_the_python_rows_do(spark, kind, budget):
    task = profile_task(resolve_factor_set(), kind)
    bundles = _bundles()

    rows = profile_prompt_rows(
        spark.createDataFrame(bundles), kind, None, ReviewPacking(**review_packing(task, budget))
    )

    expected = profile_rows(bundles, task, budget)
    assert [row.asDict(recursive=True) for row in rows.collect()] == expected
    if kind == "user":  # user 1's only review has no words; user 0's 15 with words are trimmed in less room
        assert [row["entity_idx"] for row in expected] == [0, 2]
        assert len(expected[0]["review"]) == 15 if budget == ReviewBudget() else len(expected[0]["review"]) < 15
        assert expected[0]["review"][:2] == ["5/5 stars.\nGreat\nCrisp sound.", "no rating"]


ITEMS = pa.Table.from_pylist(
    [
        {
            "item_idx": 4,
            "title": "  Bon   Appetit ",
            "category": "Food",
            "price": 19.5,
            "description": None,
            "reviews": ["", "x" * 500, "good", "  ", "fine", "late"],
        },
        {"item_idx": 5, "title": "Kids", "category": "Books", "price": math.nan, "description": "d"},
    ]
)


def test_analyst_rows_cap_the_text_the_agents_and_checks_see(spark):
    rows = analyst_rows(spark.createDataFrame(ITEMS), ITEM_TEXT_CHARS, REVIEW_CHARS, MAX_REVIEWS)
    first, second = rows.toArrow().to_pylist()

    assert first["title"] == "Bon Appetit" and first["description"] == ""
    assert first["reviews"] == ["x" * REVIEW_CHARS, "good", "fine"] and len(first["reviews"]) == MAX_REVIEWS
    assert (first["price"], first["price_text"]) == (19.5, "19.50")
    assert (second["price"], second["price_text"], second["reviews"]) == (None, "unknown", [])
    assert item_text(second) == ["Kids", "Books", "d"]


def test_interest_rows_hold_the_last_items_with_their_summaries(spark):
    sequences = spark.createDataFrame([(0, [1, 2, 3]), (1, []), (2, [2])], "user_idx int, item_idx array<int>")
    features = spark.createDataFrame([(1, "A"), (2, "B"), (3, "C")], "item_idx int, title string")
    knowledge = spark.createDataFrame([(3, "about C")], "item_idx int, summary string")

    rows = interest_prompt_rows(sequences, sequences.select("user_idx"), features, knowledge, 2)

    assert rows.toArrow().to_pylist() == [
        {"user_idx": 0, "history": [{"id": 2, "text": "B"}, {"id": 3, "text": "C: about C"}]},
        {"user_idx": 2, "history": [{"id": 2, "text": "B"}]},
    ]


def test_training_items_are_the_training_rows_of_the_users_asked(spark):
    rows = [(1, 10, "train"), (1, 11, "valid"), (1, 12, "train"), (2, 10, "train"), (3, 13, "train")]
    columns = {"user_idx": [r[0] for r in rows], "item_idx": [r[1] for r in rows], "split": [r[2] for r in rows]}
    splits = spark.createDataFrame(pa.table(columns, schema=pa.schema([SPLITS.field(name) for name in columns])))
    users = spark.createDataFrame([(1,), (3,)], "user_idx int")

    items = {row["user_idx"]: set(row["items"]) for row in training_items(splits, users).collect()}

    assert items == {1: {10, 12}, 3: {13}}
