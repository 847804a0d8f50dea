"""Per-user interaction sequences for sequential recommenders.

For every user with train rows: the last `max_len` train interactions in (ts, item_idx) order,
oldest first, as parallel item_idx and ts lists.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from schemas.tables import USER_SEQUENCES
from transforms.tables import conform


def user_sequences(train: DataFrame, max_len: int) -> DataFrame:
    newest_first = Window.partitionBy("user_idx").orderBy(F.col("ts").desc(), F.col("item_idx").desc())
    recent = train.withColumn("_rn", F.row_number().over(newest_first)).filter(F.col("_rn") <= max_len)
    events = F.array_sort(F.collect_list(F.struct("ts", "item_idx")))
    sequences = recent.groupBy("user_idx").agg(events.alias("_events")).select(
        "user_idx",
        F.col("_events.item_idx").alias("item_idx"),
        F.col("_events.ts").alias("ts"),
    )
    return conform(sequences, USER_SEQUENCES)
