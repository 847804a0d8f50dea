"""Per-user and per-item bundles of reviews, the inputs of profile-building LLM tasks.

Usable reviews: text with at least one non-whitespace character, one per (user, item) -- the latest ts, ties by
(source_file, source_line) -- and only where (user, item) is a train interaction, so no review
of a valid/test interaction leaks into features.

For each user and each item with at least one usable review, a bundle holds up to `max_reviews`
of them: the first ones ordered by xxhash64(seed, user_idx, item_idx) (ties by user_idx,
item_idx), a deterministic sample that a different seed reshuffles. n_reviews_total is the
number of usable reviews before sampling.

The choosing (deduplication, indexing, the train filter, sampling) runs on keys only: each usable
review is named by its raw row, (source_file, source_line), and the texts are joined to the
sampled rows at the end. Review texts are most of the bytes; carried through every shuffle they
made review_bundles the slowest feature job (at 100M interactions, about 20 GB per shuffle).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from schemas.tables import REVIEW_BUNDLES
from transforms.cleaning import first_per_key
from transforms.id_maps import with_indices
from transforms.tables import conform

_REVIEW_FIELDS = ["user_idx", "item_idx", "rating", "ts", "summary", "review_text"]
# The provenance columns of the raw tables: together they name one raw row.
_RAW_ROW = ["source_file", "source_line"]


def usable_review_keys(reviews: DataFrame, id_maps: DataFrame, train: DataFrame) -> DataFrame:
    """The usable reviews as (user_idx, item_idx, ts, source_file, source_line), one per train pair."""
    with_text = reviews.filter(F.col("review_text").rlike(r"\S")).select("user_id", "item_id", "ts", *_RAW_ROW)
    latest = first_per_key(with_text, ["user_id", "item_id"], [F.col("ts").desc(), *map(F.col, _RAW_ROW)])
    indexed = with_indices(latest, id_maps)
    return indexed.join(train.select("user_idx", "item_idx").distinct(), ["user_idx", "item_idx"], "left_semi")


def _bundles(keys: DataFrame, texts: DataFrame, kind: str, max_reviews: int) -> DataFrame:
    key = f"{kind}_idx"
    by_entity = Window.partitionBy(key)
    sampled = (
        keys.withColumn("_n_total", F.count(F.lit(1)).over(by_entity))
        .withColumn("_rn", F.row_number().over(by_entity.orderBy("_h", "user_idx", "item_idx")))
        .filter(F.col("_rn") <= max_reviews)
        .join(texts, _RAW_ROW)
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
    keys = usable_review_keys(reviews, id_maps, train).withColumn(
        "_h", F.xxhash64(F.lit(seed), "user_idx", "item_idx")
    )
    texts = reviews.select(*_RAW_ROW, "rating", "summary", "review_text")
    bundles = _bundles(keys, texts, "user", max_reviews).unionByName(_bundles(keys, texts, "item", max_reviews))
    return conform(bundles, REVIEW_BUNDLES)
