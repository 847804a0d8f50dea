"""Who and what the ReFORM and ReaSeq jobs prompt about, and the text their prompts carry, as the
jobs' input rows.

Every selection is deterministic (an order with the index as tie-break, then the first N), so a
rerun on the same features renders the same prompts and the LLM cache answers them. A limit of
None keeps every row, 0 none. The caps and budgets are the tasks' own (llm_jobs.tasks), passed in
as plain numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.cleaning import deduplicate_items
from transforms.prompt_inputs import collapsed, stripped

#: Spark's type of the analyst rows' review list.
_REVIEWS_TYPE = "array<string>"


def _first(df: DataFrame, order: list[Column], limit: int | None) -> DataFrame:
    ordered = df.orderBy(*order)
    return ordered if limit is None else ordered.limit(limit)


# --- ReFORM -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewPacking:
    """How a profile prompt's reviews are counted against its token budget: a review of n characters
    at position p (1-based) takes int((block_chars + digit_chars * len(str(p)) + min(n, review_chars))
    / chars_per_token) + 1 tokens (llm_jobs.tasks.reform.review_packing)."""

    token_budget: int
    chars_per_token: float
    review_chars: int
    block_chars: int
    digit_chars: int


def most_reviewed(bundles: DataFrame, entity_kind: str, limit: int | None) -> DataFrame:
    """`review_bundles` rows of one entity kind, the entities with the most usable reviews first."""
    of_kind = bundles.where(F.col("entity_kind") == entity_kind)
    return _first(of_kind, [F.col("n_reviews_total").desc(), F.col("entity_idx")], limit)


def _review_text(review: Column) -> Column:
    """One review as the prompt shows it: "<rating>/5 stars." (the rating as Python's `:g` writes
    a rating of up to 6 decimals), the summary, the text, one a line; "" when it has no words."""
    words = F.filter(F.array(stripped(review["summary"]), stripped(review["review_text"])), lambda w: w != "")
    rating = F.regexp_replace(F.format_string("%.6f", review["rating"].cast("double")), r"\.?0+$", "")
    stars = F.when(review["rating"].isNotNull(), F.concat(rating, F.lit("/5 stars.")))
    return F.when(F.size(words) == 0, F.lit("")).otherwise(F.concat_ws("\n", stars, words))


def profile_prompt_rows(bundles: DataFrame, entity_kind: str, limit: int | None, packing: ReviewPacking) -> DataFrame:
    """The ReFORM profile prompts (entity_idx, review) of the `limit` entities of `entity_kind` with
    the most reviews (`most_reviewed`), by entity_idx: each entity's review texts in their upstream
    order, the longest prefix that fits `packing.token_budget`. Entities without review text get no
    row (and so no profile).

    The estimate counts a review's own characters; the prompt's guard (defused markers, instruction
    sentences left out) changes only hostile texts, by a few characters, within the margin the
    budget keeps."""
    texts = F.filter(F.transform("reviews", _review_text), lambda text: text != "")
    chosen = most_reviewed(bundles, entity_kind, limit).select("entity_idx", texts.alias("_texts"))

    def tokens(text: Column, position: Column) -> Column:
        label_chars = packing.block_chars + packing.digit_chars * F.length((position + 1).cast("string"))
        chars = label_chars + F.least(F.length(text), F.lit(packing.review_chars))
        return F.floor(chars / F.lit(packing.chars_per_token)).cast("long") + 1

    used = F.transform(
        F.col("_tokens"),
        lambda _, i: F.aggregate(F.slice(F.col("_tokens"), 1, i + 1), F.lit(0).cast("long"), lambda a, b: a + b),
    )
    return (
        chosen.where(F.size("_texts") > 0)
        .withColumn("_tokens", F.transform("_texts", tokens))
        .withColumn("_used", used)
        .select(
            "entity_idx",
            F.filter("_texts", lambda _, i: F.col("_used")[i] <= packing.token_budget).alias("review"),
        )
        .orderBy("entity_idx")
    )


# --- ReaSeq item agents -------------------------------------------------------------------------


def knowledge_item_inputs(
    item_features: DataFrame, raw_items: DataFrame, review_bundles: DataFrame, limit: int | None
) -> DataFrame:
    """The ReaSeq analyst's items, the most popular first: item_features' item_idx, title, category
    and price, the catalog description (raw/items; null when the catalog has none) and the texts of
    the item's review bundle in bundle order, each "summary: text"."""
    chosen = _first(
        item_features.select("item_idx", "item_id", "title", "category", "price", "popularity"),
        [F.col("popularity").desc(), F.col("item_idx")],
        limit,
    )
    descriptions = deduplicate_items(raw_items).select("item_id", "description")

    def review_text(review):
        summary = F.when(F.length(F.trim(review["summary"])) > 0, F.trim(review["summary"]))
        return F.concat_ws(": ", summary, F.trim(review["review_text"]))

    reviews = review_bundles.where(F.col("entity_kind") == "item").select(
        F.col("entity_idx").alias("item_idx"), F.transform("reviews", review_text).alias("reviews")
    )
    return (
        chosen.join(descriptions, "item_id", "left")
        .join(reviews, "item_idx", "left")
        .select(
            "item_idx",
            "title",
            "category",
            "price",
            "description",
            F.coalesce("reviews", F.array().cast(_REVIEWS_TYPE)).alias("reviews"),
        )
        .orderBy("item_idx")
    )


def analyst_rows(items: DataFrame, text_chars: Mapping[str, int], review_chars: int, max_reviews: int) -> DataFrame:
    """The analyst's input rows (llm_jobs.tasks.reaseq_agents.ANALYST_ROWS) of `knowledge_item_inputs`:
    each text of `text_chars` (column -> cap) and each review with its whitespace collapsed and
    capped, the first `max_reviews` non-empty reviews, and the price with its text ("unknown", the
    price null, when it is missing or not finite; else 2 decimals)."""
    known = F.col("price").isNotNull() & ~F.isnan("price") & (F.abs("price") != F.lit(float("inf")))
    reviews = F.filter(F.transform("reviews", lambda review: collapsed(review, review_chars)), lambda r: r != "")
    return items.select(
        "item_idx",
        *(collapsed(F.col(column), cap).alias(column) for column, cap in text_chars.items()),
        F.when(known, F.col("price")).alias("price"),
        F.when(known, F.format_string("%.2f", "price")).otherwise(F.lit("unknown")).alias("price_text"),
        F.slice(F.coalesce(reviews, F.array().cast(_REVIEWS_TYPE)), 1, max_reviews).alias("reviews"),
    ).orderBy("item_idx")


# --- ReaSeq user interests ----------------------------------------------------------------------


def _last(items: Column, n: int) -> Column:
    return F.slice(items, F.greatest(F.size(items) - n + 1, F.lit(1)), n)


def interest_users(
    user_sequences: DataFrame, knowledge_items: DataFrame, history_length: int, wanted: int, limit: int | None
) -> DataFrame:
    """user_idx of the users whose interests beyond the logs are inferred, in order.

    Only users with an item with knowledge outside their sequence qualify (else no item could be
    mapped to). First those whose last `history_length` items include one with knowledge (their
    prompt carries knowledge), then the most items with knowledge outside the sequence, counted up
    to `wanted` (the items their interests ask for), then the most items with knowledge among the
    last ones, the longest sequence, the smallest index. With every item known (no cap on the
    knowledge) this is: most known recent items, then longest sequences.

    `user_sequences`: user_idx, item_idx (list, oldest first); `knowledge_items`: item_idx of the
    items with knowledge (the capped knowledge table: one row, broadcast)."""
    known = knowledge_items.agg(F.collect_set("item_idx").alias("_known"))
    ranked = (
        user_sequences.where(F.size("item_idx") > 0)
        .crossJoin(F.broadcast(known))
        .select(
            "user_idx",
            (F.size("_known") - F.size(F.array_intersect("item_idx", "_known"))).alias("_outside"),
            F.size(F.array_intersect(_last(F.col("item_idx"), history_length), "_known")).alias("_covered"),
            F.size("item_idx").alias("_length"),
        )
        .where(F.col("_outside") > 0)
    )
    order = [
        (F.col("_covered") == 0).asc(),
        F.least("_outside", F.lit(wanted)).desc(),
        F.col("_covered").desc(),
        F.col("_length").desc(),
        F.col("user_idx"),
    ]
    return _first(ranked, order, limit).select("user_idx")


def interest_prompt_rows(
    user_sequences: DataFrame,
    users: DataFrame,
    item_features: DataFrame,
    item_knowledge: DataFrame,
    history_length: int,
) -> DataFrame:
    """The interest task's input rows (user_idx, history) of `users` (user_idx), by user_idx: the
    last `history_length` items of each user's sequence as `{"id": item_idx, "text": "title: summary"}`
    (the title alone for an item without knowledge).

    `user_sequences`: user_idx, item_idx (list, oldest first); `item_features`: item_idx, title;
    `item_knowledge`: item_idx, summary."""
    recent = user_sequences.join(users, "user_idx").select(
        "user_idx", F.posexplode(_last(F.col("item_idx"), history_length)).alias("_position", "item_idx")
    )
    summaries = item_knowledge.select("item_idx", "summary")
    described = recent.join(item_features.select("item_idx", "title"), "item_idx", "left").join(
        summaries, "item_idx", "left"
    )
    text = F.concat_ws(": ", *(F.when(F.length(c) > 0, F.col(c)) for c in ("title", "summary")))
    entry = F.struct("_position", F.struct(F.col("item_idx").alias("id"), text.alias("text")).alias("_item"))
    return (
        described.groupBy("user_idx")
        .agg(F.array_sort(F.collect_list(entry)).getField("_item").alias("history"))
        .orderBy("user_idx")
    )


def training_items(splits: DataFrame, users: DataFrame) -> DataFrame:
    """Per user of `users` (user_idx), the distinct items of its training interactions (user_idx, items)."""
    train = splits.where(F.col("split") == "train").select("user_idx", "item_idx")
    return train.join(users, "user_idx").groupBy("user_idx").agg(F.collect_set("item_idx").alias("items"))
