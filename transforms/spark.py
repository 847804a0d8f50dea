"""SparkSession construction: local by default, any master or a Spark Connect URL by config."""

from __future__ import annotations

from pyspark.sql import SparkSession

# Small-machine defaults; a cluster config overrides them.
DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
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
    builder = SparkSession.builder.appName(app_name)
    builder = builder.remote(remote) if remote else builder.master(master)
    for key, value in {**DEFAULT_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
