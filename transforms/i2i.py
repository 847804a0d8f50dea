"""Item-to-item neighbours by Swing and by co-occurrence.

Capping (bounds the quadratic parts): each user keeps their `max_items_per_user` most recent
train interactions (latest in (ts, item_idx) order), then each item keeps its
`max_users_per_item` most recent users (latest in (ts, user_idx) order). With E the capped
(user, item) pairs, U_i the users of item i in E and I_u the items of user u in E:

- cooccurrence(i, j) = |U_i ∩ U_j|
- swing(i, j) = sum over user pairs {u, v} ⊆ U_i ∩ U_j, u != v, of 1 / (alpha + |I_u ∩ I_v|)
  (Yang et al., "Large Scale Product Graph Construction for Recommendation in E-commerce", 2020).

Both start from the item pairs of each user: the self-join of E on user, (u, i, j) with i < j.
Co-occurrence counts them per (i, j). Swing never enumerates user pairs that share only one item
(a self-join of E on item would: about 137M user pairs at 10M interactions and over a billion at
100M, of which a few percent share two or more items and count). Instead it keeps the item pairs
that at least two users share and self-joins those on (i, j): that yields each user pair {u, v}
once per pair of its common items, i.e. C(c, 2) times for c = |I_u ∩ I_v|, and only when c >= 2
(about 1M rows at 10M interactions). Counting those rows per user pair gives C(c, 2), hence c and
the weight 1 / (alpha + c). Scores are computed for i < j and mirrored to (j, i).

Per method and item, the `top_k` neighbours by score (ties by neighbor_idx asc) get rank 1..top_k.
Swing scores are rounded to 12 decimals so equal sums rank the same whatever the summation order.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from schemas.tables import I2I_PAIRS
from transforms.config import I2IConfig
from transforms.tables import conform

# Rounding makes Swing ranks independent of the (partition-dependent) float summation order.
_SCORE_DECIMALS = 12


def _most_recent(df: DataFrame, key: str, other: str, n: int) -> DataFrame:
    window = Window.partitionBy(key).orderBy(F.col("ts").desc(), F.col(other).desc())
    return df.withColumn("_rn", F.row_number().over(window)).filter(F.col("_rn") <= n).drop("_rn")


def capped_pairs(train: DataFrame, cfg: I2IConfig) -> DataFrame:
    """The capped (user_idx, item_idx) pairs E."""
    pairs = train.groupBy("user_idx", "item_idx").agg(F.max("ts").alias("ts"))
    per_user = _most_recent(pairs, "user_idx", "item_idx", cfg.max_items_per_user)
    return _most_recent(per_user, "item_idx", "user_idx", cfg.max_users_per_item).select("user_idx", "item_idx")


def _item_pairs(edges: DataFrame) -> DataFrame:
    """(user_idx, item_idx, neighbor_idx) for each user and pair of their items, item_idx < neighbor_idx."""
    left = edges.select("user_idx", "item_idx")
    right = edges.select("user_idx", F.col("item_idx").alias("neighbor_idx"))
    return left.join(right, "user_idx").filter(F.col("item_idx") < F.col("neighbor_idx"))


def _mirrored(scores: DataFrame) -> DataFrame:
    """Scores of pairs with item_idx < neighbor_idx, plus the same scores for the swapped pairs."""
    swapped = scores.select(
        F.col("neighbor_idx").alias("item_idx"), F.col("item_idx").alias("neighbor_idx"), "score"
    )
    return scores.unionByName(swapped)


def cooccurrence_scores(edges: DataFrame) -> DataFrame:
    counts = _item_pairs(edges).groupBy("item_idx", "neighbor_idx").agg(F.count(F.lit(1)).cast("double").alias("score"))
    return _mirrored(counts)


def swing_scores(edges: DataFrame, alpha: float) -> DataFrame:
    by_item_pair = Window.partitionBy("item_idx", "neighbor_idx")
    shared = (
        _item_pairs(edges)
        .withColumn("_users", F.count(F.lit(1)).over(by_item_pair))
        .filter(F.col("_users") >= 2)
    )
    left = shared.select("item_idx", "neighbor_idx", F.col("user_idx").alias("u"))
    right = shared.select("item_idx", "neighbor_idx", F.col("user_idx").alias("v"))
    user_pairs = left.join(right, ["item_idx", "neighbor_idx"]).filter(F.col("u") < F.col("v"))
    # A user pair with c common items has C(c, 2) = c (c - 1) / 2 rows here.
    common_pairs = F.count(F.lit(1)).over(Window.partitionBy("u", "v"))
    common = F.round((1 + F.sqrt(1 + 8 * common_pairs)) / 2)
    weighted = user_pairs.select("item_idx", "neighbor_idx", (1.0 / (common + alpha)).alias("weight"))
    sums = weighted.groupBy("item_idx", "neighbor_idx").agg(F.round(F.sum("weight"), _SCORE_DECIMALS).alias("score"))
    return _mirrored(sums)


def _top_k(scores: DataFrame, method: str, top_k: int) -> DataFrame:
    window = Window.partitionBy("item_idx").orderBy(F.col("score").desc(), F.col("neighbor_idx"))
    return (
        scores.withColumn("rank", F.row_number().over(window))
        .filter(F.col("rank") <= top_k)
        .withColumn("method", F.lit(method))
    )


def i2i_pairs(train: DataFrame, cfg: I2IConfig) -> DataFrame:
    edges = capped_pairs(train, cfg)
    swing = _top_k(swing_scores(edges, cfg.swing_alpha), "swing", cfg.top_k)
    cooccurrence = _top_k(cooccurrence_scores(edges), "cooccurrence", cfg.top_k)
    return conform(swing.unionByName(cooccurrence), I2I_PAIRS)
