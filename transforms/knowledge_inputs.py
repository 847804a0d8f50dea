"""Who and what the ReFORM and ReaSeq jobs prompt about, and the item text the ReaSeq agents read.

Every selection is deterministic (an order with the index as tie-break, then the first N), so a
rerun on the same features renders the same prompts and the LLM cache answers them. A limit of
None keeps every row, 0 none.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.cleaning import deduplicate_items

#: Spark's type of the analyst rows' review list.
_REVIEWS_TYPE = "array<string>"


def first_rows(table: pa.Table, sort_keys: list[tuple[str, str]], limit: int | None) -> pa.Table:
    """The first `limit` rows of `table` in `sort_keys` order (all of them for None)."""
    ordered = table.take(pc.sort_indices(table, sort_keys=sort_keys))
    return ordered if limit is None else ordered.slice(0, limit)


def most_reviewed(bundles: pa.Table, entity_kind: str, limit: int | None) -> pa.Table:
    """`review_bundles` rows of one entity kind, the entities with the most usable reviews first."""
    of_kind = bundles.filter(pc.equal(bundles["entity_kind"], entity_kind))
    return first_rows(of_kind, [("n_reviews_total", "descending"), ("entity_idx", "ascending")], limit)


def interest_users(
    user_sequences: pa.Table,
    knowledge_items: pa.Array | pa.ChunkedArray,
    history_length: int,
    wanted: int,
    limit: int | None,
) -> pa.Array:
    """user_idx of the users whose interests beyond the logs are inferred, in order.

    Only users with an item with knowledge outside their sequence qualify (else no item could be
    mapped to). First those whose last `history_length` items include one with knowledge (their
    prompt carries knowledge), then the most items with knowledge outside the sequence, counted up
    to `wanted` (the items their interests ask for), then the most items with knowledge among the
    last ones, the longest sequence, the smallest index. With every item known (no cap on the
    knowledge) this is: most known recent items, then longest sequences.

    `user_sequences`: user_idx, item_idx (list, oldest first); `knowledge_items`: item_idx of the
    items with knowledge."""
    known = set(knowledge_items.to_pylist())
    ranked = []
    for user_idx, items in zip(user_sequences["user_idx"].to_pylist(), user_sequences["item_idx"].to_pylist()):
        outside = len(known.difference(items or ()))
        if items and outside:
            covered = len(known.intersection(items[-history_length:]))
            ranked.append((covered == 0, -min(outside, wanted), -covered, -len(items), user_idx))
    chosen = [user_idx for *_, user_idx in sorted(ranked)]
    return pa.array(chosen if limit is None else chosen[:limit], pa.int32())


def knowledge_item_inputs(
    item_features: DataFrame, raw_items: DataFrame, review_bundles: DataFrame, limit: int | None
) -> DataFrame:
    """The ReaSeq analyst's items, the most popular first: item_features' item_idx, title, category
    and price, the catalog description (raw/items; null when the catalog has none) and the texts of
    the item's review bundle in bundle order, each "summary: text"."""
    chosen = item_features.select("item_idx", "item_id", "title", "category", "price", "popularity").orderBy(
        F.col("popularity").desc(), F.col("item_idx")
    )
    if limit is not None:
        chosen = chosen.limit(limit)
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
