"""Per-item features from training interactions, reviews and the deduplicated catalog.

One row for every item in `id_maps`.
- popularity: number of train interactions.
- is_long_tail: the item is among the first floor(q * n_items) items when all items are ordered
  by (popularity asc, item_id asc); the raw-id tie-break makes the cut exact and deterministic.
- rating_mean / rating_count: over train interactions that have a rating.
- review_count: usable reviews of the item (see `transforms.review_bundles.usable_review_keys`).
- has_metadata: the item is in the catalog; otherwise title is the raw item id
  (title_is_fallback True) and category is "unknown". price is null when unknown.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from schemas.tables import ITEM_FEATURES
from transforms.id_maps import id_map
from transforms.review_bundles import usable_review_keys
from transforms.tables import conform


def item_features(
    train: DataFrame, id_maps: DataFrame, items: DataFrame, reviews: DataFrame, long_tail_quantile: float
) -> DataFrame:
    stats = train.groupBy("item_idx").agg(
        F.count(F.lit(1)).alias("popularity"),
        F.avg("rating").alias("rating_mean"),
        F.count("rating").alias("rating_count"),
    )
    review_counts = usable_review_keys(reviews, id_maps, train).groupBy("item_idx").agg(F.count(F.lit(1)).alias("review_count"))
    catalog = items.select(
        "item_id", "title", "title_is_fallback", "category", "price", F.lit(True).alias("has_metadata")
    )
    features = (
        id_map(id_maps, "item")
        .join(stats, "item_idx", "left")
        .join(review_counts, "item_idx", "left")
        .join(catalog, "item_id", "left")
        .fillna(0, ["popularity", "rating_count", "review_count"])
        .fillna(False, ["has_metadata"])
        .withColumn("title_is_fallback", F.coalesce("title_is_fallback", F.lit(True)))
        .withColumn("title", F.coalesce("title", "item_id"))
        .withColumn("category", F.coalesce("category", F.lit("unknown")))
    )
    return conform(features.withColumn("is_long_tail", in_bottom_quantile(long_tail_quantile)), ITEM_FEATURES)


def in_bottom_quantile(quantile: float) -> Column:
    """Whether an item is among the first floor(quantile * n_items) in (popularity, item_id) order."""
    # A global ranking: one partition holds all items, which is fine for catalog-sized inputs.
    everything = Window.partitionBy(F.lit(0))
    rank = F.row_number().over(everything.orderBy("popularity", "item_id"))
    return rank <= F.floor(F.count(F.lit(1)).over(everything) * quantile)
