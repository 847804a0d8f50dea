"""SparkSession construction: local by default, any master or a Spark Connect URL by config."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

# Small-machine defaults; a cluster config overrides them.
DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    # Shuffles start with 200 partitions and adaptive execution merges the small ones, so the
    # partition count follows the data. A fixed 8 made every sort of a 100M-row shuffle spill
    # (12.5M rows per task against ~1 GB of execution memory: 4-9 GB spilled per stage,
    # benchmarks/results/scale.json) while small inputs got 8 tiny tasks anyway.
    "spark.sql.shuffle.partitions": "200",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "4g",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


def build_spark_session(
    master: str = "local[*]",
    remote: str | None = None,
    conf: dict[str, str] | None = None,
    app_name: str = "recaug",
) -> SparkSession:
    # Python workers (the SFT export renders its records in them) run this interpreter, whose
    # environment has recaug and pyarrow, unless PYSPARK_PYTHON names another.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    builder = builder.remote(remote) if remote else builder.master(master)
    for key, value in {**DEFAULT_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
