"""Per-user features from training interactions only.

One row for every user in `id_maps`. history_len counts train interactions; is_cold means
history_len <= cold_max_history. rating_mean / rating_std (sample standard deviation, null with
fewer than two ratings) ignore missing ratings. first_ts / last_ts / activity_span_days
((last_ts - first_ts) in days) are null for a user without train rows.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas.tables import USER_FEATURES
from transforms.id_maps import id_map
from transforms.tables import conform


def user_features(train: DataFrame, id_maps: DataFrame, cold_max_history: int) -> DataFrame:
    stats = train.groupBy("user_idx").agg(
        F.count(F.lit(1)).alias("n"),
        F.avg("rating").alias("rating_mean"),
        F.stddev_samp("rating").alias("rating_std"),
        F.min("ts").alias("first_ts"),
        F.max("ts").alias("last_ts"),
    )
    history_len = F.coalesce(F.col("n"), F.lit(0))
    span_seconds = F.col("last_ts").cast("long") - F.col("first_ts").cast("long")
    features = (
        id_map(id_maps, "user")
        .join(stats, "user_idx", "left")
        .withColumn("history_len", history_len)
        .withColumn("is_cold", history_len <= cold_max_history)
        .withColumn("activity_span_days", span_seconds / 86_400.0)
    )
    return conform(features, USER_FEATURES)
