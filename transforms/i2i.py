"""Item-to-item neighbours by Swing and by co-occurrence.

Capping (bounds the quadratic parts): each user keeps their `max_items_per_user` most recent
train interactions (latest in (ts, item_idx) order), then each item keeps its
`max_users_per_item` most recent users (latest in (ts, user_idx) order). With E the capped
(user, item) pairs, U_i the users of item i in E and I_u the items of user u in E:

- cooccurrence(i, j) = |U_i ∩ U_j|
- swing(i, j) = sum over user pairs {u, v} ⊆ U_i ∩ U_j, u != v, of 1 / (alpha + |I_u ∩ I_v|)
  (Yang et al., "Large Scale Product Graph Construction for Recommendation in E-commerce", 2020).

Swing is computed without collecting to the driver: a self-join of E on item gives every user
pair with its common items I_u ∩ I_v (pairs with fewer than two common items add nothing), and
every ordered pair of distinct items inside that common list receives the pair's weight.

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


def cooccurrence_scores(edges: DataFrame) -> DataFrame:
    left = edges.select("user_idx", "item_idx")
    right = edges.select("user_idx", F.col("item_idx").alias("neighbor_idx"))
    joined = left.join(right, "user_idx").filter(F.col("item_idx") != F.col("neighbor_idx"))
    return joined.groupBy("item_idx", "neighbor_idx").agg(F.count(F.lit(1)).cast("double").alias("score"))


def swing_scores(edges: DataFrame, alpha: float) -> DataFrame:
    left = edges.select(F.col("user_idx").alias("u"), "item_idx")
    right = edges.select(F.col("user_idx").alias("v"), "item_idx")
    user_pairs = (
        left.join(right, "item_idx")
        .filter(F.col("u") < F.col("v"))
        .groupBy("u", "v")
        .agg(F.collect_list("item_idx").alias("common"))
        .filter(F.size("common") >= 2)
        .select("common", (1.0 / (F.size("common") + alpha)).alias("weight"))
    )
    item_pairs = user_pairs.select(
        F.explode("common").alias("item_idx"), "common", "weight"
    ).select("item_idx", F.explode("common").alias("neighbor_idx"), "weight")
    return (
        item_pairs.filter(F.col("item_idx") != F.col("neighbor_idx"))
        .groupBy("item_idx", "neighbor_idx")
        .agg(F.round(F.sum("weight"), _SCORE_DECIMALS).alias("score"))
    )


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
