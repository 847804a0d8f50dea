"""Per-user and per-item bundles of reviews, the inputs of profile-building LLM tasks.

Usable reviews: text with at least one non-whitespace character, one per (user, item) -- the latest ts, ties by
(source_file, source_line) -- and only where (user, item) is a train interaction, so no review
of a valid/test interaction leaks into features.

For each user and each item with at least one usable review, a bundle holds up to `max_reviews`
of them: the first ones ordered by xxhash64(seed, user_idx, item_idx) (ties by user_idx,
item_idx), a deterministic sample that a different seed reshuffles. n_reviews_total is the
number of usable reviews before sampling.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from schemas.tables import REVIEW_BUNDLES
from transforms.cleaning import first_per_key
from transforms.id_maps import with_indices
from transforms.tables import conform

_REVIEW_FIELDS = ["user_idx", "item_idx", "rating", "ts", "summary", "review_text"]


def usable_reviews(reviews: DataFrame, id_maps: DataFrame, train: DataFrame) -> DataFrame:
    """Reviews as (user_idx, item_idx, rating, ts, summary, review_text), one per train pair."""
    with_text = reviews.filter(F.col("review_text").rlike(r"\S"))
    latest = first_per_key(
        with_text, ["user_id", "item_id"], [F.col("ts").desc(), F.col("source_file"), F.col("source_line")]
    )
    indexed = with_indices(latest, id_maps)
    return indexed.join(train.select("user_idx", "item_idx").distinct(), ["user_idx", "item_idx"], "left_semi").select(
        _REVIEW_FIELDS
    )


def _bundles(reviews: DataFrame, kind: str, max_reviews: int) -> DataFrame:
    key = f"{kind}_idx"
    by_entity = Window.partitionBy(key)
    sampled = (
        reviews.withColumn("_n_total", F.count(F.lit(1)).over(by_entity))
        .withColumn("_rn", F.row_number().over(by_entity.orderBy("_h", "user_idx", "item_idx")))
        .filter(F.col("_rn") <= max_reviews)
    )
    ordered = F.array_sort(F.collect_list(F.struct("_rn", F.struct(*_REVIEW_FIELDS).alias("review"))))
    return sampled.groupBy(key).agg(
        F.lit(kind).alias("entity_kind"),
        F.transform(ordered, lambda entry: entry["review"]).alias("reviews"),
        F.first("_n_total").alias("n_reviews_total"),
    ).withColumnRenamed(key, "entity_idx")


def review_bundles(
    reviews: DataFrame, id_maps: DataFrame, train: DataFrame, max_reviews: int, seed: int
) -> DataFrame:
    usable = usable_reviews(reviews, id_maps, train).withColumn(
        "_h", F.xxhash64(F.lit(seed), "user_idx", "item_idx")
    )
    bundles = _bundles(usable, "user", max_reviews).unionByName(_bundles(usable, "item", max_reviews))
    return conform(bundles, REVIEW_BUNDLES)
